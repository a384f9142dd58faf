package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// Notifications of runs. Each (run, event, notifier) is one
// webhook_deliveries row, written with its job in the transaction of the
// stage result that causes the event: run.started (webhooks) with the backup
// stage's start, run.succeeded/failed/canceled (every notifier that takes
// it: chat, heartbeats, webhooks) with the report's result. The job sends
// it (a webhook: the stored payload, signed afresh), records every attempt,
// and notes the outcome in the report stage's figures (delivered, failed,
// errors). The watchdog's target.* events keep their own outbox
// (watchdog.go).

// QueueWebhooks is the queue of webhook deliveries: apart from the stages,
// so an event is not held behind an hour-long restore, and from the
// maintenance queue, so a slow receiver (each attempt may take the HTTP
// client's whole timeout) never delays a schedule tick.
const QueueWebhooks = "webhooks"

// webhookWorkers bounds concurrent deliveries per process. Each holds a
// database connection (the row's lock) across its request.
const webhookWorkers = 2

// DeliveryMaxAttempts bounds one delivery job's attempts (River's); with
// the default backoff of 10s·n² the last is about 23 minutes after the
// first. A redelivery starts a new job with attempts of its own.
const DeliveryMaxAttempts = 8

// deliveryTimeout bounds one attempt's job; the HTTP client's own timeout
// (10 s) is shorter.
const deliveryTimeout = time.Minute

// DeliveryArgs is the job of one webhook delivery; the row holds the rest.
type DeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

func (DeliveryArgs) Kind() string { return "lifeboat.webhook_delivery" }

// InsertOpts: no uniqueness by args, since a redelivery is a second job
// for the same row; the row's unique (run, event, notifier) and its owning
// job id keep the sending single.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: DeliveryMaxAttempts}
}

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	r *Runner
}

func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration { return deliveryTimeout }

func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(w.r.deps.Backoff(job.Attempt))
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	return w.r.deliver(ctx, job.Args.DeliveryID, job.ID, job.Attempt, job.MaxAttempts,
		func(ctx context.Context, tx *store.Tx) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver, pgx.Tx](ctx, tx.PgxTx(), job)
			return err
		})
}

// deliveredByJob says whether s hears of a run's start through a delivery
// (webhooks) rather than directly from the stage (a heartbeat's start
// signal, watchdog.go). How a run ended reaches every notifier through a
// delivery (queuedAtEnd).
func deliveredByJob(s notify.Sender) bool {
	_, ok := s.(*notify.Webhook)
	return ok
}

// queuedAtEnd says whether s is told of ev through a delivery: every
// notifier taking a run's end event is, so each (run, event, notifier) is
// sent by one job and recorded once, whatever happens to the report stage
// that queued it (a commit that fails after a send would otherwise repeat
// the send with the retry); only webhooks take run.started through one.
func queuedAtEnd(s notify.Sender, kind notify.Kind) bool {
	if s == nil || !notify.Accepts(s, kind) {
		return false
	}
	return kind != notify.KindRunStarted || deliveredByJob(s)
}

