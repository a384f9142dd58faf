package jobs

import (
	"context"
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
	res, err := pipeline.Backup(ctx, pipeline.BackupInput{
		RunID: run.ID, Target: t.Name, SourceURL: t.DatabaseURL, RowCounts: t.RowCounts,
		Storage: t.Storage, Store: st, Recipients: r.deps.Recipients, Now: run.CreatedAt,
		Getenv: r.deps.Getenv, Log: log,
	})
	if err != nil {
		return outcome{}, err
	}
	return outcome{metrics: res.Metrics, apply: func(ctx context.Context, tx *store.Tx) error {
		return tx.ArtifactSet(ctx, run.ID, res.Artifact, res.Manifest.ServerVersion, res.Manifest.PgDumpVersion, res.Manifest.Source)
	}}, nil
}

func (r *Runner) scratchURL(runID int64) (string, error) {
	return pgtool.WithDatabase(r.conf().Restore.DatabaseURL, pgtool.ScratchName(runID))
}

func (r *Runner) restore(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	if run.Artifact == nil {
		return outcome{}, lifeboat.Permanent(fmt.Errorf("run %d has no backup to restore", run.ID))
	}
	st, err := r.storeFor(run.Artifact.Storage)
	if err != nil {
		return outcome{}, err
	}
	into, err := r.scratchURL(run.ID)
	if err != nil {
		return outcome{}, lifeboat.Permanent(err)
	}
	res, err := pipeline.Restore(ctx, pipeline.RestoreInput{
		Store: st, Key: run.Artifact.Key, ExpectedSHA256: run.Artifact.SHA256, Identities: r.deps.Identities,
		IntoURL: into, CreateDatabase: true, Jobs: r.conf().Restore.Jobs, SpoolDir: r.conf().Restore.SpoolDir,
		Getenv: r.deps.Getenv, Log: log,
	})
	return outcome{metrics: res.Metrics}, err
}

func (r *Runner) verify(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	snap, err := r.deps.Store.RunSnapshot(ctx, run.ID)
	if err != nil {
		return outcome{}, lifeboat.Permanent(err)
	}
	into, err := r.scratchURL(run.ID)
	if err != nil {
		return outcome{}, lifeboat.Permanent(err)
	}
	checks := make([]verify.SQLCheck, len(t.Checks))
	for i, c := range t.Checks {
		checks[i] = verify.SQLCheck{Name: c.Name, SQL: c.SQL, Expect: c.Expect, Timeout: c.Timeout}
	}
	results, m, err := pipeline.Verify(ctx, pipeline.VerifyInput{ScratchURL: into, Source: snap, Checks: checks, Log: log})
	out := outcome{metrics: m}
	if results != nil {
		out.apply = func(ctx context.Context, tx *store.Tx) error { return tx.ChecksSave(ctx, run.ID, results) }
	}
	return out, err
}

func (r *Runner) report(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) (outcome, error) {
	var senders []notify.Sender
	var queued []string
	for _, name := range t.Notify {
		if s, ok := r.catalog().Senders[name]; ok && deliveredByJob(s) {
			queued = append(queued, name) // queued when the result commits
		} else if ok {
			senders = append(senders, s)
		}
	}
	m := pipeline.Report(ctx, pipeline.ReportInput{
		Run: run, RunURL: r.runURL(run.ID), Senders: senders,
		RestoreServerURL: r.conf().Restore.DatabaseURL, Log: log,
	})
	m.Queued = queued
	return outcome{metrics: m}, nil
}

func (r *Runner) runURL(id int64) string {
	base := strings.TrimRight(r.conf().BaseURL, "/")
	if base == "" {
		return ""
	}
	return base + "/runs/" + strconv.FormatInt(id, 10)
}
