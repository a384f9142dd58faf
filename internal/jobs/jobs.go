// Package jobs runs the pipeline on River: one job kind per stage, each
// stage's result committed together with the next stage's job.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	r := &Runner{deps: deps}
	r.cat.Store(&Catalog{Config: deps.Config, Stores: deps.Stores, Senders: deps.Senders})
	workers := river.NewWorkers()
	river.AddWorker(workers, &stageWorker[BackupArgs]{r: r, stage: lifeboat.StageBackup, do: r.backup})
	river.AddWorker(workers, &stageWorker[RestoreArgs]{r: r, stage: lifeboat.StageRestore, do: r.restore})
	river.AddWorker(workers, &stageWorker[VerifyArgs]{r: r, stage: lifeboat.StageVerify, do: r.verify})
	river.AddWorker(workers, &stageWorker[ReportArgs]{r: r, stage: lifeboat.StageReport, do: r.report})
	river.AddWorker(workers, &restoreIntoWorker{r: r}) // disaster recovery (restores.go)
	river.AddWorker(workers, &deliveryWorker{r: r})
	cfg := &river.Config{Workers: workers, Logger: deps.Logger.With("component", "river")}
	if opts.Workers > 0 {
		// Periodic jobs are inserted by the elected leader only; a separate
		// queue keeps them from waiting behind hour-long stages.
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers},
			QueueMaintenance: {MaxWorkers: 2}, QueueWebhooks: {MaxWorkers: webhookWorkers}}
		if periodic := r.periodicJobs(workers, opts); !opts.NoPeriodic {
			cfg.PeriodicJobs = periodic
		}
	} else {
		r.periodicJobs(workers, opts) // kinds still registered, for inserts
	}
	client, err := river.NewClient(riverpgxv5.New(deps.Store.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	r.client = client
	return r, nil
}

// Start starts working jobs (no-op for an insert-only client).
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	r.started.Store(true)
	return nil
}

// Stop lets running stages finish until ctx ends, then cancels them.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return r.client.StopAndCancel(context.Background())
	}
	return err
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

// WaitRun polls until the run has finished or ctx ends. A canceled run is
// canceled at once but finished (finished_at) once its report has run.
func (r *Runner) WaitRun(ctx context.Context, id int64) (lifeboat.Run, error) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := r.deps.Store.RunGet(ctx, id)
		if err != nil || run.Status.Finished() && run.FinishedAt != nil {
			return run, err
		}
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-t.C:
		}
	}
}
