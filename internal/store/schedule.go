package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// TargetState is what lifeboat remembers of a target between processes.
type TargetState struct {
	Target       string     `json:"target"`
	Paused       bool       `json:"paused"`
	Schedule     string     `json:"schedule"`
	Timezone     string     `json:"timezone"`
	NextDue      *time.Time `json:"next_due,omitempty"`
	OverdueSince *time.Time `json:"overdue_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ResumedAt    *time.Time `json:"resumed_at,omitempty"`
}

const targetStateColumns = "target, paused, schedule, timezone, next_due, overdue_since, created_at, resumed_at"

func scanTargetState(row pgx.Row) (TargetState, error) {
	var s TargetState
	err := row.Scan(&s.Target, &s.Paused, &s.Schedule, &s.Timezone, &s.NextDue, &s.OverdueSince, &s.CreatedAt, &s.ResumedAt)
	return s, interpretError(err)
}

// TargetStateLock returns the target's state, creating it on first sight,
// locked until the transaction ends: ticks of several processes serialise
// on it, which is what makes one run per slot.
func (t *Tx) TargetStateLock(ctx context.Context, target string) (TargetState, error) {
	if _, err := t.tx.Exec(ctx, "INSERT INTO target_state (target) VALUES ($1) ON CONFLICT DO NOTHING", target); err != nil {
		return TargetState{}, fmt.Errorf("target %s state: %w", target, err)
	}
	s, err := scanTargetState(t.tx.QueryRow(ctx, "SELECT "+targetStateColumns+" FROM target_state WHERE target = $1 FOR UPDATE", target))
	if err != nil {
		return s, fmt.Errorf("target %s state: %w", target, err)
	}
	return s, nil
}

// TargetStateSetNext records the next slot and what it was computed from.
func (t *Tx) TargetStateSetNext(ctx context.Context, target, schedule, timezone string, next time.Time) error {
	var due *time.Time
	if !next.IsZero() {
		due = &next
	}
	_, err := t.tx.Exec(ctx, "UPDATE target_state SET schedule = $2, timezone = $3, next_due = $4 WHERE target = $1",
		target, schedule, timezone, due)
	if err != nil {
		return fmt.Errorf("target %s next slot: %w", target, err)
	}
	return nil
}

// RunActive returns the target's queued or running run, if any.
func (t *Tx) RunActive(ctx context.Context, target string) (int64, bool, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `SELECT id FROM runs WHERE target = $1 AND status IN ('queued', 'running')
		ORDER BY id LIMIT 1`, target).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("active run of %s: %w", target, err)
	}
	return id, true, nil
}

// RunCreateScheduled creates the run of a slot unless that slot already has
// one (created false): the unique (target, scheduled_for) index is the
// last line of defence against a duplicate.
// now is the scheduler's clock, so lateness is measured on one clock.
func (t *Tx) RunCreateScheduled(ctx context.Context, target string, slot time.Time, missed int, now time.Time) (int64, bool, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `INSERT INTO runs (target, trigger, scheduled_for, missed_slots, created_at)
		VALUES ($1, 'schedule', $2, $3, $4)
		ON CONFLICT (target, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING RETURNING id`,
		target, slot, missed, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("create scheduled run of %s: %w", target, err)
	}
	for i, st := range lifeboat.Stages {
		if _, err := t.tx.Exec(ctx,
			"INSERT INTO run_stages (run_id, stage, position) VALUES ($1, $2, $3)", id, string(st), i); err != nil {
			return 0, false, fmt.Errorf("create run stages: %w", err)
		}
	}
	return id, true, nil
}

// ScheduleSkip records that slot was skipped.
func (t *Tx) ScheduleSkip(ctx context.Context, target string, slot time.Time, reason string, activeRunID int64) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO schedule_skips (target, scheduled_for, reason, active_run_id)
		VALUES ($1, $2, $3, $4) ON CONFLICT (target, scheduled_for) DO NOTHING`, target, slot, reason, activeRunID)
	if err != nil {
		return fmt.Errorf("record skipped slot of %s: %w", target, err)
	}
	return nil
}

// TargetPause pauses or resumes a target's schedule at now. Resuming
// forgets the next slot, so the next tick computes it from now rather than
// running the slots missed while paused, and records when, for the watchdog.
func (s *Store) TargetPause(ctx context.Context, target string, paused bool, now time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO target_state (target, paused, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (target) DO UPDATE SET paused = EXCLUDED.paused,
			next_due = CASE WHEN EXCLUDED.paused THEN target_state.next_due ELSE NULL END,
			resumed_at = CASE WHEN EXCLUDED.paused OR NOT target_state.paused THEN target_state.resumed_at ELSE $3 END`,
		target, paused, now)
	if err != nil {
		return fmt.Errorf("pause %s: %w", target, err)
	}
	return nil
}

// TargetSchedule returns the target's state and its most recent skips.
func (s *Store) TargetSchedule(ctx context.Context, target string, limit int) (TargetState, []lifeboat.ScheduleSkip, error) {
	st, err := scanTargetState(s.pool.QueryRow(ctx, "SELECT "+targetStateColumns+" FROM target_state WHERE target = $1", target))
	if errors.Is(err, lifeboat.ErrNotFound) {
		st, err = TargetState{Target: target, Timezone: "UTC"}, nil
	}
	if err != nil {
		return st, nil, fmt.Errorf("schedule of %s: %w", target, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT scheduled_for, reason, active_run_id, created_at FROM schedule_skips
		WHERE target = $1 ORDER BY scheduled_for DESC LIMIT $2`, target, limit)
	if err != nil {
		return st, nil, fmt.Errorf("skips of %s: %w", target, err)
	}
	skips, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.ScheduleSkip])
	return st, skips, err
}
