package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
)

// RestoreInput is what the restore stage needs.
type RestoreInput struct {
	Store blob.Store
	Key   string
	// ExpectedSHA256 is the hash lifeboat recorded at backup time; empty in
	// disaster recovery, where only the manifest is known.
	ExpectedSHA256 string
	Identities     []age.Identity
	// IntoURL is the database to restore into. With CreateDatabase it is
	// (re)created first on the same server.
	IntoURL        string
	CreateDatabase bool
	// Prepare, when set, makes the database to restore into once the
	// manifest says which PostgreSQL made the dump (a sandbox of that
	// major): it returns the URL to restore into, replacing IntoURL.
	Prepare  func(ctx context.Context, m blob.Manifest) (string, error)
	Clean    bool   // pg_restore --clean --if-exists (restoring over existing objects)
	Jobs     int    // pg_restore -j; > 1 spools the dump to SpoolDir
	SpoolDir string // "" = os.TempDir()
	// CheckFirst spools and checks the whole object before pg_restore starts
	// even with Jobs 1: a database a person restores into must never see
	// part of a corrupted backup (a scratch database is dropped anyway).
	CheckFirst bool
	Getenv     func(string) string
	Log        *slog.Logger
}

// RestoreResult is what the restore stage produced.
type RestoreResult struct {
	Manifest blob.Manifest
	Metrics  RestoreMetrics
}

// RestoreMetrics are the restore stage's figures.
type RestoreMetrics struct {
	StoredBytes      int64   `json:"stored_bytes"`
	RawBytes         int64   `json:"raw_bytes"`
	DownloadSeconds  float64 `json:"download_seconds"`
	PgRestoreSeconds float64 `json:"pg_restore_seconds"`
	Seconds          float64 `json:"seconds"`
	Jobs             int     `json:"jobs"`
	PgRestoreVersion string  `json:"pg_restore_version"`
	// Sandbox is the PostgreSQL version of the run's sandbox ("" in server mode).
	Sandbox string `json:"sandbox,omitempty"`
	// SandboxStartSeconds is how long the sandbox took to start.
	SandboxStartSeconds float64 `json:"sandbox_start_seconds,omitempty"`
}

