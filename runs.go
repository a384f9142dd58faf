package lifeboat

import "time"

// RunStatuses lists every run status, in lifecycle order.
var RunStatuses = []RunStatus{RunQueued, RunRunning, RunSucceeded, RunFailed, RunCanceled}

// Triggers lists every trigger.
var Triggers = []Trigger{TriggerSchedule, TriggerAPI, TriggerWebhook, TriggerDashboard, TriggerCLI, TriggerRetry}

// IdempotencyWindow is how long a run request's idempotency key keeps
// returning the run it first created.
const IdempotencyWindow = 24 * time.Hour

// RunRequest asks for a run of a target.
type RunRequest struct {
	Target  string
	Trigger Trigger
	// Queue lets the run wait behind the target's active run; without it
	// an active (queued or running) run is a conflict.
	Queue bool
	// IdempotencyKey, when set, makes a repeat of the request within
	// IdempotencyWindow return the run the first one created. Keys are
	// per target.
	IdempotencyKey string
}

// RunFilter selects runs for a list, newest first.
type RunFilter struct {
	Target   string      // empty: every target
	Statuses []RunStatus // empty: any
	Triggers []Trigger   // empty: any
	// Since and Until bound created_at: Since <= created_at < Until.
	Since, Until *time.Time
	// BeforeID continues a list: only runs with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int
}
