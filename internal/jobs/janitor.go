package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// JanitorArgs is the periodic janitor pass.
type JanitorArgs struct{}

func (JanitorArgs) Kind() string { return "lifeboat.janitor" }

type janitorWorker struct {
	river.WorkerDefaults[JanitorArgs]
	r *Runner
}

func (w *janitorWorker) Work(ctx context.Context, _ *river.Job[JanitorArgs]) error {
	_, err := w.r.Janitor(ctx)
	return err
}

// Timeout leaves room for dropping a few large scratch databases.
func (w *janitorWorker) Timeout(*river.Job[JanitorArgs]) time.Duration { return 10 * time.Minute }

// janitorJobs registers the janitor, on every process.
func (r *Runner) janitorJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	river.AddWorker(workers, &janitorWorker{r: r})
	return []*river.PeriodicJob{every(opts.JanitorInterval, JanitorArgs{})}
}

const (
	// janitorGrace is how far past its stage timeout a run must be, or how
	// long an active run must sit without any job to move it, before the
	// janitor calls it stuck.
	janitorGrace = 10 * time.Minute
	// uploadGrace is added to the longest stage timeout: a backup attempt's
	// multipart upload cannot outlive its attempt.
	uploadGrace = time.Hour
	// janitorForget is how long passes that did nothing stay recorded.
	janitorForget = 30 * 24 * time.Hour
)

// JanitorReport is what one janitor pass did, as recorded in janitor_runs.
type JanitorReport struct {
	ID             int64 // the janitor_runs row; 0 when it could not be written
	RanAt          time.Time
	ScratchDropped []string
	UploadsAborted int
	RunsFailed     []int64
	// ReportsRequeued are runs stuck in (or before) report whose report
	// job was enqueued again rather than failed.
	ReportsRequeued []int64
	Errors          []string
}

// Janitor cleans up after crashed processes and lost jobs, then records
// what it did:
//
//   - drops scratch databases (lifeboat_scratch_<installation>_<run id>) on the restore
//     server whose run has finished, or whose run this state database does
//     not know and which are older than any live run's could be;
//   - aborts multipart uploads under each S3 storage's prefix begun longer
//     ago than a backup attempt can last;
//   - fails the current stage of runs stuck past their stage timeout, or
//     left with no job to move them, and hands them to report.
//
// Each step goes on when another fails; the returned error joins them all.
// Every part is safe to run twice, and at once in several processes.
func (r *Runner) Janitor(ctx context.Context) (JanitorReport, error) {
	now := r.deps.Now()
	log := r.deps.Logger.With("component", "janitor")
	rep := JanitorReport{RanAt: now}
	var errs []error
	errs = append(errs, r.janitorScratch(ctx, now, log, &rep)...)
	errs = append(errs, r.janitorUploads(ctx, now, log, &rep)...)
	errs = append(errs, r.janitorStuckRuns(ctx, now, log, &rep)...)
	r.janitorLocal(log)
	for _, err := range errs {
		rep.Errors = append(rep.Errors, err.Error())
		log.Error("janitor: " + err.Error())
	}

	// The record is written even when the pass's context has ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	id, err := r.deps.Store.JanitorRunSave(sctx, store.JanitorRun{
		RanAt: now, ScratchDropped: rep.ScratchDropped, UploadsAborted: rep.UploadsAborted,
		RunsFailed: rep.RunsFailed, ReportsRequeued: rep.ReportsRequeued, Errors: strings.Join(rep.Errors, "\n"),
	}, now.Add(-janitorForget))
	if err != nil {
		errs = append(errs, err)
		log.Error("janitor: " + err.Error())
	}
	rep.ID = id

	level := slog.LevelDebug
	if len(rep.ScratchDropped)+rep.UploadsAborted+len(rep.RunsFailed)+len(rep.ReportsRequeued)+len(errs) > 0 {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "janitor pass", "scratch_dropped", len(rep.ScratchDropped), "uploads_aborted", rep.UploadsAborted,
		"runs_failed", len(rep.RunsFailed), "reports_requeued", len(rep.ReportsRequeued), "errors", len(errs))
	return rep, errors.Join(errs...)
}

// stageTimeout is the timeout the stage workers give target's stages.
func (r *Runner) stageTimeout(target string) time.Duration {
	if t, ok := r.conf().Target(target); ok && t.StageTimeout > 0 {
		return t.StageTimeout
	}
	return config.DefaultStageTimeout
}

