package lifeboat

import (
	"encoding/json"
	"io"
	"time"
)

// Error codes of downloads and of backups that retention deleted.
const (
	EFORBIDDEN = "forbidden" // a download token that is not lifeboat's
	EGONE      = "gone"      // an expired download token, a pruned backup
)

// MaxDownloadTTL caps how long a backup's download URL works.
const MaxDownloadTTL = 15 * time.Minute

// Backup is a stored artifact: the backup object one run produced. Its id
// is the id of that run (one run, at most one artifact).
type Backup struct {
	ID          int64     `json:"id"`
	RunID       int64     `json:"run_id"`
	Target      string    `json:"target"`
	Storage     string    `json:"storage"`
	Key         string    `json:"key"`
	CreatedAt   time.Time `json:"created_at"`
	RawBytes    int64     `json:"raw_bytes"`
	StoredBytes int64     `json:"stored_bytes"`
	SHA256      string    `json:"sha256"`
	// Verified: the run's verify stage passed (the backup restored and
	// matched its source).
	Verified bool `json:"verified"`
	// PrunedAt is set once retention deleted the object, with the reason.
	PrunedAt     *time.Time `json:"pruned_at,omitempty"`
	PrunedReason string     `json:"pruned_reason,omitempty"`
	// Manifest is the manifest stored beside the object (format version,
	// versions, sizes, sha256, row counts and schema inventory); only a
	// single backup's read carries it. ManifestError says why it is absent.
	Manifest      json.RawMessage `json:"manifest,omitempty"`
	ManifestError string          `json:"manifest_error,omitempty"`
	// Copies lists every stored copy, the primary first: stored,
	// checksum-verified, restore-proven by which run, locked until when.
	Copies []Copy `json:"copies,omitempty"`
}

// BackupFilter selects a target's backups, newest first.
type BackupFilter struct {
	Target string
	// IncludePruned lists backups retention deleted too.
	IncludePruned bool
	// BeforeID continues a list: only backups with a smaller id (0: from the newest).
	BeforeID int64
	Limit    int
}

// BackupDownload is a short-lived URL that fetches a backup's stored
// object: the age-encrypted, zstd-compressed pg_dump custom-format archive,
// exactly as stored.
type BackupDownload struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	Filename  string    `json:"filename"`
	SHA256    string    `json:"sha256"`
	Bytes     int64     `json:"bytes"`
	// Decrypt says how to turn the download into a database.
	Decrypt string `json:"decrypt"`
}

// DownloadObject is a backup's stored bytes, opened for a download URL.
type DownloadObject struct {
	Body     io.ReadCloser
	Size     int64
	Filename string
	SHA256   string
}

// RestoreStatus is where a disaster-recovery restore is.
type RestoreStatus string

const (
	RestoreQueued    RestoreStatus = "queued"
	RestoreRunning   RestoreStatus = "running"
	RestoreSucceeded RestoreStatus = "succeeded"
	RestoreFailed    RestoreStatus = "failed"
)

// Finished reports whether the restore has ended.
func (s RestoreStatus) Finished() bool { return s == RestoreSucceeded || s == RestoreFailed }

// RestoreRequest asks for a backup to be restored into a database.
type RestoreRequest struct {
	BackupID    int64
	DatabaseURL string // postgres:// URL; its password is never stored in the clear
	// Clean drops the backup's objects before recreating them
	// (pg_restore --clean --if-exists); without it a database that holds
	// any relation is refused.
	Clean bool
}

// Restore is one disaster-recovery restore of a backup into a database
// named by the caller.
type Restore struct {
	ID       int64  `json:"id"`
	BackupID int64  `json:"backup_id"`
	Target   string `json:"target"`
	// DatabaseURL is the URL restored into, without its password.
	DatabaseURL string        `json:"database_url"`
	Clean       bool          `json:"clean"`
	Status      RestoreStatus `json:"status"`
	Attempt     int           `json:"attempt"`
	Error       string        `json:"error,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	StartedAt   *time.Time    `json:"started_at,omitempty"`
	FinishedAt  *time.Time    `json:"finished_at,omitempty"`
	// Metrics are the restore's figures (bytes, seconds, pg_restore version).
	Metrics json.RawMessage `json:"metrics,omitempty"`
	// Checks compare the restored database with the manifest's row counts
	// and schema inventory.
	Checks []CheckResult `json:"checks"`
	Logs   []LogLine     `json:"logs"`
}
