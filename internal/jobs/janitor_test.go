package jobs_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// uploadLimit is how old a multipart upload must be before the janitor
// aborts it: the test target's stage timeout (the default 6h) plus 1h.
const uploadLimit = 7 * time.Hour

// Tests share one PostgreSQL cluster as their restore server: these only
// ever create scratch databases named after their own state database's run
// ids, and every other test's janitor leaves them alone (they are young and
// unknown to it), except the one aged by hand, which any janitor may drop.

func TestJanitorCleansUpAfterKilledRuns(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Now())
	b := setup(t, options{storage: storageS3, clock: clock, superuser: true})
	b.waitJanitorPass(t) // the pass every process makes on start, so it can't race this test's
	ctx := janitorCtx(t)

	// Report ran, but its drop of the scratch database failed.
	finished := b.bareRun(t)
	b.setStages(t, finished, time.Hour, lifeboat.StageSucceeded, lifeboat.StageSucceeded, lifeboat.StageSucceeded, lifeboat.StageSucceeded)
	b.stateTx(t, func(tx *store.Tx) error { _, err := tx.RunFinish(ctx, finished); return err })
	b.createScratch(t, finished, "")

	// Working right now: verify started 30 minutes ago and its job is running.
	live := b.bareRun(t)
	b.setStages(t, live, 30*time.Minute, lifeboat.StageSucceeded, lifeboat.StageSucceeded, lifeboat.StageRunning)
	liveJob := b.insertRunningJob(t, live, "lifeboat.verify", 1, 30*time.Minute)
	b.createScratch(t, live, "")

	// Killed in the middle of restore 7 hours ago; River has given up on
	// the job (its last attempt), or its rescuer is about to.
	stuck := b.bareRun(t)
	b.setStages(t, stuck, 7*time.Hour, lifeboat.StageSucceeded, lifeboat.StageRunning)
	stuckJob := b.insertRunningJob(t, stuck, "lifeboat.restore", jobs.MaxAttempts, 7*time.Hour)
	b.createScratch(t, stuck, "")

	// Queued an hour ago, and its backup job is gone.
	orphan := b.bareRun(t)
	b.stateExec(t, "UPDATE runs SET created_at = now() - interval '1 hour' WHERE id = $1", orphan)

	// Every stage passed an hour ago, and the report job is gone.
	unreported := b.bareRun(t)
	b.setStages(t, unreported, time.Hour, lifeboat.StageSucceeded, lifeboat.StageSucceeded, lifeboat.StageSucceeded)

	// Scratch databases of runs this state database never had: one just
	// created (maybe another lifeboat's live run), one two days old.
	young := b.scratchName(t, unreported+1000)
	b.createScratchNamed(t, young, "")
	old := b.scratchName(t, unreported+1001)
	b.createScratchNamed(t, old, "")
	ageDatabase(t, b.pgURL, old, 48*time.Hour)

	// Backups being written: one by its first attempt, one by a retry that
	// began after an earlier attempt's upload (below).
	uploading := b.bareRun(t)
	b.setStages(t, uploading, 10*time.Minute, lifeboat.StageRunning)
	b.insertRunningJob(t, uploading, "lifeboat.backup", 1, 10*time.Minute)
	retried := b.bareRun(t)
	b.setStages(t, retried, 10*time.Minute, lifeboat.StageRunning)
	b.insertRunningJob(t, retried, "lifeboat.backup", 2, 10*time.Minute)

	// Multipart uploads: one of the killed run's backup (done: nothing
	// writes it any more), one of the live run's (verify runs: the same),
	// one of a backup being written, one of the retried backup's earlier
	// attempt, an old one of no run of ours, and one outside lifeboat's
	// prefix.
	bucket := b.cfg.Storages[0].Bucket
	client := s3Client(t)
	key := func(id int64) string { return fmt.Sprintf("lb/app/2026/11/25/%d.dump.zst.age", id) }
	stale, done, writing, dead := key(stuck), key(live), key(uploading), key(retried)
	foreign := key(unreported + 2000)
	startUpload(t, client, bucket, foreign)
	time.Sleep(1100 * time.Millisecond) // S3 stamps uploads to the second
	for _, k := range []string{stale, done, writing, dead, "elsewhere/not-lifeboats"} {
		startUpload(t, client, bucket, k)
	}
	// The retry's attempt began after its earlier attempt's upload.
	b.stateExec(t, "UPDATE run_stages SET started_at = now() + interval '5 minutes' WHERE run_id = $1 AND stage = 'backup'", retried)
	ups, err := b.blobs.(*blob.S3).Uploads(ctx)
	require.NoError(t, err)
	require.Len(t, ups, 5)
	initiated := map[string]time.Time{}
	for _, u := range ups {
		initiated["lb/"+u.Key] = u.Initiated
	}
	require.True(t, initiated[writing].After(initiated[foreign]), "uploads stamped %v", initiated)
	// The clock moves to when only the first upload is older than the limit.
	clock.Set(initiated[foreign].Add(initiated[writing].Sub(initiated[foreign])/2 + uploadLimit))

	rep, err := b.runner.Janitor(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
	require.Equal(t, clock.Now(), rep.RanAt)
	require.Contains(t, rep.ScratchDropped, b.scratchName(t, finished))
	for _, kept := range []string{b.scratchName(t, live), b.scratchName(t, stuck), young} {
		require.NotContains(t, rep.ScratchDropped, kept)
	}
	require.Equal(t, 4, rep.UploadsAborted)
	require.ElementsMatch(t, []int64{stuck, orphan}, rep.RunsFailed)
	require.Equal(t, []int64{unreported}, rep.ReportsRequeued)

	// What it did is on record.
	rows, err := b.store.JanitorRunList(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, rep.ID, rows[0].ID)
	require.WithinDuration(t, rep.RanAt, rows[0].RanAt, time.Millisecond)
	require.Equal(t, rep.ScratchDropped, rows[0].ScratchDropped)
	require.Equal(t, 4, rows[0].UploadsAborted)
	require.ElementsMatch(t, []int64{stuck, orphan}, rows[0].RunsFailed)
	require.Equal(t, []int64{unreported}, rows[0].ReportsRequeued)
	require.Empty(t, rows[0].Errors)
	require.Contains(t, b.logs.String(), "dropped scratch database "+b.scratchName(t, finished))

	// Scratch databases: the finished run's and the old unknown one are gone
	// (the latter perhaps by another test's janitor); the live run's and the
	// young unknown one stay.
	require.False(t, b.dbExists(t, b.scratchName(t, finished)))
	require.False(t, b.dbExists(t, old))
	require.True(t, b.dbExists(t, b.scratchName(t, live)))
	require.True(t, b.dbExists(t, young))

	// Uploads: those no attempt can still write are aborted, at once for
	// runs of ours, after the limit for the foreign one; the one being
	// written and the one outside the prefix are still open.
	open := openUploads(t, client, bucket)
	for _, gone := range []string{stale, done, dead, foreign} {
		require.NotContains(t, open, gone)
	}
	require.Contains(t, open, writing)
	require.Contains(t, open, "elsewhere/not-lifeboats")

	// The stuck run: its stage failed with the reason, the stages before
	// report skipped, its job will never run again, and report ran.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run, err := b.runner.WaitRun(wctx, stuck)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	st := stageStatus(run)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	restore, _ := run.StageByName(lifeboat.StageRestore)
	require.Contains(t, restore.Error, "janitor: stage exceeded its timeout (running for 7h")
	require.Contains(t, run.Error, "restore: janitor: stage exceeded its timeout")
	require.Contains(t, b.logText(t, stuck), "restore failed: janitor: stage exceeded its timeout")
	b.requireScratchGone(t, stuck)
	state, cancelAttempted := b.jobState(t, stuckJob)
	require.True(t, state == "cancelled" || state == "discarded" || state == "running" && cancelAttempted,
		"the stuck stage's job must never run again: state %s, cancel attempted %v", state, cancelAttempted)

	// The orphan: its backup failed, report ran.
	run, err = b.runner.WaitRun(wctx, orphan)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	require.Equal(t, lifeboat.StageFailed, stageStatus(run)[lifeboat.StageBackup])
	require.Contains(t, run.Error, "backup: janitor: no job was left to run this stage (nothing happened for 1h")

	// The unreported run is reported and stays a success.
	run, err = b.runner.WaitRun(wctx, unreported)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)

	// The live run is untouched.
	run, err = b.store.RunGet(ctx, live)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunRunning, run.Status)
	require.Equal(t, lifeboat.StageRunning, stageStatus(run)[lifeboat.StageVerify])
	state, cancelAttempted = b.jobState(t, liveJob)
	require.Equal(t, "running", state)
	require.False(t, cancelAttempted)

	// Chat heard about all three; the heartbeat only about the success.
	chat := b.chat.received()
	require.Len(t, chat, 3)
	require.Contains(t, strings.Join(chat, "\n"), "janitor: stage exceeded its timeout")
	require.Contains(t, strings.Join(chat, "\n"), "janitor: no job was left")
	require.Len(t, b.heartbeat.received(), 1)

	// A second pass finds nothing more to do.
	rep, err = b.runner.Janitor(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.RunsFailed)
	require.Empty(t, rep.ReportsRequeued)
	require.Zero(t, rep.UploadsAborted)
	require.NotContains(t, rep.ScratchDropped, b.scratchName(t, live))
	require.NotContains(t, rep.ScratchDropped, young)
	require.True(t, b.dbExists(t, b.scratchName(t, live)))
}

