// Package config loads and validates lifeboat's YAML configuration once at
// start-up. Every error names the offending field by its path, e.g.
// "targets[2].schedule: expected 5 cron fields, got 4".
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	DatabaseURL string     `yaml:"database_url"`
	Listen      string     `yaml:"listen"`
	BaseURL     string     `yaml:"base_url"` // public URL of the dashboard, used in chat links
	Restore     Restore    `yaml:"restore"`
	Encryption  Encryption `yaml:"encryption"`
	Storages    []Storage  `yaml:"storages"`
	Outbound    Outbound   `yaml:"outbound"`
	Notifiers   []Notifier `yaml:"notifiers"`
	Targets     []Target   `yaml:"targets"`
	Dashboard   Dashboard  `yaml:"dashboard"`
	Evidence    Evidence   `yaml:"evidence"` // evidence.go
}

// Dashboard configures signing in to the pages. API tokens always work;
// an admin password is an alternative for people without one.
type Dashboard struct {
	AdminPassword     string `yaml:"admin_password"`
	AdminPasswordFile string `yaml:"admin_password_file"`
}

// MinAdminPassword is the shortest admin password accepted.
const MinAdminPassword = 12

// Restore says where runs restore and verify. In sandbox mode (the
// default) every run gets a throw-away PostgreSQL cluster of its own; in
// server mode scratch databases live on DatabaseURL's server, reached as a
// non-superuser role.
type Restore struct {
	// Mode is "sandbox" (default when DatabaseURL is empty) or "server".
	Mode        string `yaml:"mode"`
	DatabaseURL string `yaml:"database_url"`
	// ReaderURL is, in server mode, the read-only role counts and checks
	// connect as (pg_read_all_data, BYPASSRLS); the same server as DatabaseURL.
	ReaderURL string `yaml:"reader_url"`
	// AllowSuperuser accepts a superuser (or a server-file/program role) as
	// the server mode's role: the explicit opt-in for people who accept that
	// a hostile dump may take over the restore server. Warned on every run.
	AllowSuperuser bool `yaml:"allow_superuser"`
	// Jobs is pg_restore's -j; default: the number of CPUs, from 2 to 8.
	Jobs int `yaml:"jobs"`
	// SpoolDir holds the decrypted dump while pg_restore -j reads it; default os.TempDir().
	SpoolDir string `yaml:"spool_dir"`
	// SandboxDir holds sandbox clusters; default $TMPDIR/lifeboat-sandbox.
	SandboxDir string `yaml:"sandbox_dir"`
	// SandboxUser is the OS user sandboxes run as when lifeboat runs as
	// root; default postgres.
	SandboxUser string `yaml:"sandbox_user"`
	// MaintenanceWorkMem is the sandbox's maintenance_work_mem (e.g. 1GB);
	// default: an eighth of the machine's memory shared by the restore jobs.
	MaintenanceWorkMem string `yaml:"maintenance_work_mem"`
}

// Restore modes.
const (
	RestoreSandbox = "sandbox"
	RestoreServer  = "server"
)

// Sandboxed reports whether runs restore into a sandbox.
func (r Restore) Sandboxed() bool { return r.Mode != RestoreServer }

// Encryption holds the age identity (for restore) and recipients (for backup).
type Encryption struct {
	AgeIdentityFile string `yaml:"age_identity_file"`
	// AgeIdentityFiles rotates keys: the first file is the current identity
	// (new backups go to its recipients), the others are older ones kept so
	// the backups made with them still restore. Instead of AgeIdentityFile.
	AgeIdentityFiles []string `yaml:"age_identity_files"`
	AgeRecipients    []string `yaml:"age_recipients"`
}

// CurrentIdentityFile is the identity new backups are encrypted to
// ("": none configured).
func (e Encryption) CurrentIdentityFile() string {
	if e.AgeIdentityFile == "" && len(e.AgeIdentityFiles) > 0 {
		return e.AgeIdentityFiles[0]
	}
	return e.AgeIdentityFile
}

// identityFiles lists every configured identity file with its field path.
func (e Encryption) identityFiles() (paths, files []string) {
	if e.AgeIdentityFile != "" {
		paths, files = append(paths, "encryption.age_identity_file"), append(files, e.AgeIdentityFile)
	}
	for i, f := range e.AgeIdentityFiles {
		paths, files = append(paths, indexPath("encryption.age_identity_files", i)), append(files, f)
	}
	return paths, files
}

