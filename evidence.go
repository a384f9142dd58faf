package lifeboat

import (
	"encoding/json"
	"time"
)

// EvidenceFormat names the signed evidence document's format; a change to
// its meaning takes a new name.
const EvidenceFormat = "lifeboat-evidence/1"

// MaxEvidencePeriod bounds one report's period.
const MaxEvidencePeriod = 400 * 24 * time.Hour

// EvidenceReport is what an auditor asks for (ISO 27001 A.8.13, SOC 2):
// proof that a target's backups were restored and checked, run by run,
// over a period. Scope is one target's name, or "all targets".
type EvidenceReport struct {
	Format      string           `json:"format"`
	Scope       string           `json:"scope"`
	From        time.Time        `json:"from"`
	To          time.Time        `json:"to"`
	GeneratedAt time.Time        `json:"generated_at"`
	Summary     string           `json:"summary"`
	Targets     []EvidenceTarget `json:"targets"`
}

// EvidenceTarget is one target's evidence over the period.
type EvidenceTarget struct {
	Target  string `json:"target"`
	Summary string `json:"summary"`
	// Finished restore tests (runs that succeeded or failed; canceled and
	// unfinished runs are listed but not counted), scheduled ones apart.
	ScheduledTests  int `json:"scheduled_tests"`
	ScheduledPassed int `json:"scheduled_passed"`
	Tests           int `json:"tests"`
	Passed          int `json:"passed"`
	// LongestGap is the observed RPO: the longest time between two
	// verified backups (by when each was taken), counting from the last
	// verified backup before the period (or the period's start) to the end
	// of the period (or now).
	LongestGap EvidenceGap `json:"longest_gap"`
	// MaxRestoreSeconds is the longest restore of the period (observed
	// RTO); 0 without a finished restore.
	MaxRestoreSeconds float64           `json:"max_restore_seconds"`
	Failures          []EvidenceFailure `json:"failures"`
	Runs              []EvidenceRun     `json:"runs"`
}

// EvidenceGap is a stretch of time without a newer verified backup.
type EvidenceGap struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Hours float64   `json:"hours"`
	// FromRun is the run that verified the backup taken at From (0: none,
	// the gap starts with the period); ToRun the one taken at To (0: the
	// gap was still open when the period ended).
	FromRun int64 `json:"from_run,omitempty"`
	ToRun   int64 `json:"to_run,omitempty"`
}

// EvidenceRun is one run of the period as the report records it.
type EvidenceRun struct {
	ID           int64      `json:"id"`
	Trigger      Trigger    `json:"trigger"`
	Status       RunStatus  `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	// BackupAt is when its backup was taken (the backup stage's end, of the
	// run that took it when a retry reused it).
	BackupAt *time.Time `json:"backup_at,omitempty"`
	Artifact *Artifact  `json:"artifact,omitempty"`
	// RestoreSeconds is how long its restore took (observed RTO); absent
	// when the restore did not finish.
	RestoreSeconds *float64 `json:"restore_seconds,omitempty"`
	FailedStage    string   `json:"failed_stage,omitempty"`
	Error          string   `json:"error,omitempty"`
	// Checks of the restored database, with expected and observed values;
	// Gates compare the source with the previous verified backup.
	Checks   []CheckResult       `json:"checks"`
	Gates    []CheckResult       `json:"gates"`
	Baseline *BaselineAcceptance `json:"baseline_accepted,omitempty"`
}

// EvidenceFailure is a failed run and what ended the failure: the next
// run of the target that verified a backup.
type EvidenceFailure struct {
	RunID  int64     `json:"run_id"`
	At     time.Time `json:"at"`
	Stage  string    `json:"stage,omitempty"`
	Reason string    `json:"reason"`
	// EndedByRun is the target's next verified run (0: none in the period).
	EndedByRun int64      `json:"ended_by_run,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	Ended      string     `json:"ended"`
}

// SignedEvidence is the document lifeboat hands out: the report exactly as
// signed, and a detached Ed25519 signature over
// EvidenceFormat + "\n" + the report's bytes as they appear in the file.
type SignedEvidence struct {
	Format    string            `json:"format"`
	Report    json.RawMessage   `json:"report"`
	Signature EvidenceSignature `json:"signature"`
}

// EvidenceSignature says who signed and how.
type EvidenceSignature struct {
	Algorithm string `json:"algorithm"` // ed25519
	// KeyID is the first 16 hex digits of the SHA-256 of the public key.
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64, 32 bytes
	Value     string `json:"value"`      // base64, 64 bytes
}

// EvidenceKey is the public half of lifeboat's evidence signing key, as
// Settings shows it.
type EvidenceKey struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	// Source: "config" (evidence.signing_key_file) or "generated".
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}
