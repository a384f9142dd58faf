package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// Verified is a target's newest verified backup: the succeeded run that
// verified it, and when the backup was taken (its backup stage's end). A
// retry that verifies an old backup does not make the target's data any
// younger.
type Verified struct {
	RunID    int64
	BackupAt time.Time
}

// verifiedBackupsSQL selects the newest verified runs of target (an SQL
// expression: a parameter or a column) with when their backup was taken
// (at) and its stored bytes. Only the ten newest
// verified runs are looked at, through the (target, finished_at) order:
// a run that took its own backup has the newest backup of all of them, so
// only ten retries in a row of old backups could make the answer older
// than it is (the safe direction for an alarm).
func verifiedBackupsSQL(target string) string {
	return `SELECT r.id, coalesce(b.finished_at, r.finished_at) AS at, r.stored_bytes
	FROM (SELECT id, artifact_from_run, finished_at, stored_bytes FROM runs
		WHERE target = ` + target + ` AND status = 'succeeded' AND finished_at IS NOT NULL
		ORDER BY finished_at DESC LIMIT 10) r
	LEFT JOIN run_stages b ON b.run_id = coalesce(r.artifact_from_run, r.id) AND b.stage = 'backup'`
}

// WatchdogLock returns the target's state locked until the transaction
// ends, creating it on first sight with created_at = now (the injected
// clock: a never-verified target's silence counts from then), and the
// target's newest verified run (nil when none). Watchdogs of several
// processes serialise on the row, so only one of them changes
// overdue_since and writes its alerts.
func (t *Tx) WatchdogLock(ctx context.Context, target string, now time.Time) (TargetState, *Verified, error) {
	if _, err := t.tx.Exec(ctx, "INSERT INTO target_state (target, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
		target, now); err != nil {
		return TargetState{}, nil, fmt.Errorf("target %s state: %w", target, err)
	}
	st, err := t.TargetStateLock(ctx, target)
	if err != nil {
		return st, nil, err
	}
	var v Verified
	err = t.tx.QueryRow(ctx, `SELECT id, at FROM (`+verifiedBackupsSQL("$1")+`) v ORDER BY at DESC LIMIT 1`,
		target).Scan(&v.RunID, &v.BackupAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil, nil
	}
	if err != nil {
		return st, nil, fmt.Errorf("last verified run of %s: %w", target, err)
	}
	return st, &v, nil
}

// OverdueSet records when the target was found overdue; a zero since
// clears it.
func (t *Tx) OverdueSet(ctx context.Context, target string, since time.Time) error {
	var v *time.Time
	if !since.IsZero() {
		v = &since
	}
	if _, err := t.tx.Exec(ctx, "UPDATE target_state SET overdue_since = $2 WHERE target = $1", target, v); err != nil {
		return fmt.Errorf("target %s overdue: %w", target, err)
	}
	return nil
}

// AlertKind is what an alert says about its target.
type AlertKind string

const (
	AlertOverdue   AlertKind = "target.overdue"
	AlertRecovered AlertKind = "target.recovered"
)

// Alert is one watchdog message to one notifier.
type Alert struct {
	ID                int64
	Target            string
	Kind              AlertKind
	Notifier          string
	OverdueSince      time.Time
	LastVerifiedAt    *time.Time
	LastVerifiedRunID *int64
	WatchedSince      time.Time
	Window            time.Duration
	CreatedAt         time.Time
	Attempts          int
	DeliveredAt       *time.Time
	GivenUpAt         *time.Time
	LastError         string
}

const alertColumns = `id, target, kind, notifier, overdue_since, last_verified_at, last_verified_run_id,
	watched_since, window_seconds, created_at, attempts, delivered_at, given_up_at, last_error`

func scanAlert(row pgx.CollectableRow) (Alert, error) {
	var a Alert
	var window int64
	err := row.Scan(&a.ID, &a.Target, &a.Kind, &a.Notifier, &a.OverdueSince, &a.LastVerifiedAt, &a.LastVerifiedRunID,
		&a.WatchedSince, &window, &a.CreatedAt, &a.Attempts, &a.DeliveredAt, &a.GivenUpAt, &a.LastError)
	a.Window = time.Duration(window) * time.Second
	return a, err
}

