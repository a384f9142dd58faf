package lifeboat

import "time"

// CopyStatus is where one stored copy of a backup is.
type CopyStatus string

const (
	// CopyStored: written, its bytes not yet read back.
	CopyStored CopyStatus = "stored"
	// CopyVerified: its stored bytes were read back and matched the sha256.
	CopyVerified CopyStatus = "verified"
	// CopyFailed: writing or reading it back failed (Error says why).
	CopyFailed CopyStatus = "failed"
)

// Copy is one stored copy of a backup. A target may write each backup to
// several storages (3-2-1); a copy counts only once its stored bytes were
// read back and matched the backup's sha256, and each is proven by a real
// restore in rotation.
type Copy struct {
	Storage     string     `json:"storage"`
	Key         string     `json:"key"`
	StoredBytes int64      `json:"stored_bytes"`
	SHA256      string     `json:"sha256"`
	Status      CopyStatus `json:"status"`
	Error       string     `json:"error,omitempty"`
	VerifiedAt  *time.Time `json:"verified_at,omitempty"`
	// ProvenByRun is the latest run whose restore read this copy and passed
	// its verification.
	ProvenByRun int64      `json:"proven_by_run,omitempty"`
	ProvenAt    *time.Time `json:"proven_at,omitempty"`
	// LockMode and LockedUntil are its S3 Object Lock: until then nobody
	// (compliance) or only a bypassing user (governance) can delete it.
	LockMode    string     `json:"lock_mode,omitempty"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	// PrunedAt is set once retention deleted this copy, with the reason.
	PrunedAt     *time.Time `json:"pruned_at,omitempty"`
	PrunedReason string     `json:"pruned_reason,omitempty"`
}

// Good reports whether the copy is verified and still stored.
func (c Copy) Good() bool { return c.Status == CopyVerified && c.PrunedAt == nil }

// Locked reports whether the copy's Object Lock still holds at now.
func (c Copy) Locked(now time.Time) bool { return c.LockedUntil != nil && now.Before(*c.LockedUntil) }
