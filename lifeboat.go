// Package lifeboat is the vocabulary of the service: targets, runs, stages,
// their statuses and the error type every layer speaks. It imports only the
// standard library so every other package can depend on it.
package lifeboat

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RunStatus is the lifecycle state of a run.
type RunStatus string

const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCanceled  RunStatus = "canceled"
)

// Finished reports whether no further stage will change the run's outcome.
func (s RunStatus) Finished() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCanceled
}

// StageStatus is the state of one stage of a run.
type StageStatus string

const (
	StagePending   StageStatus = "pending"
	StageRunning   StageStatus = "running"
	StageSucceeded StageStatus = "succeeded"
	StageFailed    StageStatus = "failed"
	StageSkipped   StageStatus = "skipped"
)

// StageName names one step of the pipeline; each is one River job kind.
type StageName string

const (
	StageBackup  StageName = "backup"
	StageRestore StageName = "restore"
	StageVerify  StageName = "verify"
	StageReport  StageName = "report"
)

// Stages lists the pipeline in order.
var Stages = []StageName{StageBackup, StageRestore, StageVerify, StageReport}

// Next returns the stage after s, and false after report.
func (s StageName) Next() (StageName, bool) {
	for i, st := range Stages {
		if st == s && i+1 < len(Stages) {
			return Stages[i+1], true
		}
	}
	return "", false
}

// Trigger says what started a run.
type Trigger string

const (
	TriggerSchedule  Trigger = "schedule"
	TriggerAPI       Trigger = "api"
	TriggerWebhook   Trigger = "webhook"
	TriggerDashboard Trigger = "dashboard"
	TriggerCLI       Trigger = "cli"
	// TriggerRetry is a retry of a failed or canceled run (Run.RetryOf).
	TriggerRetry Trigger = "retry"
)

// Run is one pass of the pipeline for one target.
type Run struct {
	ID         int64      `json:"id"`
	Target     string     `json:"target"`
	Trigger    Trigger    `json:"trigger"`
	Status     RunStatus  `json:"status"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Artifact is nil until the backup stage has stored an object.
	Artifact *Artifact `json:"artifact,omitempty"`
	// ScheduledFor is the slot a scheduled run was started for (its
	// lateness is CreatedAt − ScheduledFor); MissedSlots counts earlier
	// slots that passed while lifeboat was down and were folded into it.
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	MissedSlots  int        `json:"missed_slots,omitempty"`
	// LateSeconds is how long after its slot a scheduled run was created.
	LateSeconds float64        `json:"late_seconds,omitempty"`
	Stages      []Stage        `json:"stages"`
	Checks      []CheckResult  `json:"checks"`
	Versions    map[string]any `json:"versions,omitempty"`

	// RetryOf is the failed or canceled run this run retries.
	RetryOf *int64 `json:"retry_of,omitempty"`
	// Baseline is set once a user accepted this run's snapshot as its
	// target's baseline for the anomaly gates (gates.go).
	Baseline *BaselineAcceptance `json:"baseline_accepted,omitempty"`
}

// Duration is the wall time from creation to finish (or now, when unfinished).
func (r Run) Duration(now time.Time) time.Duration {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(r.CreatedAt)
}

// FailedStage returns the first failed stage, if any.
func (r Run) FailedStage() (Stage, bool) {
	for _, s := range r.Stages {
		if s.Status == StageFailed {
			return s, true
		}
	}
	return Stage{}, false
}

// Artifact is the backup object a run produced.
type Artifact struct {
	Storage     string `json:"storage"`
	Key         string `json:"key"`
	StoredBytes int64  `json:"stored_bytes"`
	RawBytes    int64  `json:"raw_bytes"`
	SHA256      string `json:"sha256"`
	// ReusedFromRun is the run whose backup stage wrote the artifact, when
	// it is not this run: a retry that skipped its backup and restored the
	// earlier run's (its backup stage is "skipped").
	ReusedFromRun int64 `json:"reused_from_run,omitempty"`
	// PrunedAt is set once retention deleted the object, with the reason.
	PrunedAt     *time.Time `json:"pruned_at,omitempty"`
	PrunedReason string     `json:"pruned_reason,omitempty"`
	// Copies lists every stored copy, the primary (Storage, Key) first.
	Copies []Copy `json:"copies,omitempty"`
	// Recipients are the age recipients the backup was encrypted to.
	Recipients []string `json:"recipients,omitempty"`
}

// Stage is one step of a run.
type Stage struct {
	Name       StageName       `json:"name"`
	Status     StageStatus     `json:"status"`
	Attempt    int             `json:"attempt"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	Error      string          `json:"error,omitempty"`
	Metrics    json.RawMessage `json:"metrics,omitempty"`
}

// CheckResult is the outcome of one verification check.
type CheckResult struct {
	Name     string `json:"name"`
	Builtin  bool   `json:"builtin"`
	Passed   bool   `json:"passed"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
}

// LogLine is one persisted line of a run's log.
type LogLine struct {
	ID      int64     `json:"id"`
	Stage   StageName `json:"stage,omitempty"`
	Time    time.Time `json:"ts"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Error codes, mapped to HTTP statuses in exactly one place (internal/api).
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EINTERNAL     = "internal"
	EPERMANENT    = "permanent" // a stage error that retrying cannot fix
)

// Error is an application error with a machine-readable code and a message
// safe to show to users.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, never shown to users
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Message
	case e.Message == "":
		return e.Err.Error()
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Permanent marks err as one retrying cannot fix (bad credentials, version
// mismatch, checksum mismatch, failed check): the stage fails at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: EPERMANENT, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool { return ErrorCode(err) == EPERMANENT }

// ErrNotFound is returned when a requested thing does not exist.
var ErrNotFound = &Error{Code: ENOTFOUND, Message: "not found"}

// SourceSnapshot is what the source looked like in the dump's snapshot: the
// verify stage compares the restored scratch database against it.
type SourceSnapshot struct {
	RowCountsMethod string       `json:"row_counts_method"` // exact | estimate
	Tables          []TableCount `json:"tables"`
	// Objects lists other relations (views, indexes, sequences, materialized
	// views) as "kind schema.name".
	Objects []string `json:"objects"`
}

// TableCount is the row count of one table in the dump's snapshot.
type TableCount struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// StageByName returns the run's stage called name.
func (r Run) StageByName(name StageName) (Stage, bool) {
	for _, s := range r.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// TargetSchedule is a target's schedule as lifeboat keeps it.
type TargetSchedule struct {
	Target   string         `json:"target"`
	Schedule string         `json:"schedule"`
	Timezone string         `json:"timezone"`
	Paused   bool           `json:"paused"`
	NextDue  *time.Time     `json:"next_due,omitempty"`
	Upcoming []time.Time    `json:"upcoming"` // the next five slots
	Skips    []ScheduleSkip `json:"skips"`    // most recent first
}

// ScheduleSkip is a slot that started no run.
type ScheduleSkip struct {
	ScheduledFor time.Time `json:"scheduled_for"`
	Reason       string    `json:"reason"`
	ActiveRunID  *int64    `json:"active_run_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}