// deliver makes one attempt at delivery id as job jobID, all in one
// transaction that holds the row's lock across the request: a second run
// of the job (rescued while the first still runs, or after it) waits, then
// finds the delivery done and sends nothing. Success is recorded in the
// transaction that completes the job (complete), so a recorded success and
// a finished job are one fact. A failed attempt is recorded and returned
// for River to retry, or, permanent or last, recorded as given up.
//
// A job that does not own the row (superseded by a redelivery), or finds
// it delivered or given up, completes without sending.
func (r *Runner) deliver(ctx context.Context, id, jobID int64, attempt, maxAttempts int,
	complete func(context.Context, *store.Tx) error) error {
	var result error
	// The attempt is recorded even when a shutdown cancels the request.
	dbctx := context.WithoutCancel(ctx)
	err := r.deps.Store.InTx(dbctx, func(tx *store.Tx) error {
		result = nil
		d, owner, err := tx.DeliveryLock(dbctx, id)
		if errors.Is(err, lifeboat.ErrNotFound) {
			return complete(dbctx, tx) // its run was deleted
		}
		if err != nil {
			return err
		}
		if d.Status != lifeboat.DeliveryPending || owner != jobID {
			return complete(dbctx, tx)
		}
		sender, ok := r.catalog().Senders[d.Notifier]
		if !ok {
			gone := fmt.Errorf("notifier %q is no longer configured", d.Notifier)
			result = river.JobCancel(gone)
			if err := tx.ReportDeliveryNote(dbctx, d.RunID, d.Event, d.Notifier, gone.Error()); err != nil {
				return err
			}
			return tx.DeliveryAttemptFailed(dbctx, id, 0, gone.Error(), nil, time.Now())
		}
		code, sendErr := r.send(ctx, tx, sender, d)
		now := time.Now()
		if sendErr == nil {
			if err := tx.DeliveryDelivered(dbctx, id, code, now); err != nil {
				return err
			}
			if err := tx.ReportDeliveryNote(dbctx, d.RunID, d.Event, d.Notifier, ""); err != nil {
				return err
			}
			return complete(dbctx, tx)
		}
		// The report's figures say it failed (and why) until an attempt
		// succeeds; the delivery row keeps every attempt.
		if err := tx.ReportDeliveryNote(dbctx, d.RunID, d.Event, d.Notifier, sendErr.Error()); err != nil {
			return err
		}
		var next *time.Time
		switch {
		case lifeboat.IsPermanent(sendErr):
			// A 4xx (but 408/425/429), a redirect or a refused address:
			// retrying cannot help.
			result = river.JobCancel(sendErr)
		case errors.Is(ctx.Err(), context.Canceled):
			// Shutdown: tried again after restart without using up an attempt.
			at := now.Add(5 * time.Second)
			next, result = &at, river.JobSnooze(5*time.Second)
		case attempt >= maxAttempts:
			result = sendErr
		default:
			at := now.Add(r.deps.Backoff(attempt))
			next, result = &at, sendErr
		}
		return tx.DeliveryAttemptFailed(dbctx, id, code, sendErr.Error(), next, now)
	})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", id, err)
	}
	return result
}

// send makes one attempt at d with sender: a webhook gets the stored
// payload (code is its answer's status); chat and heartbeats get the event
// rebuilt from the finished run, as it is now recorded (code 0).
func (r *Runner) send(ctx context.Context, tx *store.Tx, sender notify.Sender, d lifeboat.Delivery) (code int, err error) {
	if hook, ok := sender.(*notify.Webhook); ok {
		return hook.Deliver(ctx, d.MessageID, d.Payload)
	}
	run, err := tx.RunGet(context.WithoutCancel(ctx), d.RunID)
	if err != nil {
		return 0, err
	}
	ev := notify.NewEvent(run, r.runURL(run.ID), d.CreatedAt)
	ev.Kind = notify.Kind(d.Event)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return 0, sender.Send(sctx, ev)
}

// enqueueDeliveriesTx queues ev to each notifier of its run's target that
// takes it through a delivery (queuedAtEnd), with one job per new row, in
// tx. A row already there for (run, event, notifier) stays as it is and
// gets no second job.
func (r *Runner) enqueueDeliveriesTx(ctx context.Context, tx *store.Tx, ev notify.Event) error {
	t, ok, err := r.runTargetTx(ctx, tx, ev.Run) // the run's own notifiers (run_target.go)
	if err != nil || !ok {
		return err
	}
	var body []byte
	for _, name := range t.Notify {
		if !queuedAtEnd(r.catalog().Senders[name], ev.Kind) {
			continue
		}
		if body == nil {
			var err error
			if body, err = notify.Payload(ev); err != nil {
				return fmt.Errorf("%s of run %d: %w", ev.Kind, ev.Run.ID, err)
			}
		}
		id, created, err := tx.DeliveryCreate(ctx, store.NewDelivery{RunID: ev.Run.ID, Notifier: name,
			Event: string(ev.Kind), MessageID: notify.MessageID(ev), Payload: body})
		if err != nil || !created {
			return err
		}
		res, err := r.client.InsertTx(ctx, tx.PgxTx(), DeliveryArgs{DeliveryID: id}, nil)
		if err != nil {
			return fmt.Errorf("enqueue delivery %d: %w", id, err)
		}
		if err := tx.DeliveryOwn(ctx, id, res.Job.ID); err != nil {
			return err
		}
	}
	return nil
}

