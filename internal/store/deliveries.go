package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// NewDelivery is a webhook event of a run to one notifier, to be delivered.
type NewDelivery struct {
	RunID     int64
	Notifier  string
	Event     string
	MessageID string
	Payload   []byte // JSON
}

const deliveryColumns = `id, run_id, notifier, event, message_id, payload::text, status, attempts, last_status_code,
	last_error, created_at, updated_at, last_attempt_at, next_attempt_at, delivered_at`

func scanDelivery(row pgx.Row) (lifeboat.Delivery, error) {
	var d lifeboat.Delivery
	var payload string
	err := row.Scan(&d.ID, &d.RunID, &d.Notifier, &d.Event, &d.MessageID, &payload, &d.Status, &d.Attempts,
		&d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.LastAttemptAt, &d.NextAttemptAt, &d.DeliveredAt)
	d.Payload = []byte(payload)
	return d, interpretError(err)
}

// DeliveryCreate records d as pending, in the transaction of the stage
// result that caused its event. A delivery of the same (run, event,
// notifier) already there wins: created is false and nothing changes, so a
// retried or rescued stage cannot queue an event twice.
func (t *Tx) DeliveryCreate(ctx context.Context, d NewDelivery) (id int64, created bool, err error) {
	err = t.tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (run_id, notifier, event, message_id, payload, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5::text::jsonb, now())
		ON CONFLICT (run_id, event, notifier) DO NOTHING RETURNING id`,
		d.RunID, d.Notifier, d.Event, d.MessageID, string(d.Payload)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("queue %s of run %d to %s: %w", d.Event, d.RunID, d.Notifier, err)
	}
	return id, true, nil
}

// DeliveryOwn makes jobID the job that delivers delivery id (the one just
// inserted for it): jobs it supersedes find they are not the owner and
// send nothing.
func (t *Tx) DeliveryOwn(ctx context.Context, id, jobID int64) error {
	if _, err := t.tx.Exec(ctx, "UPDATE webhook_deliveries SET job_id = $2 WHERE id = $1", id, jobID); err != nil {
		return fmt.Errorf("delivery %d: %w", id, err)
	}
	return nil
}

// DeliveryLock reads delivery id and locks it until the transaction ends:
// the job delivering it holds the lock across the request, so a second run
// of the same job waits, then finds it delivered. ownerJobID is the job that
// owns it (0: none yet).
func (t *Tx) DeliveryLock(ctx context.Context, id int64) (d lifeboat.Delivery, ownerJobID int64, err error) {
	var job *int64
	row := t.tx.QueryRow(ctx, "SELECT job_id, "+deliveryColumns+" FROM webhook_deliveries WHERE id = $1 FOR UPDATE", id)
	var payload string
	err = row.Scan(&job, &d.ID, &d.RunID, &d.Notifier, &d.Event, &d.MessageID, &payload, &d.Status, &d.Attempts,
		&d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.UpdatedAt, &d.LastAttemptAt, &d.NextAttemptAt, &d.DeliveredAt)
	if err != nil {
		return d, 0, fmt.Errorf("delivery %d: %w", id, interpretError(err))
	}
	d.Payload = []byte(payload)
	return d, derefInt(job), nil
}

// DeliveryDelivered records a successful attempt answered with status code
// (0: a sender that does not say, e.g. chat).
func (t *Tx) DeliveryDelivered(ctx context.Context, id int64, code int, now time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
		last_status_code = NULLIF($2, 0), last_error = '', last_attempt_at = $3, delivered_at = $3, next_attempt_at = NULL,
		updated_at = $3 WHERE id = $1`, id, code, now)
	if err != nil {
		return fmt.Errorf("delivery %d delivered: %w", id, err)
	}
	return nil
}

// ReportDeliveryNote notes an attempt at telling notifier of run runID's
// end (event) in the report stage's figures, which the run and target pages
// show, as its latest outcome: delivered when reason is empty, else failed
// with reason (it must carry no URL or secret, as notify's errors don't).
// A run.started delivery, or a run whose report recorded another event, is
// not noted.
func (t *Tx) ReportDeliveryNote(ctx context.Context, runID int64, event, notifier, reason string) error {
	_, err := t.tx.Exec(ctx, `UPDATE run_stages SET metrics = CASE WHEN $4 = '' THEN
			jsonb_set(jsonb_set(metrics,
				'{delivered}', (coalesce(metrics->'delivered', '[]') - $3::text) || to_jsonb($3::text)),
				'{failed}', coalesce(metrics->'failed', '[]') - $3::text) #- ARRAY['errors', $3::text]
		ELSE
			jsonb_set(jsonb_set(jsonb_set(metrics,
				'{failed}', (coalesce(metrics->'failed', '[]') - $3::text) || to_jsonb($3::text)),
				'{delivered}', coalesce(metrics->'delivered', '[]') - $3::text),
				'{errors}', coalesce(metrics->'errors', '{}') || jsonb_build_object($3::text, $4::text))
		END
		WHERE run_id = $1 AND stage = 'report' AND jsonb_typeof(metrics) = 'object' AND metrics->>'event' = $2`,
		runID, event, notifier, reason)
	if err != nil {
		return fmt.Errorf("note delivery of run %d to %s: %w", runID, notifier, err)
	}
	return nil
}

// DeliveryAttemptFailed records a failed attempt: its status code (0: no
// answer) and error, and either when it is tried next or, next nil, that it
// is given up.
func (t *Tx) DeliveryAttemptFailed(ctx context.Context, id int64, code int, reason string, next *time.Time, now time.Time) error {
	var status *int
	if code != 0 {
		status = &code
	}
	_, err := t.tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $2,
		last_error = $3, last_attempt_at = $5, next_attempt_at = $4, updated_at = $5,
		status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END
		WHERE id = $1`, id, status, reason, next, now)
	if err != nil {
		return fmt.Errorf("delivery %d attempt failed: %w", id, err)
	}
	return nil
}

// DeliveryRequeue makes a delivery pending again under job jobID, keeping
// its attempt count and last answer, and returns it.
func (t *Tx) DeliveryRequeue(ctx context.Context, id, jobID int64, now time.Time) (lifeboat.Delivery, error) {
	d, err := scanDelivery(t.tx.QueryRow(ctx, `UPDATE webhook_deliveries SET status = 'pending', job_id = $2,
		next_attempt_at = $3, updated_at = $3 WHERE id = $1 RETURNING `+deliveryColumns, id, jobID, now))
	if err != nil {
		return d, fmt.Errorf("redeliver %d: %w", id, err)
	}
	return d, nil
}

// DeliveryGet returns one delivery.
func (s *Store) DeliveryGet(ctx context.Context, id int64) (lifeboat.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE id = $1", id))
	if err != nil {
		return d, fmt.Errorf("delivery %d: %w", id, err)
	}
	return d, nil
}

// DeliveryList returns a run's deliveries in the order they were queued.
// An unknown run is lifeboat.ErrNotFound; a run without webhooks has none.
func (s *Store) DeliveryList(ctx context.Context, runID int64) ([]lifeboat.Delivery, error) {
	var out []lifeboat.Delivery
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", runID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("run %d: %w", runID, lifeboat.ErrNotFound)
			}
			rows, err := tx.Query(ctx, "SELECT "+deliveryColumns+" FROM webhook_deliveries WHERE run_id = $1 ORDER BY id", runID)
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.Delivery, error) { return scanDelivery(row) })
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("deliveries of run %d: %w", runID, err)
	}
	if out == nil {
		out = []lifeboat.Delivery{}
	}
	return out, nil
}
