package views

import "github.com/lifeboat-dev/lifeboat"

// Status is what a badge says: a word, always shown with its icon, so no
// status is conveyed by colour alone.
type Status string

const (
	// Target statuses (the overview's answer to "are my backups good?").
	StatusVerified Status = "verified"
	StatusFailing  Status = "failing"
	StatusOverdue  Status = "overdue"
	StatusNeverRun Status = "never run"
	StatusPaused   Status = "paused"

	// Run and stage statuses. A succeeded run is shown as verified: every
	// stage, verification included, passed.
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusFailed    Status = "failed"
	StatusCanceled  Status = "canceled"
	StatusSucceeded Status = "succeeded"
	StatusPending   Status = "pending"
	StatusSkipped   Status = "skipped"

	// Checks, backups and notifier deliveries.
	StatusPassed     Status = "passed"
	StatusUnverified Status = "unverified"
	StatusPruned     Status = "pruned"
	StatusDelivered  Status = "delivered"
	StatusNotSent    Status = "not sent"
)

// Tone is a status's colour family; the palette (palette.go) gives each
// tone its colours in both themes.
type Tone string

const (
	ToneGood    Tone = "good"
	ToneBad     Tone = "bad"
	ToneWarn    Tone = "warn"
	ToneInfo    Tone = "info"
	ToneNeutral Tone = "neutral"
)

// Tones lists every tone, for the palette checks.
var Tones = []Tone{ToneGood, ToneBad, ToneWarn, ToneInfo, ToneNeutral}

type statusLook struct {
	icon string
	tone Tone
}

// statusLooks is the one table of icons and tones; app.js takes its badges
// from markup rendered with it (StatusBadges), never from its own copy.
var statusLooks = map[Status]statusLook{
	StatusVerified:   {"✓", ToneGood},
	StatusFailing:    {"✗", ToneBad},
	StatusOverdue:    {"⏰", ToneWarn},
	StatusNeverRun:   {"○", ToneNeutral},
	StatusPaused:     {"⏸", ToneNeutral},
	StatusQueued:     {"⋯", ToneInfo},
	StatusRunning:    {"▶", ToneInfo},
	StatusFailed:     {"✗", ToneBad},
	StatusCanceled:   {"⊘", ToneNeutral},
	StatusSucceeded:  {"✓", ToneGood},
	StatusPending:    {"○", ToneNeutral},
	StatusSkipped:    {"↷", ToneNeutral},
	StatusPassed:     {"✓", ToneGood},
	StatusUnverified: {"?", ToneWarn},
	StatusPruned:     {"⌫", ToneNeutral},
	StatusDelivered:  {"✓", ToneGood},
	StatusNotSent:    {"–", ToneNeutral},
}

// Icon is the status's symbol, shown before its word.
func (s Status) Icon() string {
	if l, ok := statusLooks[s]; ok {
		return l.icon
	}
	return "•"
}

// Tone is the status's colour family.
func (s Status) Tone() Tone {
	if l, ok := statusLooks[s]; ok {
		return l.tone
	}
	return ToneNeutral
}

// Word is the status as text.
func (s Status) Word() string { return string(s) }

// RunStatus is how a run's status is shown.
func RunStatus(s lifeboat.RunStatus) Status {
	switch s {
	case lifeboat.RunQueued:
		return StatusQueued
	case lifeboat.RunRunning:
		return StatusRunning
	case lifeboat.RunSucceeded:
		return StatusVerified
	case lifeboat.RunFailed:
		return StatusFailed
	case lifeboat.RunCanceled:
		return StatusCanceled
	}
	return Status(s)
}

// StageStatus is how a stage's status is shown.
func StageStatus(s lifeboat.StageStatus) Status {
	switch s {
	case lifeboat.StagePending:
		return StatusPending
	case lifeboat.StageRunning:
		return StatusRunning
	case lifeboat.StageSucceeded:
		return StatusSucceeded
	case lifeboat.StageFailed:
		return StatusFailed
	case lifeboat.StageSkipped:
		return StatusSkipped
	}
	return Status(s)
}

// CheckStatus is how a check result is shown.
func CheckStatus(c lifeboat.CheckResult) Status {
	if c.Passed {
		return StatusPassed
	}
	return StatusFailed
}

// BackupStatus says whether a stored backup was proven to restore.
func BackupStatus(run lifeboat.RunStatus) Status {
	switch run {
	case lifeboat.RunSucceeded:
		return StatusVerified
	case lifeboat.RunFailed:
		return StatusFailed
	case lifeboat.RunQueued, lifeboat.RunRunning:
		return StatusRunning
	}
	return StatusUnverified
}

// TargetStatus is a target's one-word health. Precedence: paused (nobody
// expects runs), failing (the newest finished run failed: the most specific
// reason), overdue (no verified backup within the window), verified, then
// the first run in progress, then never run.
//
// lastOutcome is the status of the target's newest run that succeeded or
// failed ("" when none did: canceled runs say nothing about the pipeline);
// active is the status of its queued or running run, "" when none.
func TargetStatus(paused, overdue bool, lastOutcome, active lifeboat.RunStatus) Status {
	switch {
	case paused:
		return StatusPaused
	case lastOutcome == lifeboat.RunFailed:
		return StatusFailing
	case overdue:
		return StatusOverdue
	case lastOutcome == lifeboat.RunSucceeded:
		return StatusVerified
	case active == lifeboat.RunRunning:
		return StatusRunning
	case active == lifeboat.RunQueued:
		return StatusQueued
	}
	return StatusNeverRun
}

// badgeStatuses are the run statuses app.js can switch a badge to when a
// live tail ends.
var badgeStatuses = []lifeboat.RunStatus{lifeboat.RunQueued, lifeboat.RunRunning, lifeboat.RunSucceeded, lifeboat.RunFailed, lifeboat.RunCanceled}
