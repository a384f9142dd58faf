package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

func (r *Runner) storeFor(name string) (blob.Store, error) {
	s, ok := r.catalog().Stores[name]
	if !ok {
		return nil, lifeboat.Permanent(fmt.Errorf("storage %q is not configured", name))
	}
	return s, nil
}

func (r *Runner) backup(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	st, err := r.storeFor(t.Storage)
	if err != nil {
		return outcome{}, err
	}
	copies, proof, err := r.backupCopies(ctx, t) // copies.go
	if err != nil {
		return outcome{}, err
	}
	res, err := pipeline.Backup(ctx, pipeline.BackupInput{
		RunID: run.ID, Target: t.Name, SourceURL: t.DatabaseURL, RowCounts: t.RowCounts,
		Storage: t.Storage, Store: st, Recipients: r.deps.Recipients, Now: run.CreatedAt,
		Getenv: r.deps.Getenv, Log: log, LockTimeout: t.LockTimeout, Copies: copies, ProofCopy: proof,
	})
	if err != nil {
		return outcome{}, err
	}
	return outcome{metrics: res.Metrics, apply: func(ctx context.Context, tx *store.Tx) error {
		return tx.ArtifactSet(ctx, run.ID, res.Artifact, res.Manifest.ServerVersion, res.Manifest.PgDumpVersion, res.Manifest.Source)
	}}, nil
}

// installation returns this installation's id (cached: it never changes).
func (r *Runner) installation(ctx context.Context) (string, error) {
	if id := r.installID.Load(); id != nil {
		return *id, nil
	}
	id, err := r.deps.Store.InstallationID(ctx)
	if err != nil {
		return "", err
	}
	r.installID.Store(&id)
	return id, nil
}

// scratchURL is run id's scratch database on the restore server (server
// mode), reached as role (the restore role's URL, or the reader's).
func (r *Runner) scratchURL(ctx context.Context, roleURL string, runID int64) (string, error) {
	inst, err := r.installation(ctx)
	if err != nil {
		return "", err
	}
	return pgtool.WithDatabase(roleURL, pgtool.ScratchName(inst, runID))
}

// checkRestoreRole refuses a server-mode role that could let a hostile dump
// reach the restore server's OS, unless restore.allow_superuser accepts the
// risk; then it warns on every run.
func (r *Runner) checkRestoreRole(ctx context.Context, log *slog.Logger) error {
	rc := r.conf().Restore
	rights, err := pgtool.CheckRole(ctx, rc.DatabaseURL)
	if err != nil {
		return fmt.Errorf("restore server: %w", err)
	}
	if len(rights.Dangerous) == 0 {
		return nil
	}
	held := strings.Join(rights.Dangerous, ", ")
	if !rc.AllowSuperuser {
		return lifeboat.Permanent(fmt.Errorf("restore.database_url connects as %q, which has %s: a dump's functions would run with it on the restore server. "+
			"Use a dedicated role (%s), or remove restore.database_url to restore in a sandbox, "+
			"or set restore.allow_superuser: true to accept the risk", rights.Role, held, pgtool.RestoreRoleSQL))
	}
	log.Warn(fmt.Sprintf("restore.allow_superuser: restoring as %q, which has %s: a hostile dump could take over the restore server",
		rights.Role, held))
	return nil
}

func (r *Runner) restore(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	if run.Artifact == nil {
		return outcome{}, lifeboat.Permanent(fmt.Errorf("run %d has no backup to restore", run.ID))
	}
	// With several copies, each run's restore reads one, in rotation.
	pc := proofCopy(run.Artifact)
	st, err := r.storeFor(pc.Storage)
	if err != nil {
		return outcome{}, err
	}
	if len(run.Artifact.Copies) > 1 {
		log.Info("restoring the copy on " + pc.Storage)
	}
	rc := r.conf().Restore
	in := pipeline.RestoreInput{
		Store: st, Key: pc.Key, ExpectedSHA256: run.Artifact.SHA256, Identities: r.deps.Identities,
		Jobs: rc.Jobs, SpoolDir: r.spoolDir(), Getenv: r.deps.Getenv, Log: log,
	}
	var out outcome
	if rc.Sandboxed() {
		if r.sandboxes == nil {
			return outcome{}, lifeboat.Permanent(errors.New("this process has no sandbox (it works no jobs)"))
		}
		in.Prepare = pipeline.StartSandbox(r.sandboxes, run.ID, log)
		// Verify must reach this sandbox: it waits in this process's queue.
		out.nextQueue = r.sandboxQueue
	} else {
		if err := r.checkRestoreRole(ctx, log); err != nil {
			return outcome{}, err
		}
		if in.IntoURL, err = r.scratchURL(ctx, rc.DatabaseURL, run.ID); err != nil {
			return outcome{}, lifeboat.Permanent(err)
		}
		in.CreateDatabase = true
	}
	res, err := pipeline.Restore(ctx, in)
	if sb, ok := r.sandboxGet(run.ID); ok {
		res.Metrics.Sandbox = sb.Server.Version
		res.Metrics.SandboxStartSeconds = sb.Took.Seconds()
	}
	out.metrics = res.Metrics
	return out, err
}