// AlertsCreate queues alert a for each notifier, in the transaction that
// changed the target's overdue state. A repeat for the same spell is a
// no-op.
func (t *Tx) AlertsCreate(ctx context.Context, a Alert, notifiers []string) error {
	for _, n := range notifiers {
		_, err := t.tx.Exec(ctx, `INSERT INTO target_alerts (target, kind, notifier, overdue_since, last_verified_at,
			last_verified_run_id, watched_since, window_seconds, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
			a.Target, string(a.Kind), n, a.OverdueSince, a.LastVerifiedAt, a.LastVerifiedRunID, a.WatchedSince,
			int64(a.Window/time.Second), a.CreatedAt)
		if err != nil {
			return fmt.Errorf("queue %s alert of %s to %s: %w", a.Kind, a.Target, n, err)
		}
	}
	return nil
}

// AlertsClaim takes up to limit undelivered alerts for sending, counting an
// attempt and holding each until now+lease so no other process sends it
// meanwhile. An alert waits while an older one of the same target and
// notifier is pending, so "recovered" never overtakes "overdue".
func (s *Store) AlertsClaim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Alert, error) {
	rows, err := s.pool.Query(ctx, `UPDATE target_alerts SET attempts = attempts + 1, claimed_until = $2
		WHERE id IN (
			SELECT a.id FROM target_alerts a
			WHERE a.delivered_at IS NULL AND a.given_up_at IS NULL
				AND (a.claimed_until IS NULL OR a.claimed_until <= $1)
				AND NOT EXISTS (SELECT 1 FROM target_alerts e WHERE e.target = a.target AND e.notifier = a.notifier
					AND e.id < a.id AND e.delivered_at IS NULL AND e.given_up_at IS NULL)
			ORDER BY a.id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+alertColumns, now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("claim alerts: %w", err)
	}
	return out, nil
}

// AlertDelivered records a successful send.
func (s *Store) AlertDelivered(ctx context.Context, id int64, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE target_alerts SET delivered_at = $2, claimed_until = NULL, last_error = ''
		WHERE id = $1`, id, now)
	if err != nil {
		return fmt.Errorf("alert %d delivered: %w", id, err)
	}
	return nil
}

// AlertFailed records a failed send: released for the next watchdog pass,
// or given up for good.
func (s *Store) AlertFailed(ctx context.Context, id int64, reason string, giveUp bool, now time.Time) error {
	var gaveUp *time.Time
	if giveUp {
		gaveUp = &now
	}
	_, err := s.pool.Exec(ctx, `UPDATE target_alerts SET claimed_until = NULL, last_error = $2, given_up_at = $3
		WHERE id = $1`, id, reason, gaveUp)
	if err != nil {
		return fmt.Errorf("alert %d failed: %w", id, err)
	}
	return nil
}

// AlertList returns a target's alerts, oldest first.
func (s *Store) AlertList(ctx context.Context, target string) ([]Alert, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+alertColumns+" FROM target_alerts WHERE target = $1 ORDER BY id", target)
	if err != nil {
		return nil, fmt.Errorf("alerts of %s: %w", target, err)
	}
	out, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("alerts of %s: %w", target, err)
	}
	return out, nil
}

// LogTail returns the last n lines of a run's log, oldest first: the body
// of a healthchecks-style heartbeat. (Here, with the watchdog's queries,
// because this file is the notifiers' window on the state database.)
func (s *Store) LogTail(ctx context.Context, runID int64, n int) ([]lifeboat.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, stage, ts, level, message FROM (
		SELECT id, stage, ts, level, message FROM run_logs WHERE run_id = $1 ORDER BY id DESC LIMIT $2) t
		ORDER BY id`, runID, n)
	if err != nil {
		return nil, fmt.Errorf("log tail of run %d: %w", runID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.LogLine])
	if err != nil {
		return nil, fmt.Errorf("log tail of run %d: %w", runID, err)
	}
	return out, nil
}