// hasWebhooks says whether any notifier of target is a webhook.
func (r *Runner) hasWebhooks(target string) bool {
	t, ok := r.conf().Target(target)
	if !ok {
		return false
	}
	for _, name := range t.Notify {
		if deliveredByJob(r.catalog().Senders[name]) {
			return true
		}
	}
	return false
}

// firstStage is the stage that starts run's work: backup, or restore for a
// retry that reused an earlier backup (its backup stage never runs).
func firstStage(run lifeboat.Run) lifeboat.StageName {
	if run.Artifact != nil && run.Artifact.ReusedFromRun != 0 {
		return lifeboat.StageRestore
	}
	return lifeboat.StageBackup
}

// stageStart marks a stage running. The first stage's start also queues
// run.started to the target's webhooks in the same transaction; its
// retries meet the first attempt's rows, so the event is queued once.
func (r *Runner) stageStart(ctx context.Context, run lifeboat.Run, stage lifeboat.StageName, attempt int) error {
	if stage != firstStage(run) || !r.hasWebhooks(run.Target) {
		return r.deps.Store.StageStart(ctx, run.ID, stage, attempt)
	}
	return r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.StageStart(ctx, run.ID, stage, attempt); err != nil {
			return err
		}
		started, err := tx.RunGet(ctx, run.ID)
		if err != nil {
			return err
		}
		return r.enqueueDeliveriesTx(ctx, tx, notify.NewStartedEvent(started, r.runURL(run.ID), r.deps.Now()))
	})
}

// enqueueRunEndTx queues the finished run's event (run.succeeded,
// run.failed or run.canceled) to each of its notifiers that takes it, in
// the report's transaction.
func (r *Runner) enqueueRunEndTx(ctx context.Context, tx *store.Tx, run lifeboat.Run) error {
	return r.enqueueDeliveriesTx(ctx, tx, notify.NewEvent(run, r.runURL(run.ID), r.deps.Now()))
}

// Redeliver queues delivery id again as a new job: it becomes pending (its
// attempt count and last answer kept) and is sent with the same webhook-id
// and body, signed afresh (chat and heartbeats: the event rebuilt from the
// run). A job still retrying it is superseded and sends nothing more. An
// unknown id is ENOTFOUND; a notifier no longer configured is ECONFLICT.
func (r *Runner) Redeliver(ctx context.Context, id int64) (lifeboat.Delivery, error) {
	var d lifeboat.Delivery
	err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		cur, _, err := tx.DeliveryLock(ctx, id)
		if errors.Is(err, lifeboat.ErrNotFound) {
			return &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("delivery %d not found", id)}
		}
		if err != nil {
			return err
		}
		if _, ok := r.catalog().Senders[cur.Notifier]; !ok {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "delivery %d: notifier %q is no longer configured", id, cur.Notifier)
		}
		res, err := r.client.InsertTx(ctx, tx.PgxTx(), DeliveryArgs{DeliveryID: id}, nil)
		if err != nil {
			return fmt.Errorf("enqueue redelivery %d: %w", id, err)
		}
		d, err = tx.DeliveryRequeue(ctx, id, res.Job.ID, time.Now())
		return err
	})
	return d, err
}

// DeliveryList returns a run's webhook deliveries, oldest first (for the
// API, which reaches jobs only).
func (r *Runner) DeliveryList(ctx context.Context, runID int64) ([]lifeboat.Delivery, error) {
	return r.deps.Store.DeliveryList(ctx, runID)
}

// WaitDeliveries waits until every delivery of run runID (chat, heartbeat,
// webhook) has had its first attempt, or ctx ends: the foreground
// `lifeboat run` would otherwise exit before its notifications were sent. Retries still pending are
// sent by the next process that works jobs (they are River jobs).
func (r *Runner) WaitDeliveries(ctx context.Context, runID int64) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		ds, err := r.deps.Store.DeliveryList(ctx, runID)
		if err != nil {
			return err
		}
		untried := 0
		for _, d := range ds {
			if d.Status == lifeboat.DeliveryPending && d.Attempts == 0 {
				untried++
			}
		}
		if untried == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d notifications of run %d not yet tried: %w", untried, runID, ctx.Err())
		case <-t.C:
		}
	}
}
