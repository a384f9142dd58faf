// Package jobs runs the pipeline on River: one job kind per stage, each
// stage's result committed together with the next stage's job.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// MaxAttempts bounds River's retries of a stage (its default of 25 would keep
// a broken backup "running" for days).
const MaxAttempts = 4

// Deps is everything the stage workers use, built once at start-up.
type Deps struct {
	Store *store.Store
	// Config, Stores and Senders are the first Catalog; Reload replaces
	// them (jobs read the current one through r.conf() and r.catalog()).
	Config     *config.Config
	Stores     map[string]blob.Store    // by storage name
	Senders    map[string]notify.Sender // by notifier name
	Recipients []age.Recipient          // backup encryption
	Identities []age.Identity           // restore decryption; may be empty on backup-only hosts
	Getenv     func(string) string
	Logger     *slog.Logger
	// Backoff is the wait before retry n (1-based); default 10s·n².
	Backoff func(attempt int) time.Duration
	// AfterStage, when set, runs after a stage's work succeeded and before
	// its result is committed. Tests use it to tamper between stages.
	AfterStage func(ctx context.Context, runID int64, stage lifeboat.StageName) error
	// Now is the clock; default time.Now. Tests inject one to cross slots
	// and DST changes.
	Now func() time.Time
}

// Runner owns the River client and the stage workers.
type Runner struct {
	deps   Deps
	client *river.Client[pgx.Tx]
	// started is set once Start succeeded, for Working (/readyz).
	started atomic.Bool
	// cat is the current Catalog (catalog.go); Deps' Config, Stores and
	// Senders are its first version.
	cat atomic.Pointer[Catalog]
	// workerID is this process's River client id and workers row
	// (liveness.go); beat keeps the row fresh while jobs are worked.
	workerID string
	beat     *beater
	works    bool // this process works jobs (not an insert-only client)
	// spool is this process's directory for decrypted dumps under
	// restore.spool_dir; a dead process's spools are found and removed.
	spool *sandbox.Workdir
	// sandboxes holds this process's sandboxes (restore.mode sandbox, on a
	// process that works jobs); sandboxQueue is the queue only this process
	// serves, where a verify job waits for the sandbox its restore left here.
	sandboxes    *sandbox.Manager
	sandboxQueue string
	// installID names scratch databases on a shared restore server.
	installID atomic.Pointer[string]
}

// Options tunes the River client.
type Options struct {
	// Workers is how many stages may run at once in this process; 0 makes
	// an insert-only client (a web-only replica).
	Workers int
	// NoPeriodic leaves the schedule tick, watchdog, retention and janitor
	// to other processes (lifeboat run: one run in the foreground, nothing else).
	NoPeriodic bool
	// How often the leader runs the periodic jobs; zero means the default.
	TickInterval      time.Duration // schedules: 15s
	WatchdogInterval  time.Duration // overdue targets: 1m
	JanitorInterval   time.Duration // leftovers: 10m
	RetentionInterval time.Duration // pruning: 24h (and after each verified run)
	LivenessInterval  time.Duration // stages of workers that stopped beating: 30s
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.TickInterval, 15*time.Second)
	def(&o.WatchdogInterval, time.Minute)
	def(&o.JanitorInterval, 10*time.Minute)
	def(&o.RetentionInterval, 24*time.Hour)
	def(&o.LivenessInterval, livenessInterval)
	return o
}

// New builds the River client with one worker per stage.
func New(deps Deps, opts Options) (*Runner, error) {
	if deps.Getenv == nil {
		return nil, errors.New("jobs: Getenv is required")
	}
	if deps.Backoff == nil {
		deps.Backoff = func(n int) time.Duration { return time.Duration(n*n) * 10 * time.Second }
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	opts = opts.withDefaults()
	r := &Runner{deps: deps, workerID: newWorkerID(), works: opts.Workers > 0}
	r.cat.Store(&Catalog{Config: deps.Config, Stores: deps.Stores, Senders: deps.Senders})
	if rc := deps.Config.Restore; opts.Workers > 0 && rc.Sandboxed() {
		// At start-up the manager also removes what dead processes left.
		m, err := sandbox.NewManager(sandbox.Options{Dir: rc.SandboxDir, User: rc.SandboxUser, Jobs: rc.Jobs, Max: opts.Workers,
			MaintenanceWorkMem: rc.MaintenanceWorkMem, Servers: pipeline.SandboxServers(deps.Getenv),
			Log: deps.Logger.With("component", "sandbox")})
		if err != nil {
			return nil, err
		}
		r.sandboxes = m
		r.sandboxQueue = "sandbox_" + m.ID()
	}
	if r.works {
		spool, err := claimSpool(deps.Config.Restore.SpoolDir, deps.Logger)
		if err != nil {
			if r.sandboxes != nil {
				_ = r.sandboxes.Close()
			}
			return nil, err
		}
		r.spool = spool
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &stageWorker[BackupArgs]{r: r, stage: lifeboat.StageBackup, do: r.backup})
	river.AddWorker(workers, &stageWorker[RestoreArgs]{r: r, stage: lifeboat.StageRestore, do: r.restore})
	river.AddWorker(workers, &stageWorker[VerifyArgs]{r: r, stage: lifeboat.StageVerify, do: r.verify})
	river.AddWorker(workers, &stageWorker[ReportArgs]{r: r, stage: lifeboat.StageReport, do: r.report})
	river.AddWorker(workers, &restoreIntoWorker{r: r}) // disaster recovery (restores.go)
	river.AddWorker(workers, &deliveryWorker{r: r})
	cfg := &river.Config{ID: r.workerID, Workers: workers, Logger: deps.Logger.With("component", "river")}
	if opts.Workers > 0 {
		// Periodic jobs are inserted by the elected leader only; a separate
		// queue keeps them from waiting behind hour-long stages.
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers},
			QueueMaintenance: {MaxWorkers: 2}, QueueWebhooks: {MaxWorkers: webhookWorkers}}
		if r.sandboxQueue != "" {
			cfg.Queues[r.sandboxQueue] = river.QueueConfig{MaxWorkers: opts.Workers}
		}
		if periodic := r.periodicJobs(workers, opts); !opts.NoPeriodic {
			cfg.PeriodicJobs = periodic
		}
	} else {
		r.periodicJobs(workers, opts) // kinds still registered, for inserts
	}
	client, err := river.NewClient(riverpgxv5.New(deps.Store.Pool()), cfg)
	if err != nil {
		r.closeLocal()
		return nil, fmt.Errorf("river client: %w", err)
	}
	r.client = client
	return r, nil
}

