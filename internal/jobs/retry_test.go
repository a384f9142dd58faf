package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// brokenCheck fails on the seeded source (500 customers); fixedCheck is the
// same check once its author corrected the threshold.
const (
	brokenCheck = `      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}`
	fixedCheck  = ">= 500"
)

// retryBundle is a bundle with two processes over the same state database
// and storage: "broken", started first, with a failing SQL check, and
// "fixed", the same lifeboat restarted after the check was corrected.
type retryBundle struct {
	*bundle
	broken, fixed *jobs.Runner
}

func retrySetup(t *testing.T, o options) *retryBundle {
	t.Helper()
	o.checks, o.noStart = brokenCheck, true
	b := setup(t, o)
	cfg := *b.cfg
	cfg.Targets = append([]config.Target(nil), b.cfg.Targets...)
	target := &cfg.Targets[0]
	target.Checks = append([]config.Check(nil), target.Checks...)
	target.Checks[0].Expect = fixedCheck
	deps := b.deps
	deps.Config = &cfg
	if o.afterStage != nil {
		deps.AfterStage = func(ctx context.Context, runID int64, stage lifeboat.StageName) error {
			return o.afterStage(b, ctx, runID, stage)
		}
	}
	fixed, err := jobs.New(deps, jobs.Options{Workers: 2, NoPeriodic: true})
	require.NoError(t, err)
	return &retryBundle{bundle: b, broken: b.runner, fixed: fixed}
}

// start works r's jobs until stop (or the test's end).
func start(t *testing.T, r *jobs.Runner) (stop func()) {
	t.Helper()
	require.NoError(t, r.Start(context.Background()))
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	}
	t.Cleanup(stop)
	return stop
}

// waitEnd waits for run id to finish.
func waitEnd(t *testing.T, r *jobs.Runner, id int64) lifeboat.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := r.WaitRun(ctx, id)
	require.NoError(t, err)
	return run
}

// retryToEnd retries run id on r and waits for the retry to finish.
func retryToEnd(t *testing.T, r *jobs.Runner, id int64) lifeboat.Run {
	t.Helper()
	run, err := r.RetryRun(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunQueued, run.Status)
	require.Equal(t, lifeboat.TriggerRetry, run.Trigger)
	require.NotNil(t, run.RetryOf)
	require.Equal(t, id, *run.RetryOf)
	return waitEnd(t, r, run.ID)
}

// requireReused checks that run skipped its backup and restored and
// verified the backup run from wrote, reached through a retry of retryOf.
func requireReused(t *testing.T, run lifeboat.Run, from lifeboat.Run, retryOf int64) {
	t.Helper()
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, lifeboat.StageSkipped, backup.Status)
	require.Nil(t, backup.StartedAt, "the backup stage did not run")
	var m store.ReuseMetrics
	require.NoError(t, json.Unmarshal(backup.Metrics, &m))
	require.Equal(t, store.ReuseMetrics{ReusedFromRun: from.ID, RetryOf: retryOf, Storage: "main",
		Key: from.Artifact.Key, SHA256: from.Artifact.SHA256}, m)
	require.NotNil(t, run.Artifact)
	require.Equal(t, from.ID, run.Artifact.ReusedFromRun)
	require.Equal(t, from.Artifact.Key, run.Artifact.Key)
	require.Equal(t, from.Artifact.SHA256, run.Artifact.SHA256)
	require.Equal(t, from.Artifact.StoredBytes, run.Artifact.StoredBytes)
	require.Equal(t, from.Artifact.RawBytes, run.Artifact.RawBytes)
	require.Equal(t, from.Versions, run.Versions)
	for _, st := range []lifeboat.StageName{lifeboat.StageRestore, lifeboat.StageReport} {
		s, _ := run.StageByName(st)
		require.Equal(t, lifeboat.StageSucceeded, s.Status, "stage %s", st)
	}
}

