package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// targetHealthSQL reads every named target's health in one statement: its
// state row by primary key, its newest run from (target, id DESC) and its
// newest succeeded run from the partial (target, finished_at DESC) index,
// one index probe each, so the cost grows with the targets, not the history.
// A verified retry's backup time is that of the run that wrote the backup.
//
// The newest run is asked for as a range "target >= name AND target <= name"
// ordered by (target, id DESC): with a plain equality the planner, guessing
// every target holds an equal share of the runs, may walk the primary key
// backwards filtering on target instead, which reads the whole history for
// a target with few or no runs (TestTargetHealthPlan). The range leaves
// (target, id DESC) the only index that yields that order.
const targetHealthSQL = `SELECT t.name, coalesce(ts.paused, false), ts.next_due, ts.overdue_since,
	lr.id, lr.status, lr.trigger, lr.created_at, lr.finished_at,
	lv.id, lv.finished_at, coalesce(o.id, lv.id), coalesce(o.created_at, lv.created_at)
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
LEFT JOIN target_state ts ON ts.target = t.name
LEFT JOIN LATERAL (SELECT id, status, trigger, created_at, finished_at FROM runs
	WHERE runs.target >= t.name AND runs.target <= t.name ORDER BY runs.target, runs.id DESC LIMIT 1) lr ON true
LEFT JOIN LATERAL (SELECT id, finished_at, created_at, artifact_from_run FROM runs
	WHERE runs.target = t.name AND status = 'succeeded' AND finished_at IS NOT NULL
	ORDER BY finished_at DESC LIMIT 1) lv ON true
LEFT JOIN runs o ON o.id = lv.artifact_from_run
ORDER BY t.i`

// TargetHealth returns the health of each named target, in one snapshot.
// A target lifeboat has never seen has a zero health (never run, not
// paused, not overdue). A paused target has no NextDue: no slot will run.
func (s *Store) TargetHealth(ctx context.Context, targets []string) (map[string]lifeboat.TargetHealth, error) {
	rows, err := s.pool.Query(ctx, targetHealthSQL, targets)
	if err != nil {
		return nil, fmt.Errorf("target health: %w", err)
	}
	defer rows.Close()
	out := make(map[string]lifeboat.TargetHealth, len(targets))
	for rows.Next() {
		var (
			h            lifeboat.TargetHealth
			lastID       *int64
			lastStatus   *lifeboat.RunStatus
			lastTrigger  *lifeboat.Trigger
			lastCreated  *time.Time
			lastFinished *time.Time
			verID        *int64
			verAt        *time.Time
			backupID     *int64
			backupAt     *time.Time
		)
		if err := rows.Scan(&h.Target, &h.Paused, &h.NextDue, &h.OverdueSince,
			&lastID, &lastStatus, &lastTrigger, &lastCreated, &lastFinished,
			&verID, &verAt, &backupID, &backupAt); err != nil {
			return nil, fmt.Errorf("target health: %w", err)
		}
		if h.Paused {
			h.NextDue = nil
		}
		h.Overdue = h.OverdueSince != nil
		if lastID != nil {
			h.LastRun = &lifeboat.RunBrief{ID: *lastID, Status: *lastStatus, Trigger: *lastTrigger,
				CreatedAt: *lastCreated, FinishedAt: lastFinished}
		}
		if verID != nil {
			h.LastVerified = &lifeboat.VerifiedBackup{RunID: *verID, VerifiedAt: *verAt,
				BackupRunID: *backupID, BackupAt: *backupAt}
		}
		out[h.Target] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("target health: %w", err)
	}
	return out, nil
}