// longestStageTimeout is the longest stage timeout of any configured target.
func (r *Runner) longestStageTimeout() time.Duration {
	var longest time.Duration
	for _, t := range r.conf().Targets {
		longest = max(longest, r.stageTimeout(t.Name))
	}
	if longest == 0 {
		return config.DefaultStageTimeout
	}
	return longest
}

// scratchMaxAge is how old a scratch database of a run unknown to this state
// database must be before it is dropped. A live run's scratch database is
// created by its last restore attempt and used by up to MaxAttempts verify
// attempts, each bounded by the stage timeout.
func (r *Runner) scratchMaxAge() time.Duration {
	return time.Duration(MaxAttempts+1) * r.longestStageTimeout()
}

// earlier returns the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// --- scratch databases ------------------------------------------------------

type scratchDB struct {
	name    string
	runID   int64
	created *time.Time // nil when the server would not say
}

type scratchList struct {
	dbs []scratchDB
	// serverNow is the restore server's clock, which stamped created.
	serverNow time.Time
	// agesKnown is false when the role may not call pg_stat_file.
	agesKnown bool
}

// listScratch lists the scratch databases on the restore server. A
// database's creation time is the modification time of its PG_VERSION file,
// written once by CREATE DATABASE; reading it takes pg_stat_file, which is
// for superusers unless EXECUTE was granted.
func listScratch(ctx context.Context, serverURL, install string) (scratchList, error) {
	scratchPrefix := pgtool.ScratchPrefix(install)
	var l scratchList
	conn, err := pgtool.Connect(ctx, serverURL)
	if err != nil {
		return l, fmt.Errorf("connect to restore server: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, `SELECT now(), has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE')`).
		Scan(&l.serverNow, &l.agesKnown); err != nil {
		return l, err
	}
	created := "NULL::timestamptz"
	if l.agesKnown {
		// missing_ok: a database in another tablespace keeps PG_VERSION elsewhere.
		created = "(pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification"
	}
	rows, err := conn.Query(ctx, "SELECT datname, "+created+" FROM pg_database WHERE datname LIKE $1 ORDER BY datname",
		strings.ReplaceAll(scratchPrefix, "_", `\_`)+"%")
	if err != nil {
		return l, err
	}
	defer rows.Close()
	for rows.Next() {
		var db scratchDB
		if err := rows.Scan(&db.name, &db.created); err != nil {
			return l, err
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(db.name, scratchPrefix), 10, 64)
		if err != nil || pgtool.ScratchName(install, id) != db.name {
			continue // not a name lifeboat gives
		}
		db.runID = id
		l.dbs = append(l.dbs, db)
	}
	return l, rows.Err()
}

// janitorScratch drops scratch databases left behind. A run's own report
// drops its scratch database; one is left when report never ran or its
// drop failed, or when this state database lost the run.
func (r *Runner) janitorScratch(ctx context.Context, now time.Time, log *slog.Logger, rep *JanitorReport) []error {
	server := r.conf().Restore.DatabaseURL
	if server == "" {
		return nil
	}
	install, err := r.installation(ctx)
	if err != nil {
		return []error{err}
	}
	list, err := listScratch(ctx, server, install)
	if err != nil {
		return []error{fmt.Errorf("list scratch databases: %w", err)}
	}
	if len(list.dbs) == 0 {
		return nil
	}
	if !list.agesKnown {
		log.Warn("cannot read when scratch databases were created (pg_stat_file needs a superuser or an EXECUTE grant " +
			"on the restore server): only those of finished runs are dropped")
	}
	ids := make([]int64, len(list.dbs))
	for i, db := range list.dbs {
		ids[i] = db.runID
	}
	statuses, err := r.deps.Store.RunStatuses(ctx, ids)
	if err != nil {
		return []error{err}
	}
	// Ages count on the server's clock, which stamped the files, unless
	// ours is behind it: a clock that jumps ahead must not make live
	// databases look old.
	serverNow := earlier(now, list.serverNow)
	maxAge := r.scratchMaxAge()
	var errs []error
	for _, db := range list.dbs {
		var why string
		st, known := statuses[db.runID]
		switch {
		case known && st.Finished():
			why = fmt.Sprintf("run %d is %s", db.runID, st)
		case known:
			continue // its stages use it; its report drops it
		case db.created == nil:
			continue
		case serverNow.Sub(*db.created) > maxAge:
			why = fmt.Sprintf("run %d is not in this state database and the database is %s old (limit %s)",
				db.runID, serverNow.Sub(*db.created).Round(time.Second), maxAge)
		default:
			continue // perhaps another lifeboat's live run
		}
		if err := pgtool.DropDatabase(ctx, server, db.name); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.ScratchDropped = append(rep.ScratchDropped, db.name)
		log.Info("dropped scratch database "+db.name, "reason", why)
	}
	return errs
}

// --- multipart uploads ------------------------------------------------------

// janitorUploads aborts the multipart uploads under each S3 storage's
// prefix that no backup attempt can still be writing: those of a run whose
// backup stage is not running (finished, failed, canceled, or its process
// died and the run was failed), and those begun before the running
// attempt started (an earlier attempt's). An upload whose key names no run
// of this database (another installation's, or not a backup) is aborted only
// once it is older than a backup attempt can last.
func (r *Runner) janitorUploads(ctx context.Context, now time.Time, log *slog.Logger, rep *JanitorReport) []error {
	limit := r.longestStageTimeout() + uploadGrace
	names := make([]string, 0, len(r.catalog().Stores))
	for name := range r.catalog().Stores {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		s3, ok := r.catalog().Stores[name].(*blob.S3)
		if !ok {
			continue
		}
		ups, err := s3.Uploads(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage %s: %w", name, err))
			continue
		}
		var ids []int64
		for _, u := range ups {
			if id, ok := blob.RunOfKey(u.Key); ok {
				ids = append(ids, id)
			}
		}
		attempts, err := r.deps.Store.BackupAttempts(ctx, ids)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage %s: %w", name, err))
			continue
		}
		n := 0
		for _, u := range ups {
			why := deadUpload(u, attempts, now, limit)
			if why == "" {
				continue
			}
			if err := s3.AbortUpload(ctx, u); err != nil {
				errs = append(errs, fmt.Errorf("storage %s: %w", name, err))
				continue
			}
			n++
			log.Info(fmt.Sprintf("aborted the multipart upload of %s: %s", u.Key, why), "storage", name)
		}
		rep.UploadsAborted += n
	}
	return errs
}

// uploadClockSkew is how far a storage server's clock (which stamps an
// upload's start) may run behind ours before an upload begun by the
// running attempt could look older than the attempt.
const uploadClockSkew = time.Minute

// deadUpload says why no backup attempt can still write u, or "" when one
// may.
func deadUpload(u blob.Upload, attempts map[int64]store.BackupAttempt, now time.Time, limit time.Duration) string {
	id, isRun := blob.RunOfKey(u.Key)
	a, known := attempts[id]
	switch {
	case !isRun || !known:
		if u.Initiated.Before(now.Add(-limit)) {
			return fmt.Sprintf("begun over %s ago", limit)
		}
		return ""
	case !a.Running:
		return fmt.Sprintf("run %d's backup is not running", id)
	case a.StartedAt != nil && u.Initiated.Before(a.StartedAt.Add(-uploadClockSkew)):
		return fmt.Sprintf("begun before run %d's current backup attempt", id)
	}
	return ""
}

// --- stuck runs -------------------------------------------------------------

// stageKinds are the job kinds that carry a run id.
var stageKinds = []string{BackupArgs{}.Kind(), RestoreArgs{}.Kind(), VerifyArgs{}.Kind(), ReportArgs{}.Kind()}

// stuckReason says why an active run is stuck, or "" when it is not.
//
// A run whose job waits in River's queue is not stuck: River will start
// it. Otherwise it is stuck when its running stage started longer ago than
// the stage timeout plus a grace (the worker's process died, or the worker
// ignores its deadline and River's rescuer has not stepped in), or when no
// job at all is left to move it and nothing happened for the grace (the
// last attempt was lost with its process, the job was deleted).
func (r *Runner) stuckReason(a store.ActiveRun, now time.Time) string {
	// Ages count on the state database's clock, which wrote the
	// timestamps, unless ours is behind it: a clock that jumps ahead must
	// not fail live runs.
	now = earlier(now, a.DBNow)
	if why := goneReason(a); why != "" {
		return why
	}
	running := false
	for _, j := range a.Jobs {
		if j.State != "running" {
			return ""
		}
		running = true
	}
	if a.StageStatus == lifeboat.StageRunning && a.StageStartedAt != nil {
		timeout := r.stageTimeout(a.Target)
		if age := now.Sub(*a.StageStartedAt); age > timeout+janitorGrace {
			return fmt.Sprintf("janitor: stage exceeded its timeout (running for %s; timeout %s, grace %s)",
				age.Round(time.Second), timeout, janitorGrace)
		}
	}
	if idle := now.Sub(a.LastActivity); !running && idle > janitorGrace {
		return fmt.Sprintf("janitor: no job was left to run this stage (nothing happened for %s)", idle.Round(time.Second))
	}
	return ""
}

// janitorStuckRuns fails the current stage of each stuck run and enqueues
// its report, which drops the scratch database, notifies, and finishes
// the run as failed.
func (r *Runner) janitorStuckRuns(ctx context.Context, now time.Time, log *slog.Logger, rep *JanitorReport) []error {
	runs, err := r.deps.Store.ActiveRuns(ctx, stageKinds)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, a := range runs {
		if r.stuckReason(a, now) == "" {
			continue
		}
		if err := r.unstick(ctx, a.ID, now, log, rep); err != nil {
			errs = append(errs, fmt.Errorf("stuck run %d: %w", a.ID, err))
		}
	}
	return errs
}

// unstick judges run id again under its stage rows' lock and, still stuck,
// in one transaction: cancels its remaining jobs so River never runs the
// stage again behind report's back, fails the current stage with the
// reason (skipping the stages before report), and enqueues report. A run
// stuck in report itself is not failed (its stages' outcome stands): its
// report is enqueued again.
func (r *Runner) unstick(ctx context.Context, id int64, now time.Time, log *slog.Logger, rep *JanitorReport) error {
	var (
		a               store.ActiveRun
		reason          string
		failed, skipped bool
	)
	err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		reason, failed, skipped = "", false, false
		var err error
		a, err = tx.ActiveRunLock(ctx, id, stageKinds)
		if errors.Is(err, lifeboat.ErrNotFound) {
			return nil // finished meanwhile
		}
		if err != nil {
			return err
		}
		if reason = r.stuckReason(a, now); reason == "" {
			return nil // moved meanwhile
		}
		for _, j := range a.Jobs {
			if j.Gone != "" && j.State == "running" {
				// Nobody will return from it: end it now.
				if err := tx.JobAbandon(ctx, j.ID, reason); err != nil {
					return err
				}
				continue
			}
			// A running job is only marked: River cancels it when its
			// worker returns, or its rescuer when the process is gone.
			if _, err := r.client.JobCancelTx(ctx, tx.PgxTx(), j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return fmt.Errorf("cancel job %d (%s): %w", j.ID, j.Kind, err)
			}
		}
		if a.Stage != "" && a.Stage != lifeboat.StageReport {
			if err := tx.StageFail(ctx, id, a.Stage, reason, nil); err != nil {
				return err
			}
			failed = true
		}
		res, err := r.client.InsertTx(ctx, tx.PgxTx(), ReportArgs{stageRef{RunID: id, Target: a.Target}}, nil)
		if err != nil {
			return fmt.Errorf("enqueue report: %w", err)
		}
		// Only a report job still marked running can be in the way; once
		// River has cancelled it, a later pass enqueues report.
		skipped = res.UniqueSkippedAsDuplicate
		return nil
	})
	if err != nil || reason == "" {
		return err
	}
	stage := a.Stage
	if stage == "" {
		stage = lifeboat.StageReport
	}
	// The run's own log says what happened to it, for the dashboard.
	runLog := newRunLogger(r.deps.Store, log.Handler(), id, stage)
	switch {
	case failed:
		rep.RunsFailed = append(rep.RunsFailed, id)
		runLog.Error(fmt.Sprintf("%s failed: %s", stage, reason))
	case skipped:
		runLog.Warn(fmt.Sprintf("%s; its report job is still marked running, a later pass enqueues report again", reason))
	default:
		rep.ReportsRequeued = append(rep.ReportsRequeued, id)
		runLog.Warn(fmt.Sprintf("%s; report enqueued again", reason))
	}
	return nil
}

// janitorLocal removes the sandboxes (and their postgres) and restore
// spools that dead processes left on this host; start-up does it too.
func (r *Runner) janitorLocal(log *slog.Logger) {
	if r.sandboxes != nil {
		removed, err := sandbox.Sweep(r.conf().Restore.SandboxDir)
		if err != nil {
			log.Warn("janitor: sandboxes: " + err.Error())
		}
		if len(removed) > 0 {
			log.Info(fmt.Sprintf("janitor: removed %d sandbox director(ies) of stopped processes", len(removed)))
		}
	}
	if r.spool != nil {
		sweepSpools(filepath.Dir(r.spool.Path), log)
	}
}