// TestRetryReusesBackup: a run fails at verify (a failing SQL check); a
// retry with the check still broken fails again without dumping again; once
// the check is fixed, a retry of the retry restores and verifies the same
// backup: same key and sha256, no second object in storage, the run says
// which run's backup it reused.
func TestRetryReusesBackup(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := retrySetup(t, options{storage: kind})
			ctx := context.Background()
			stop := start(t, b.broken)
			first := b.runToEnd(t)
			require.Equal(t, lifeboat.RunFailed, first.Status, "logs:\n%s", b.logText(t, first.ID))
			require.Equal(t, lifeboat.StageFailed, stageStatus(first)[lifeboat.StageVerify])
			require.NotNil(t, first.Artifact)

			second := retryToEnd(t, b.broken, first.ID)
			require.Equal(t, lifeboat.RunFailed, second.Status, "logs:\n%s", b.logText(t, second.ID))
			requireReused(t, second, first, first.ID)
			require.Equal(t, lifeboat.StageFailed, stageStatus(second)[lifeboat.StageVerify])
			require.Contains(t, second.Error, "enough customers")
			stop()

			stop = start(t, b.fixed)
			third := retryToEnd(t, b.fixed, second.ID)
			logs := b.logText(t, third.ID)
			require.Equal(t, lifeboat.RunSucceeded, third.Status, "error: %s\nlogs:\n%s", third.Error, logs)
			requireReused(t, third, first, second.ID) // a retry of a retry: still the first run's backup
			require.Equal(t, lifeboat.StageSucceeded, stageStatus(third)[lifeboat.StageVerify])
			var checked bool
			for _, c := range third.Checks {
				require.True(t, c.Passed, "check %s: expected %s observed %s", c.Name, c.Expected, c.Observed)
				checked = checked || c.Name == "enough customers" && c.Observed == "500"
			}
			require.True(t, checked, "the fixed check ran: %+v", third.Checks)
			require.Contains(t, logs, fmt.Sprintf("[restore info] retry of run %d: backup skipped, reusing run %d's backup %s (sha256 %s); starting at restore",
				second.ID, first.ID, first.Artifact.Key, first.Artifact.SHA256))
			require.NotContains(t, logs, "[backup ")

			// The run's JSON says where its backup came from.
			raw, err := json.Marshal(third)
			require.NoError(t, err)
			require.Contains(t, string(raw), fmt.Sprintf(`"retry_of":%d`, second.ID))
			require.Contains(t, string(raw), fmt.Sprintf(`"reused_from_run":%d`, first.ID))
			require.Contains(t, string(raw), `{"name":"backup","status":"skipped"`)

			// One object and its manifest in storage, however many runs used it.
			require.Equal(t, map[string]bool{first.Artifact.Key: true, blob.ManifestKey(first.Artifact.Key): true}, b.stored(t))
			for _, r := range []lifeboat.Run{first, second, third} {
				b.requireScratchGone(t, r.ID)
			}
			require.Len(t, b.chat.received(), 3, "each run reported")
			// Retention sees one backup, verified by the retry.
			plan, err := b.fixed.RetentionPlan(ctx, "app")
			require.NoError(t, err)
			backups := plan.(*jobs.RetentionPlan).Backups
			require.Len(t, backups, 1)
			require.Equal(t, first.ID, backups[0].RunID)
			require.Equal(t, first.Artifact.Key, backups[0].Key)
			require.True(t, backups[0].Verified)
			require.True(t, backups[0].CreatedAt.Equal(first.CreatedAt), "the backup dates from the run that took it")
			stop()
		})
	}
}