func TestJanitorTrustsNoClockAheadAndWaitsForQueuedJobs(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Now())
	b := setup(t, options{clock: clock, noStart: true, superuser: true})
	ctx := janitorCtx(t)
	// Started long ago by the database's clock, but River still holds a
	// retry for it (workers were busy or down): not stuck.
	waiting := b.bareRun(t)
	b.setStages(t, waiting, 8*time.Hour, lifeboat.StageRunning)
	b.stateTx(t, func(tx *store.Tx) error {
		_, err := tx.PgxTx().Exec(ctx, `INSERT INTO river_job (args, kind, max_attempts, state, attempt, attempted_at, scheduled_at)
			VALUES ($1, 'lifeboat.backup', 4, 'retryable', 1, now() - interval '8 hours', now() + interval '1 minute')`,
			fmt.Sprintf(`{"run_id": %d, "target": "app"}`, waiting))
		return err
	})
	// Just started: no job yet, but nothing is late.
	fresh := b.bareRun(t)
	b.setStages(t, fresh, 0, lifeboat.StageRunning)
	// A scratch database of a run unknown here, created just now.
	unknown := b.scratchName(t, fresh+1000)
	b.createScratchNamed(t, unknown, "")
	// A clock far ahead of the databases' must not make any of them look
	// late or old (nor every other test's scratch databases).
	clock.Set(time.Now().Add(48 * time.Hour))

	rep, err := b.runner.Janitor(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.RunsFailed)
	require.Empty(t, rep.ReportsRequeued)
	require.NotContains(t, rep.ScratchDropped, unknown)
	require.True(t, b.dbExists(t, unknown))
	for _, id := range []int64{waiting, fresh} {
		run, err := b.store.RunGet(ctx, id)
		require.NoError(t, err)
		require.Equal(t, lifeboat.RunRunning, run.Status)
		require.Empty(t, run.Error)
	}
}