// Storage is where backup objects live.
type Storage struct {
	Name                string `yaml:"name"`
	Kind                string `yaml:"kind"` // s3 | fs
	Path                string `yaml:"path"` // fs
	Bucket              string `yaml:"bucket"`
	Prefix              string `yaml:"prefix"`
	Endpoint            string `yaml:"endpoint"`
	Region              string `yaml:"region"`
	AccessKeyID         string `yaml:"access_key_id"`
	SecretAccessKey     string `yaml:"secret_access_key"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	CAFile              string `yaml:"ca_file"` // extra CA for a self-hosted endpoint over TLS
	PartSizeMB          int    `yaml:"part_size_mb"`
	// ObjectLock writes every object (s3 only) under S3 Object Lock.
	ObjectLock ObjectLock `yaml:"object_lock"`
}

// ObjectLock is an S3 Object Lock retention: objects cannot be deleted or
// overwritten for Days after they are written (governance: except by a
// user allowed to bypass it; compliance: by nobody). Zero: no lock.
type ObjectLock struct {
	Mode string `yaml:"mode"` // governance | compliance
	Days int    `yaml:"days"`
}

// Enabled reports whether a lock is configured.
func (l ObjectLock) Enabled() bool { return l.Mode != "" || l.Days != 0 }

// Outbound restricts where destinations supplied through the API may
// point: the addresses their URLs and endpoints may reach, and the folders
// their fs storages may live in.
type Outbound struct {
	Allow []string `yaml:"allow"` // CIDRs of private/loopback ranges lifeboat may call
	// FSRoots are the folders under which an fs storage created through the
	// API may live (absolute paths). Default none: fs storages then come
	// from the config file only.
	FSRoots []string `yaml:"fs_roots"`
}

// Notifier is where results go.
type Notifier struct {
	Name       string `yaml:"name"`
	Kind       string `yaml:"kind"` // slack | heartbeat | webhook
	URL        string `yaml:"url"`
	URLFile    string `yaml:"url_file"`
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// Style is a heartbeat's protocol: plain (default: ping on verified
	// success only), healthchecks, cronitor or deadmanssnitch.
	Style string `yaml:"style"`
}

// Target is a source database lifeboat backs up.
type Target struct {
	Name            string        `yaml:"name"`
	DatabaseURL     string        `yaml:"database_url"`
	DatabaseURLFile string        `yaml:"database_url_file"`
	Schedule        string        `yaml:"schedule"`
	Timezone        string        `yaml:"timezone"`
	Storage         string        `yaml:"storage"`
	Notify          []string      `yaml:"notify"`
	RowCounts       string        `yaml:"row_counts"` // exact (default) | estimate
	Checks          []Check       `yaml:"checks"`
	StageTimeout    time.Duration `yaml:"stage_timeout"` // default 6h
	// LockTimeout bounds each wait of lifeboat's own source sessions (the
	// snapshot connection and pg_dump's) for a table lock another session
	// holds; the backup then fails naming the blocker and is retried.
	LockTimeout time.Duration `yaml:"lock_timeout"` // default 30s
	// Overlap says what a slot does while the previous run is active: skip
	// (default, recorded) or queue.
	Overlap string `yaml:"overlap"`
	// MaxAge is how old the last verified backup may get before the target
	// is overdue; default one schedule interval plus 50 %.
	MaxAge    time.Duration `yaml:"max_age"`
	Retention Retention     `yaml:"retention"`
	// Gates are the anomaly gates (gates.go); empty: the defaults.
	Gates Gates `yaml:"gates"`
	// TriggerSecret enables POST /hooks/targets/{name}: Standard Webhooks
	// signatures made with it (several, space-separated, for rotation).
	TriggerSecret     string `yaml:"trigger_secret"`
	TriggerSecretFile string `yaml:"trigger_secret_file"`
	// Storages writes every backup to several storages, each copy read back
	// and checked (3-2-1); the first is the primary. Instead of Storage,
	// which validation sets to the first of them.
	Storages []string `yaml:"storages"`
}

// StorageNames lists the storages the target's backups are written to, the
// primary first.
func (t *Target) StorageNames() []string {
	if len(t.Storages) > 0 {
		return t.Storages
	}
	if t.Storage == "" {
		return nil
	}
	return []string{t.Storage}
}

// Retention is a target's grandfather-father-son policy. Only verified
// backups count toward what is kept; with every keep_* zero nothing is
// pruned.
type Retention struct {
	KeepLast    int `yaml:"keep_last"`
	KeepDaily   int `yaml:"keep_daily"`
	KeepWeekly  int `yaml:"keep_weekly"`
	KeepMonthly int `yaml:"keep_monthly"`
	KeepYearly  int `yaml:"keep_yearly"`
	// MinVerified verified backups are always kept; default 1.
	MinVerified int `yaml:"min_verified"`
	// UnverifiedGrace is how long unverified and failed backups are kept;
	// default 7 days.
	UnverifiedGrace time.Duration `yaml:"unverified_grace"`
	// PartialGrace is how long an object without a manifest is kept;
	// default 1 day.
	PartialGrace time.Duration `yaml:"partial_grace"`
}

// Enabled reports whether the policy prunes anything.
func (r Retention) Enabled() bool {
	return r.KeepLast+r.KeepDaily+r.KeepWeekly+r.KeepMonthly+r.KeepYearly > 0
}

// Check is a user SQL check run against the restored scratch database.
type Check struct {
	Name    string        `yaml:"name"`
	SQL     string        `yaml:"sql"`
	Expect  string        `yaml:"expect"`
	Timeout time.Duration `yaml:"timeout"` // statement_timeout; default 60s
}