// TestRetryAfterFailedBackup: a run whose backup stage failed is retried as
// a whole run, even though the failed stage had stored an object.
func TestRetryAfterFailedBackup(t *testing.T) {
	t.Parallel()
	var failed atomic.Bool
	b := retrySetup(t, options{afterStage: func(_ *bundle, _ context.Context, _ int64, stage lifeboat.StageName) error {
		if stage == lifeboat.StageBackup && failed.CompareAndSwap(false, true) {
			return lifeboat.Permanent(errors.New("injected backup failure"))
		}
		return nil
	}})
	start(t, b.fixed)
	run, err := b.fixed.StartRun(context.Background(), "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	first := waitEnd(t, b.fixed, run.ID)
	require.Equal(t, lifeboat.RunFailed, first.Status)
	require.Equal(t, lifeboat.StageFailed, stageStatus(first)[lifeboat.StageBackup])
	require.NotNil(t, first.Artifact, "the failed stage recorded what it stored")

	retry := retryToEnd(t, b.fixed, first.ID)
	logs := b.logText(t, retry.ID)
	require.Equal(t, lifeboat.RunSucceeded, retry.Status, "error: %s\nlogs:\n%s", retry.Error, logs)
	backup, _ := retry.StageByName(lifeboat.StageBackup)
	require.Equal(t, lifeboat.StageSucceeded, backup.Status)
	require.NotNil(t, backup.StartedAt)
	require.NotNil(t, retry.Artifact)
	require.Zero(t, retry.Artifact.ReusedFromRun)
	require.NotEqual(t, first.Artifact.Key, retry.Artifact.Key)
	require.Contains(t, retry.Artifact.Key, fmt.Sprintf("/%d.dump", retry.ID))
	require.Contains(t, logs, fmt.Sprintf("[backup info] retry of run %d: a full run, as run %d failed at backup", first.ID, first.ID))
	require.True(t, b.stored(t)[retry.Artifact.Key])
}

// TestRetryBackupGone: when the failed run's object or manifest is no
// longer in storage, the retry is a whole run and its log says why.
func TestRetryBackupGone(t *testing.T) {
	t.Parallel()
	for _, gone := range []string{"object", "manifest"} {
		t.Run(gone, func(t *testing.T) {
			t.Parallel()
			b := retrySetup(t, options{storage: storageS3})
			stop := start(t, b.broken)
			first := b.runToEnd(t)
			require.Equal(t, lifeboat.RunFailed, first.Status)
			stop()
			key := first.Artifact.Key
			if gone == "manifest" {
				key = blob.ManifestKey(key)
			}
			require.NoError(t, b.blobs.Delete(context.Background(), key))

			start(t, b.fixed)
			retry := retryToEnd(t, b.fixed, first.ID)
			logs := b.logText(t, retry.ID)
			require.Equal(t, lifeboat.RunSucceeded, retry.Status, "error: %s\nlogs:\n%s", retry.Error, logs)
			backup, _ := retry.StageByName(lifeboat.StageBackup)
			require.Equal(t, lifeboat.StageSucceeded, backup.Status)
			require.NotEqual(t, first.Artifact.Key, retry.Artifact.Key)
			require.Zero(t, retry.Artifact.ReusedFromRun)
			why := map[string]string{
				"object":   fmt.Sprintf("run %d's backup %s is no longer in storage main", first.ID, first.Artifact.Key),
				"manifest": fmt.Sprintf("run %d's backup %s has lost its manifest", first.ID, first.Artifact.Key),
			}[gone]
			require.Contains(t, logs, fmt.Sprintf("[backup warn] retry of run %d: a full run, as %s", first.ID, why))
		})
	}
}

// failedRunWithBackup records a run of "app" that failed at verify an hour
// ago, with a (fake) backup in storage that passes the retry's checks.
func (b *bundle) failedRunWithBackup(t *testing.T) (int64, string) {
	t.Helper()
	ctx := context.Background()
	id := b.nextRunID(t)
	at := time.Now().Add(-time.Hour)
	key := blob.ObjectKey("app", id, at)
	body := "not a real dump"
	_, err := b.blobs.Put(ctx, key, strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, blob.PutManifest(ctx, b.blobs, key, blob.Manifest{FormatVersion: 1, Target: "app", RunID: id,
		CreatedAt: at, SHA256: "cafe"}))
	b.stateExec(t, `INSERT INTO runs (id, target, trigger, status, error, created_at, started_at, finished_at,
		storage, artifact_key, stored_bytes, raw_bytes, sha256, source_snapshot)
		VALUES ($1, 'app', 'api', 'failed', 'verify: a check failed', $2, $2, $2::timestamptz + interval '5 minutes',
		'main', $3, $4, 42, 'cafe', '{"row_counts_method": "exact", "tables": [], "objects": []}')`, id, at, key, len(body))
	b.stateExec(t, `INSERT INTO run_stages (run_id, stage, position, status)
		VALUES ($1, 'backup', 0, 'succeeded'), ($1, 'restore', 1, 'succeeded'), ($1, 'verify', 2, 'failed'),
		($1, 'report', 3, 'succeeded')`, id)
	return id, key
}

// TestRetryRefused: only a finished failed or canceled run can be retried,
// an unknown run is not found, and a target with an active run refuses a
// retry as it refuses a run request, naming the active run.
func TestRetryRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, options{noStart: true}) // jobs are inserted, never worked
	ctx := context.Background()
	requireCode := func(err error, code, msg string) {
		t.Helper()
		require.Error(t, err)
		require.Equal(t, code, lifeboat.ErrorCode(err), "%v", err)
		require.Contains(t, err.Error(), msg)
	}

	_, err := b.runner.RetryRun(ctx, 999999999)
	requireCode(err, lifeboat.ENOTFOUND, "run 999999999 not found")

	done, _ := b.failedRunWithBackup(t)
	b.stateExec(t, "UPDATE runs SET status = 'succeeded', error = '' WHERE id = $1", done)
	_, err = b.runner.RetryRun(ctx, done)
	requireCode(err, lifeboat.ECONFLICT, fmt.Sprintf("run %d is succeeded: only a failed or canceled run can be retried", done))

	queued, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	_, err = b.runner.RetryRun(ctx, queued.ID)
	requireCode(err, lifeboat.ECONFLICT, fmt.Sprintf("run %d is queued", queued.ID))
	b.stateExec(t, "UPDATE runs SET status = 'running' WHERE id = $1", queued.ID)
	_, err = b.runner.RetryRun(ctx, queued.ID)
	requireCode(err, lifeboat.ECONFLICT, fmt.Sprintf("run %d is running", queued.ID))

	// A failed run while another run of the target is active.
	failed, _ := b.failedRunWithBackup(t)
	_, err = b.runner.RetryRun(ctx, failed)
	requireCode(err, lifeboat.ECONFLICT, fmt.Sprintf(`target "app" already has an active run %d`, queued.ID))

	// Canceled, but its report has not run yet.
	b.stateExec(t, "UPDATE runs SET status = 'canceled', error = 'canceled by api' WHERE id = $1", queued.ID)
	_, err = b.runner.RetryRun(ctx, queued.ID)
	requireCode(err, lifeboat.ECONFLICT, "still being reported")

	// Once it has, both can be retried; one at a time.
	b.stateExec(t, "UPDATE runs SET finished_at = now() WHERE id = $1", queued.ID)
	retry, err := b.runner.RetryRun(ctx, failed)
	require.NoError(t, err)
	require.Equal(t, lifeboat.StageSkipped, stageStatus(retry)[lifeboat.StageBackup], "its backup is reused")
	_, err = b.runner.RetryRun(ctx, queued.ID)
	requireCode(err, lifeboat.ECONFLICT, fmt.Sprintf(`target "app" already has an active run %d`, retry.ID))
	require.Equal(t, int64(1), b.jobCount(t, "lifeboat.restore", retry.ID), "the retry starts at restore")
	require.Zero(t, b.jobCount(t, "lifeboat.backup", retry.ID))
}