func TestJanitorWithoutSuperuser(t *testing.T) {
	t.Parallel()
	// A restore role that may create databases but not read file times:
	// the janitor drops only finished runs' scratch databases.
	role := testenv.RandomName("lbjanitor_")
	base := testenv.PGURL(t)
	testenv.Exec(t, base, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD 'janitorpw'", role))
	t.Cleanup(func() { dropRole(t, base, role) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.User = url.UserPassword(role, "janitorpw")
	b := setup(t, options{restoreURL: u.String()})
	b.waitJanitorPass(t)
	ctx := janitorCtx(t)

	finished := b.bareRun(t)
	b.setStages(t, finished, time.Hour, lifeboat.StageFailed, lifeboat.StageSkipped, lifeboat.StageSkipped, lifeboat.StageSucceeded)
	b.stateTx(t, func(tx *store.Tx) error { _, err := tx.RunFinish(ctx, finished); return err })
	b.createScratch(t, finished, role)
	live := b.bareRun(t)
	b.setStages(t, live, time.Minute, lifeboat.StageSucceeded, lifeboat.StageRunning)
	b.createScratch(t, live, role)
	unknown := b.scratchName(t, live+1000)
	b.createScratchNamed(t, unknown, role)

	rep, err := b.runner.Janitor(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
	require.Equal(t, []string{b.scratchName(t, finished)}, rep.ScratchDropped)
	require.False(t, b.dbExists(t, b.scratchName(t, finished)))
	require.True(t, b.dbExists(t, b.scratchName(t, live)))
	require.True(t, b.dbExists(t, unknown))
	require.Contains(t, b.logs.String(), "only those of finished runs are dropped")
}

func janitorCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitJanitorPass waits for the runner's first janitor pass (made on start).
func (b *bundle) waitJanitorPass(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		rows, err := b.store.JanitorRunList(context.Background(), 1)
		require.NoError(t, err)
		return len(rows) == 1
	}, 30*time.Second, 50*time.Millisecond, "the janitor runs when the process starts")
}

func (b *bundle) stateTx(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	require.NoError(t, b.store.InTx(context.Background(), fn))
}

func (b *bundle) stateExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.store.Pool().Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// newRun creates a queued run of "app" with no job, as StartRun would
// without its backup job.
func (b *bundle) bareRun(t *testing.T) int64 {
	t.Helper()
	var id int64
	b.stateTx(t, func(tx *store.Tx) (err error) {
		id, err = tx.RunCreate(context.Background(), "app", lifeboat.TriggerAPI)
		return err
	})
	return id
}

// setStages gives the run's first stages these statuses, as if they had
// happened ago (the last one starting then), and marks the run running.
func (b *bundle) setStages(t *testing.T, runID int64, ago time.Duration, statuses ...lifeboat.StageStatus) {
	t.Helper()
	for i, st := range statuses {
		var finished any
		if st != lifeboat.StageRunning {
			finished = "finished"
		}
		b.stateExec(t, `UPDATE run_stages SET status = $3, attempt = 1, started_at = now() - $4::interval,
			finished_at = CASE WHEN $5::text IS NULL THEN NULL ELSE now() - $4::interval END WHERE run_id = $1 AND stage = $2`,
			runID, string(lifeboat.Stages[i]), string(st), fmt.Sprintf("%d seconds", int(ago.Seconds())), finished)
	}
	b.stateExec(t, `UPDATE runs SET status = 'running', created_at = now() - $2::interval, started_at = now() - $2::interval
		WHERE id = $1`, runID, fmt.Sprintf("%d seconds", int((ago+time.Minute).Seconds())))
}

// insertRunningJob leaves a job as River does when the process working it
// dies: running, attempted ago.
func (b *bundle) insertRunningJob(t *testing.T, runID int64, kind string, attempt int, ago time.Duration) int64 {
	t.Helper()
	var id int64
	err := b.store.Pool().QueryRow(context.Background(), `INSERT INTO river_job
		(args, kind, max_attempts, state, attempt, attempted_at, attempted_by, scheduled_at)
		VALUES ($1, $2, $3, 'running', $4, now() - $5::interval, '{dead-process}', now() - $5::interval) RETURNING id`,
		fmt.Sprintf(`{"run_id": %d, "target": "app"}`, runID), kind, jobs.MaxAttempts, attempt,
		fmt.Sprintf("%d seconds", int(ago.Seconds()))).Scan(&id)
	require.NoError(t, err)
	return id
}

func (b *bundle) jobState(t *testing.T, id int64) (state string, cancelAttempted bool) {
	t.Helper()
	err := b.store.Pool().QueryRow(context.Background(),
		"SELECT state::text, metadata ? 'cancel_attempted_at' FROM river_job WHERE id = $1", id).Scan(&state, &cancelAttempted)
	require.NoError(t, err)
	return state, cancelAttempted
}

// createScratch creates the run's scratch database on the restore server.
func (b *bundle) createScratch(t *testing.T, runID int64, owner string) {
	t.Helper()
	b.createScratchNamed(t, b.scratchName(t, runID), owner)
}

// createScratchNamed creates a database on the test cluster (owned by
// owner, when set) and drops it, if still there, when the test ends.
func (b *bundle) createScratchNamed(t *testing.T, name, owner string) {
	t.Helper()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if owner != "" {
		sql += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	testenv.Exec(t, b.pgURL, sql)
	t.Cleanup(func() {
		if err := pgtool.DropDatabase(context.Background(), b.pgURL, name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
}

func (b *bundle) dbExists(t *testing.T, name string) bool {
	t.Helper()
	ok, err := pgtool.DatabaseExists(context.Background(), b.pgURL, name)
	require.NoError(t, err)
	return ok
}

// ageDatabase makes the database look created ago: the janitor reads a
// database's age from its PG_VERSION file's modification time.
func ageDatabase(t *testing.T, pgURL, name string, ago time.Duration) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var dir string
	var oid uint32
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('data_directory'), oid FROM pg_database WHERE datname = $1",
		name).Scan(&dir, &oid))
	when := time.Now().Add(-ago)
	require.NoError(t, os.Chtimes(filepath.Join(dir, "base", strconv.FormatUint(uint64(oid), 10), "PG_VERSION"), when, when))
}

// s3Client is a plain aws-sdk client of the test S3 server, to do what
// lifeboat's store never does on purpose: leave an upload open.
func s3Client(t *testing.T) *s3.Client {
	t.Helper()
	e := testenv.S3HTTP(t)
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(e.Region),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, "")))
	require.NoError(t, err)
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.Endpoint)
		o.UsePathStyle = true
	})
}

// startUpload begins a multipart upload of key and uploads its first part,
// as a process killed mid-backup leaves it.
func startUpload(t *testing.T, client *s3.Client, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	_, err = client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader(strings.Repeat("x", 1024))})
	require.NoError(t, err)
}

// openUploads lists the keys of the bucket's open multipart uploads.
func openUploads(t *testing.T, client *s3.Client, bucket string) []string {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}
