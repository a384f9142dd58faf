// Package pipeline holds the stages of a run as plain functions over the
// adapters (pgtool, blob, crypt, verify, notify). It knows nothing of River,
// HTTP or lifeboat's own tables: results are returned, log lines go to the
// injected *slog.Logger, and internal/jobs persists both.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// BackupInput is what the backup stage needs.
type BackupInput struct {
	RunID       int64
	Target      string
	SourceURL   string
	RowCounts   string // verify.CountExact or verify.CountEstimate
	Storage     string // the storage's name, recorded on the artifact
	Store       blob.Store
	Recipients  []age.Recipient
	Now         time.Time
	Getenv      func(string) string
	Log         *slog.Logger
	ProgressLog time.Duration // how often to log bytes streamed; 0 = 10s
	// Copies are the other storages the backup is also written to (3-2-1),
	// teed from the same encrypted stream: the dump runs once.
	Copies []CopyStore
	// ProofCopy is the copy this run's restore reads (0: the primary, i:
	// Copies[i-1]); that restore checks its sha256. Every other copy is read
	// back here and counts only once it matched.
	ProofCopy int
	// LockTimeout bounds each wait of the source sessions for a table lock
	// (lock_timeout); 0 leaves the server's setting.
	LockTimeout time.Duration
}

// BackupResult is what the backup stage produced.
type BackupResult struct {
	Artifact lifeboat.Artifact
	Manifest blob.Manifest
	Metrics  BackupMetrics
}

// BackupMetrics are the backup stage's figures.
type BackupMetrics struct {
	RawBytes      int64   `json:"raw_bytes"`
	StoredBytes   int64   `json:"stored_bytes"`
	Seconds       float64 `json:"seconds"`
	RawMBPerSec   float64 `json:"raw_mb_per_sec"`
	Tables        int     `json:"tables"`
	Rows          int64   `json:"rows"`
	ServerVersion string  `json:"server_version"`
	PgDumpVersion string  `json:"pg_dump_version"`
}

// Backup streams pg_dump → zstd → age → sha256 → storage with no temp file,
// counting rows in the same snapshot, then writes the manifest. On any error
// nothing is left in storage: no object, no manifest.
func Backup(ctx context.Context, in BackupInput) (res BackupResult, err error) {
	start := time.Now()
	log := in.Log

	// The source sessions are named after the run and wait for a lock at
	// most in.LockTimeout; whatever is left of them on the server ends
	// with a failed or canceled stage (sessions.go).
	src, err := newSourceSessions(in)
	if err != nil {
		return res, err
	}
	in.SourceURL = src.url
	conn, err := pgtool.Connect(ctx, in.SourceURL)
	if err != nil {
		return res, fmt.Errorf("connect to source: %w", err)
	}
	defer func() { src.end(ctx, err != nil) }()
	defer conn.Close(context.WithoutCancel(ctx))
	serverVersion, major, err := pgtool.ServerVersion(ctx, conn)
	if err != nil {
		return res, err
	}
	bin, err := pgtool.Find(ctx, "pg_dump", major, in.Getenv)
	if err != nil {
		return res, lifeboat.Permanent(err)
	}
	log.Info(fmt.Sprintf("source is PostgreSQL %s; using %s (%s)", serverVersion, bin.Path, bin.Version))

	snap, err := pgtool.ExportSnapshot(ctx, conn)
	if err != nil {
		return res, err
	}
	defer func() { _ = snap.Tx.Rollback(context.WithoutCancel(ctx)) }()

	// Count rows on the snapshot connection while pg_dump reads the same
	// snapshot on its own connection.
	type inventoryResult struct {
		snap lifeboat.SourceSnapshot
		err  error
	}
	invDone := make(chan inventoryResult, 1)
	go func() {
		s, err := verify.Inventory(ctx, snap.Tx, in.RowCounts)
		invDone <- inventoryResult{s, err}
	}()

	key := blob.ObjectKey(in.Target, in.RunID, in.Now)
	abortDeadUploads(ctx, in, key, log) // uploads.go
	log.Info("streaming pg_dump to " + in.Storage + ":" + key)
	stored, raw, sha, copyErrs, err := streamDump(ctx, in, bin, snap.ID, key)
	inv := <-invDone
	if err == nil && inv.err != nil {
		err = fmt.Errorf("count source rows: %w", inv.err)
	}
	if err != nil {
		removeCopies(ctx, in, key)
		return res, src.explain(ctx, err)
	}

	// Names of schemas and tables and row counts never lie in storage in
	// the clear: the manifest carries them encrypted to the dump's own
	// recipients.
	sealed, err := sealInventory(inv.snap, in.Recipients)
	if err != nil {
		removeCopies(ctx, in, key)
		return res, err
	}
	res.Manifest = blob.Manifest{
		FormatVersion: blob.ManifestV2, Target: in.Target, RunID: in.RunID, CreatedAt: in.Now.UTC(),
		ServerVersion: serverVersion, PgDumpVersion: bin.Version,
		DumpFormat: "custom", Compression: "zstd", Encryption: "age",
		Recipients: crypt.RecipientStrings(in.Recipients),
		RawBytes:   raw, StoredBytes: stored, SHA256: sha, Inventory: sealed, Source: inv.snap,
	}
	// The manifest is written last: a backup without one is not a backup.
	if err := blob.PutManifest(ctx, in.Store, key, res.Manifest); err != nil {
		removeCopies(ctx, in, key)
		return res, fmt.Errorf("write manifest: %w", err)
	}

	res.Artifact = lifeboat.Artifact{Storage: in.Storage, Key: key, StoredBytes: stored, RawBytes: raw, SHA256: sha,
		Copies: finishCopies(ctx, in, key, res.Manifest, copyErrs), Recipients: res.Manifest.Recipients}
	secs := time.Since(start).Seconds()
	res.Metrics = BackupMetrics{RawBytes: raw, StoredBytes: stored, Seconds: secs, RawMBPerSec: float64(raw) / 1e6 / secs,
		Tables: len(inv.snap.Tables), ServerVersion: serverVersion, PgDumpVersion: bin.Version}
	for _, t := range inv.snap.Tables {
		res.Metrics.Rows += t.Rows
	}
	log.Info(fmt.Sprintf("stored %s (%d bytes, %d raw, sha256 %s) in %.1fs", key, stored, raw, sha, secs))
	return res, nil
}