// jobCount counts River jobs of kind for run id.
func (b *bundle) jobCount(t *testing.T, kind string, id int64) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM river_job WHERE kind = $1 AND (args->>'run_id')::bigint = $2", kind, id).Scan(&n))
	return n
}

// TestRetryAndRetention: runs sharing a backup are one backup to retention
// (listed once, verified if any of them verified it, kept while any is
// active, deleted once and marked pruned on every run), and a backup
// retention has begun to delete is never reused.
func TestRetryAndRetention(t *testing.T) {
	t.Parallel()
	o := retentionOptions(storageFS, "{keep_last: 1}")
	o.noStart = true
	b := setup(t, o)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	fs := []*fixture{
		{name: "failed at verify, 3 days ago", status: lifeboat.RunFailed, at: now.Add(-72 * time.Hour), object: true, manifest: true},
		{name: "failed at verify, 30 hours ago", status: lifeboat.RunFailed, at: now.Add(-30 * time.Hour), object: true, manifest: true},
		{name: "verified yesterday", status: lifeboat.RunSucceeded, at: now.Add(-24 * time.Hour), object: true, manifest: true},
	}
	b.place(t, fs)
	// Retries sharing the failed runs' backups: the first verified it, the
	// second is still restoring.
	share := func(of *fixture, status lifeboat.RunStatus, at time.Time) int64 {
		t.Helper()
		var id int64
		require.NoError(t, b.store.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, retry_of, status, created_at,
			finished_at, storage, artifact_key, stored_bytes, raw_bytes, sha256, artifact_from_run)
			SELECT target, 'retry', id, $2, $3::timestamptz, CASE WHEN $2 = 'succeeded' THEN $3::timestamptz END, storage, artifact_key,
				stored_bytes, raw_bytes, sha256, id FROM runs WHERE id = $1 RETURNING id`,
			of.runID, string(status), at).Scan(&id))
		return id
	}
	verifiedRetry := share(fs[0], lifeboat.RunSucceeded, now.Add(-48*time.Hour))
	activeRetry := share(fs[1], lifeboat.RunRunning, now.Add(-time.Hour))

	decisions, err := b.runner.Prune(ctx, "app", true)
	require.NoError(t, err)
	require.Len(t, decisions, 3, "one decision per backup: %+v", decisions)
	byKey := map[string]int{}
	for i, d := range decisions {
		byKey[d.Key] = i
	}
	shared, active, newest := decisions[byKey[fs[0].key]], decisions[byKey[fs[1].key]], decisions[byKey[fs[2].key]]
	require.Equal(t, fs[0].runID, shared.RunID, "a backup is named by the run that took it")
	require.True(t, shared.CreatedAt.Equal(fs[0].at), "and dated by it")
	require.True(t, shared.Verified, "the retry verified it")
	require.False(t, shared.Keep)
	require.Equal(t, []string{"verified, beyond the keep_* policy"}, shared.Reasons)
	require.Equal(t, fs[1].runID, active.RunID)
	require.True(t, active.Keep)
	require.Equal(t, []string{"run still active"}, active.Reasons)
	require.True(t, newest.Keep)

	// In use by an active run: retention may not begin to delete it.
	err = b.store.ArtifactPruneBegin(ctx, fs[1].runID)
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err), "%v", err)
	require.Contains(t, err.Error(), fmt.Sprintf("in use by active run %d", activeRetry))

	_, err = b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(b.logs.String(), `msg="pruned backup"`), "deleted once:\n%s", b.logs.String())
	left := b.stored(t)
	require.False(t, left[fs[0].key])
	require.False(t, left[blob.ManifestKey(fs[0].key)])
	require.True(t, left[fs[1].key])
	pruned := b.pruned(t)
	require.Len(t, pruned, 2, "the run that took it and the retry that shared it: %v", pruned)
	require.Equal(t, "verified, beyond the keep_* policy", pruned[fs[0].runID])
	require.Equal(t, pruned[fs[0].runID], pruned[verifiedRetry])

	// Pruning again finds no half-gone backup to delete.
	decisions, err = b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
	require.Len(t, decisions, 2)
	for _, d := range decisions {
		require.True(t, d.Keep, "%s: %v", d.Key, d.Reasons)
	}

	// A retry of a run whose backup retention is deleting is a full run.
	id, _ := b.failedRunWithBackup(t)
	b.stateExec(t, "UPDATE runs SET status = 'failed', finished_at = now() WHERE id = $1", activeRetry)
	require.NoError(t, b.store.ArtifactPruneBegin(ctx, id))
	retry, err := b.runner.RetryRun(ctx, id)
	require.NoError(t, err)
	require.Equal(t, lifeboat.StagePending, stageStatus(retry)[lifeboat.StageBackup])
	require.Nil(t, retry.Artifact)
	require.Contains(t, b.logText(t, retry.ID), fmt.Sprintf("a full run, as retention is deleting run %d's backup", id))
}

// A retry that reuses a backup starts at restore, and that start is the
// run's start: webhooks hear run.started for it, once, then its outcome.
func TestRetryThatReusesABackupSignalsItsStart(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{checks: brokenCheck}, nil)
	startRunner(t, r)
	ctx := context.Background()
	first, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	first = waitEnd(t, r, first.ID)
	require.Equal(t, lifeboat.RunFailed, first.Status, "logs:\n%s", b.logText(t, first.ID))

	second := retryToEnd(t, r, first.ID)
	require.Equal(t, lifeboat.RunFailed, second.Status)
	requireReused(t, second, first, first.ID)
	require.NoError(t, r.WaitDeliveries(ctx, second.ID))
	var forSecond []string
	for _, req := range rec.requests() {
		require.NoError(t, req.VerifyErr)
		var ev struct {
			Type string `json:"type"`
			Data struct {
				ID int64 `json:"id"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &ev))
		if ev.Data.ID == second.ID {
			forSecond = append(forSecond, ev.Type)
		}
	}
	require.ElementsMatch(t, []string{"run.started", "run.failed"}, forSecond)
}
