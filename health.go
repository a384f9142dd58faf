package lifeboat

import "time"

// TargetHealth is a target's state at a glance, for the target list: how
// its last run went, when a backup of it was last proven restorable, when
// the next scheduled run is due and what the watchdog thinks.
type TargetHealth struct {
	Target string `json:"target"`
	// LastRun is the target's newest run (it may still be active); nil
	// when the target has never run.
	LastRun *RunBrief `json:"last_run,omitempty"`
	// LastVerified is the newest succeeded run; nil when none.
	LastVerified *VerifiedBackup `json:"last_verified,omitempty"`
	// NextDue is the next scheduled slot; nil without a schedule, before
	// the scheduler first saw the target, and while it is paused.
	NextDue *time.Time `json:"next_due,omitempty"`
	Paused  bool       `json:"paused"`
	// Overdue is the watchdog's verdict: no fresh verified backup since
	// OverdueSince.
	Overdue      bool       `json:"overdue"`
	OverdueSince *time.Time `json:"overdue_since,omitempty"`
}

// RunBrief names a run and its outcome so far.
type RunBrief struct {
	ID         int64      `json:"id"`
	Status     RunStatus  `json:"status"`
	Trigger    Trigger    `json:"trigger"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// VerifiedBackup is a backup a run restored and verified.
type VerifiedBackup struct {
	RunID int64 `json:"run_id"`
	// VerifiedAt is when that run finished.
	VerifiedAt time.Time `json:"verified_at"`
	// BackupAt is when the backup was taken (its run was created): earlier
	// than VerifiedAt by a run's length, or by more when a retry verified an
	// earlier run's backup (BackupRunID).
	BackupAt    time.Time `json:"backup_at"`
	BackupRunID int64     `json:"backup_run_id"`
}