// releaseSandbox stops run id's sandbox, if this process holds one.
func (r *Runner) releaseSandbox(id int64) {
	if r.sandboxes != nil {
		r.sandboxes.Release(id)
	}
}

func (r *Runner) sandboxGet(id int64) (*sandbox.Sandbox, bool) {
	if r.sandboxes == nil {
		return nil, false
	}
	return r.sandboxes.Get(id)
}

// readerURL is where run id's counts and checks read: the sandbox's reader
// role, or in server mode restore.reader_url (else the restore role, in
// read-only transactions, with a warning).
func (r *Runner) readerURL(ctx context.Context, runID int64, log *slog.Logger) (string, error) {
	rc := r.conf().Restore
	if rc.Sandboxed() {
		sb, ok := r.sandboxGet(runID)
		if !ok || sb.Exited() {
			return "", lifeboat.Permanent(fmt.Errorf("the sandbox of run %d is gone (its process stopped after the restore); retry the run", runID))
		}
		return sb.ReaderURL(), nil
	}
	roleURL := rc.ReaderURL
	if roleURL == "" {
		roleURL = rc.DatabaseURL
		log.Warn("restore.reader_url is not set: checks read as the restore role (in read-only transactions); " +
			"a dedicated reader role is safer and sees rows that row-level security hides")
	}
	return r.scratchURL(ctx, roleURL, runID)
}

func (r *Runner) verify(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	snap, err := r.deps.Store.RunSnapshot(ctx, run.ID)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return outcome{}, lifeboat.Permanent(err)
	}
	if err != nil {
		return outcome{}, err // the state database is away for a moment: retry
	}
	into, err := r.readerURL(ctx, run.ID, log)
	if err != nil {
		return outcome{}, err
	}
	checks := make([]verify.SQLCheck, len(t.Checks))
	for i, c := range t.Checks {
		checks[i] = verify.SQLCheck{Name: c.Name, SQL: c.SQL, Expect: c.Expect, Timeout: c.Timeout}
	}
	gates, err := r.gates(ctx, run, t, snap, log) // gates.go
	if err != nil {
		return outcome{}, err
	}
	results, m, err := pipeline.Verify(ctx, pipeline.VerifyInput{ScratchURL: into, Source: snap, Checks: checks, Gates: gates, Log: log})
	// The copy the restore read passed on its own merits; every copy must
	// be good for the run to pass (copies.go).
	proofOK := err == nil
	if c := copiesCheck(run.Artifact); c != nil && results != nil {
		results = append(results, *c)
		if !c.Passed && err == nil {
			err = lifeboat.Permanent(fmt.Errorf("verify: a copy is not good: %s", c.Observed))
		}
	}
	out := outcome{metrics: m}
	if results != nil {
		out.apply = func(ctx context.Context, tx *store.Tx) error { return tx.ChecksSave(ctx, run.ID, results) }
	}
	if proofOK && run.Artifact != nil {
		// The copy the restore read is proven by this run.
		pc, from, at := proofCopy(run.Artifact), run.ID, r.deps.Now()
		if run.Artifact.ReusedFromRun != 0 {
			from = run.Artifact.ReusedFromRun
		}
		save := out.apply
		out.apply = func(ctx context.Context, tx *store.Tx) error {
			if save != nil {
				if err := save(ctx, tx); err != nil {
					return err
				}
			}
			return tx.CopyProven(ctx, from, pc.Storage, run.ID, at)
		}
	}
	return out, err
}

func (r *Runner) report(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	r.abortRunUploads(ctx, run, t, log) // uploads.go
	// Every notifier taking the event hears it through a delivery queued
	// with this stage's result (deliveries.go): sent once by its own job,
	// whatever happens to this stage's commit. The deliveries note their
	// outcome in these metrics (delivered, failed, errors).
	kind := notify.NewEvent(run, "", r.deps.Now()).Kind
	var queued, notSent []string
	for _, name := range t.Notify {
		if s, ok := r.catalog().Senders[name]; ok && queuedAtEnd(s, kind) {
			queued = append(queued, name)
		} else if ok {
			notSent = append(notSent, name)
		}
	}
	switch {
	case len(queued) > 0:
		log.Info(fmt.Sprintf("%s queued to %s", kind, strings.Join(queued, ", ")))
	default:
		log.Info(fmt.Sprintf("%s: no notifier takes it", kind))
	}
	in := pipeline.ReportInput{Run: run, RunURL: r.runURL(run.ID), Log: log}
	if rc := r.conf().Restore; rc.Sandboxed() {
		r.releaseSandbox(run.ID) // normally gone with verify already
	} else if url, err := r.scratchURL(ctx, rc.DatabaseURL, run.ID); err == nil {
		in.ScratchURL = url
	} else {
		log.Error("scratch database: " + err.Error())
	}
	m := pipeline.Report(ctx, in)
	m.Queued, m.NotSent = queued, append(m.NotSent, notSent...)
	return outcome{metrics: m}, nil
}

func (r *Runner) runURL(id int64) string {
	base := strings.TrimRight(r.conf().BaseURL, "/")
	if base == "" {
		return ""
	}
	return base + "/runs/" + strconv.FormatInt(id, 10)
}