// Restore reads the object back from storage, checks its sha256 while
// streaming, decrypts, decompresses and runs pg_restore --exit-on-error.
// With Jobs > 1 (or CheckFirst) the plain dump is spooled to a local file,
// pg_restore starts only after the checksum matched, and the spool's data
// offsets are indexed so pg_restore -j can seek; the spool is always
// removed. With Jobs 1 the dump streams straight into pg_restore.
func Restore(ctx context.Context, in RestoreInput) (RestoreResult, error) {
	start := time.Now()
	var res RestoreResult
	log := in.Log
	m, err := blob.GetManifest(ctx, in.Store, in.Key)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return res, lifeboat.Permanent(fmt.Errorf("backup %s is incomplete: its manifest is missing", in.Key))
	}
	if err != nil {
		return res, fmt.Errorf("read manifest: %w", err)
	}
	res.Manifest = m
	// A backup no loaded identity can decrypt stops here, naming its
	// recipients, before a sandbox or scratch database is made.
	if err := CheckIdentities(m, in.Identities); err != nil {
		return res, err
	}
	if in.ExpectedSHA256 != "" && m.SHA256 != in.ExpectedSHA256 {
		return res, lifeboat.Permanent(fmt.Errorf("checksum mismatch: expected %s got %s (manifest differs from the run's record)", in.ExpectedSHA256, m.SHA256))
	}
	dumpMajor := DumpMajor(m)
	bin, err := pgtool.Find(ctx, "pg_restore", dumpMajor, in.Getenv)
	if err != nil {
		return res, lifeboat.Permanent(err)
	}
	// The sandbox starts while the object downloads; pg_restore waits for
	// it. Every way out waits for it too, so the caller's cleanup sees the
	// sandbox it must remove.
	var prepared chan struct{} // closed when Prepare has returned
	var preparedErr error
	if in.Prepare != nil {
		pctx, cancel := context.WithCancel(ctx)
		prepared = make(chan struct{})
		go func() {
			defer close(prepared)
			in.IntoURL, preparedErr = in.Prepare(pctx, m)
		}()
		defer func() { cancel(); <-prepared }()
	} else if in.CreateDatabase {
		serverURL, err := pgtool.WithDatabase(in.IntoURL, "postgres")
		if err != nil {
			return res, lifeboat.Permanent(err)
		}
		db := databaseName(in.IntoURL)
		if err := pgtool.CreateDatabase(ctx, serverURL, db); err != nil {
			return res, err
		}
		log.Info("created scratch database " + db)
	}

	body, err := in.Store.Get(ctx, in.Key)
	if err != nil {
		return res, fmt.Errorf("read %s: %w", in.Key, err)
	}
	defer body.Close()
	verified := crypt.VerifyingReader(body, m.SHA256, m.StoredBytes)
	plain, err := crypt.NewOpener(verified, in.Identities...)
	if err != nil {
		return res, checksumFirst(verified, lifeboat.Permanent(fmt.Errorf("decrypt: %w", err)))
	}
	defer plain.Close()

	jobs := max(in.Jobs, 1)
	res.Metrics = RestoreMetrics{StoredBytes: m.StoredBytes, RawBytes: m.RawBytes, Jobs: jobs, PgRestoreVersion: bin.Version}
	opts := pgtool.RestoreOptions{Bin: bin, Jobs: jobs, Clean: in.Clean, Log: log}
	if jobs > 1 || in.CheckFirst {
		spool, err := os.CreateTemp(in.SpoolDir, "lifeboat-restore-*.dump")
		if err != nil {
			return res, fmt.Errorf("spool: %w", err)
		}
		defer os.Remove(spool.Name())
		_, err = io.Copy(spool, plain)
		if cerr := spool.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return res, checksumFirst(verified, fmt.Errorf("read back %s: %w", in.Key, err))
		}
		res.Metrics.DownloadSeconds = time.Since(start).Seconds()
		log.Info(fmt.Sprintf("read back %d bytes from storage; sha256 matches (%.1fs)", m.StoredBytes, res.Metrics.DownloadSeconds))
		if jobs > 1 {
			// A dump streamed through a pipe lacks data offsets; without them
			// every pg_restore worker scans the archive for its table.
			if n, err := pgtool.IndexArchive(spool.Name()); err != nil {
				log.Warn("could not index the dump for a parallel restore (it will restore, more slowly): " + err.Error())
			} else {
				log.Info(fmt.Sprintf("indexed %d data entries of the dump for pg_restore --jobs=%d", n, jobs))
			}
		}
		opts.File = spool.Name()
		log.Info(fmt.Sprintf("running pg_restore --jobs=%d", jobs))
	} else {
		opts.In = plain
	}
	if prepared != nil {
		<-prepared // pg_restore needs the sandbox
		if preparedErr != nil {
			return res, preparedErr
		}
	}
	opts.URL = in.IntoURL
	restoreStart := time.Now()
	err = pgtool.Restore(ctx, opts)
	if opts.In != nil {
		// Streaming: the checksum is known only once every byte was read.
		err = checksumFirst(verified, err)
	}
	if err != nil {
		return res, fmt.Errorf("pg_restore: %w", err)
	}
	res.Metrics.PgRestoreSeconds = time.Since(restoreStart).Seconds()
	res.Metrics.Seconds = time.Since(start).Seconds()
	log.Info(fmt.Sprintf("pg_restore finished without errors in %.1fs", res.Metrics.PgRestoreSeconds))
	return res, nil
}

// DumpMajor is the major version of the pg_dump that made m's dump.
func DumpMajor(m blob.Manifest) int {
	n, _ := strconv.Atoi(strings.SplitN(m.PgDumpVersion, ".", 2)[0])
	return n
}

// checksumFirst reads what is left of the verified stream: when the stored
// bytes don't match their recorded sha256, that is the real cause of any
// decryption or restore error, and a restore that "worked" on them is not
// to be trusted either.
func checksumFirst(verified io.Reader, err error) error {
	if _, derr := io.Copy(io.Discard, verified); derr != nil && strings.Contains(derr.Error(), "checksum mismatch") {
		return lifeboat.Permanent(derr)
	}
	return err
}

func databaseName(rawURL string) string {
	// The URL was validated by config; Path is "/name".
	i := strings.LastIndexByte(rawURL, '/')
	name := rawURL[i+1:]
	if q := strings.IndexByte(name, '?'); q >= 0 {
		name = name[:q]
	}
	return name
}