// Start starts working jobs (no-op for an insert-only client).
func (r *Runner) Start(ctx context.Context) error {
	if r.works && !r.conf().Restore.Sandboxed() {
		// A restore role that could take over the restore server is refused
		// before any job runs (and again before each restore).
		if err := r.checkRestoreRole(ctx, r.deps.Logger); lifeboat.IsPermanent(err) {
			return err
		} else if err != nil {
			r.deps.Logger.Warn("could not check the restore server's role at start-up (checked again before each restore): " + err.Error())
		}
	}
	if r.works {
		if err := r.startBeat(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
	}
	if err := r.client.Start(ctx); err != nil {
		r.stopBeat()
		return fmt.Errorf("start workers: %w", err)
	}
	r.started.Store(true)
	return nil
}

// Stop lets running stages finish until ctx ends, then cancels them; then
// it stops this process's sandboxes and its heartbeat.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = r.client.StopAndCancel(context.Background())
	}
	r.closeLocal()
	r.stopBeat()
	return err
}

// closeLocal stops this process's sandboxes and removes its spool directory.
func (r *Runner) closeLocal() {
	if r.sandboxes != nil {
		if err := r.sandboxes.Close(); err != nil {
			r.deps.Logger.Warn("sandbox: " + err.Error())
		}
	}
	if r.spool != nil {
		if err := r.spool.Release(); err != nil {
			r.deps.Logger.Warn("spool: " + err.Error())
		}
	}
}

// newWorkerID names this process for River (attempted_by) and the workers
// table: "lifeboat-<host>-<pid>-<random>".
func newWorkerID() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("lifeboat-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// StartRun creates a queued run of target and its backup job, queued
// behind the target's active run if there is one.
func (r *Runner) StartRun(ctx context.Context, target string, trigger lifeboat.Trigger) (lifeboat.Run, error) {
	run, _, err := r.RequestRun(ctx, lifeboat.RunRequest{Target: target, Trigger: trigger, Queue: true})
	return run, err
}

// RequestRun creates a queued run and its backup job in one transaction, so
// a run can never exist without the job that moves it. The transaction
// holds the target's state row, as the scheduler's tick does: a repeated
// idempotency key returns its run (created false), an active run is a
// conflict unless req.Queue, and concurrent requests decide one at a time.
func (r *Runner) RequestRun(ctx context.Context, req lifeboat.RunRequest) (run lifeboat.Run, created bool, err error) {
	target, ok := r.conf().Target(req.Target)
	if !ok {
		return run, false, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", req.Target)}
	}
	now := r.deps.Now()
	err = r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		created = false
		if err := tx.RunStartLock(ctx, req.Target, now); err != nil {
			return err
		}
		if req.IdempotencyKey != "" {
			id, ok, err := tx.IdempotencyKeyRun(ctx, req.Target, req.IdempotencyKey, now.Add(-lifeboat.IdempotencyWindow))
			if err != nil {
				return err
			}
			if ok {
				run, err = tx.RunGet(ctx, id)
				return err
			}
		}
		if !req.Queue {
			active, busy, err := tx.RunActive(ctx, req.Target)
			if err != nil {
				return err
			}
			if busy {
				return lifeboat.Errorf(lifeboat.ECONFLICT, "target %q already has an active run %d", req.Target, active)
			}
		}
		id, err := tx.RunCreate(ctx, req.Target, req.Trigger)
		if err != nil {
			return err
		}
		if err := pinTargetTx(ctx, tx, id, target); err != nil {
			return err
		}
		if _, err := r.client.InsertTx(ctx, tx.PgxTx(), BackupArgs{stageRef{RunID: id, Target: req.Target}}, nil); err != nil {
			return fmt.Errorf("enqueue backup of run %d: %w", id, err)
		}
		if req.IdempotencyKey != "" {
			if err := tx.IdempotencyKeySave(ctx, req.Target, req.IdempotencyKey, id, now); err != nil {
				return err
			}
		}
		run, err = tx.RunGet(ctx, id)
		created = err == nil
		return err
	})
	return run, created, err
}

// WaitRun polls until the run has finished and each of its notifications
// has been tried once, or ctx ends. A canceled run is canceled at once but
// finished (finished_at) once its report has run.
func (r *Runner) WaitRun(ctx context.Context, id int64) (lifeboat.Run, error) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := r.deps.Store.RunGet(ctx, id)
		if err != nil {
			return run, err
		}
		if run.Status.Finished() && run.FinishedAt != nil {
			// Its notifications are sent by their own jobs once the report
			// committed: the run has been reported when each was tried.
			if err := r.WaitDeliveries(ctx, id); err != nil {
				return run, err
			}
			return r.deps.Store.RunGet(ctx, id) // with the report's figures as its deliveries noted them
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-t.C:
		}
	}
}