// streamDump runs pg_dump into the sealer and the sealer into storage through
// a pipe; a failure on either side stops the other.
func streamDump(ctx context.Context, in BackupInput, bin pgtool.Binary, snapshot, key string) (stored, raw int64, sha string, copyErrs []error, err error) {
	dumpCtx, cancelDump := context.WithCancelCause(ctx)
	defer cancelDump(nil)
	pr, pw := io.Pipe()
	copies := startCopies(dumpCtx, in.Copies, key)
	hasher := crypt.NewHashingWriter(copies.writer(pw))
	progress := &progressWriter{log: in.Log, every: in.ProgressLog, next: time.Now()}
	dumpErr := make(chan error, 1)
	go func() {
		sealer, err := crypt.NewSealer(hasher, in.Recipients)
		if err == nil {
			err = pgtool.DumpLockWait(dumpCtx, pgtool.DumpOptions{Bin: bin, URL: in.SourceURL, Snapshot: snapshot,
				Out: io.MultiWriter(sealer, progress), Log: in.Log}, in.LockTimeout)
			if err == nil {
				err = sealer.Close()
			}
			raw = sealer.RawBytes()
		}
		pw.CloseWithError(err) // nil → EOF: the upload completes
		copies.close(err)
		dumpErr <- err
	}()
	n, putErr := in.Store.Put(ctx, key, pr)
	if putErr != nil {
		cancelDump(putErr)
		_ = pr.CloseWithError(putErr)
	}
	derr := <-dumpErr
	copyErrs = copies.wait(hasher.Size())
	if derr != nil || putErr != nil || n != hasher.Size() {
		copies.remove(ctx, in.Log)
	}
	// The dump's error is the root cause unless it only says we stopped it.
	if derr != nil && (putErr == nil || !errors.Is(derr, putErr)) {
		return 0, 0, "", nil, fmt.Errorf("pg_dump: %w", derr)
	}
	if putErr != nil {
		return 0, 0, "", nil, fmt.Errorf("upload: %w", putErr)
	}
	if n != hasher.Size() {
		return 0, 0, "", nil, fmt.Errorf("upload: stored %d bytes but sealed %d", n, hasher.Size())
	}
	return n, raw, hasher.SHA256(), copyErrs, nil
}

// progressWriter logs how many raw bytes pg_dump has produced, now and then.
type progressWriter struct {
	log   *slog.Logger
	every time.Duration
	next  time.Time
	n     int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if now := time.Now(); now.After(p.next) {
		if !p.next.IsZero() && p.n > int64(len(b)) {
			p.log.Info(fmt.Sprintf("dumped %d bytes", p.n), "progress_bytes", p.n)
		}
		every := p.every
		if every <= 0 {
			every = 10 * time.Second
		}
		p.next = now.Add(every)
	}
	return len(b), nil
}

// removeObject deletes a partly written backup and its manifest, so a failed
// stage leaves nothing that looks like a backup.
func removeObject(ctx context.Context, store blob.Store, key string, log *slog.Logger) {
	ctx = context.WithoutCancel(ctx)
	for _, k := range []string{blob.ManifestKey(key), key} {
		if err := store.Delete(ctx, k); err != nil {
			log.Error("could not remove " + k + " after a failed backup: " + err.Error())
		}
	}
}
