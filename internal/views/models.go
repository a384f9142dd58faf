package views

import (
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// View models: plain, already-computed values. Components never fetch or
// decide anything beyond presentation; times are time.Time shown in
// Page.Zone until app.js rewrites them in the viewer's zone, sizes are
// bytes, durations are time.Duration.

// Page is what every page's frame needs.
type Page struct {
	// Title is the <title> (before " · lifeboat"); each page writes its
	// own <h1>.
	Title string
	// Nav marks the current section in the navigation.
	Nav NavSection
	// SignedIn shows the navigation and the logout button.
	SignedIn bool
	// Now is the render time, for ages ("3 h ago") and durations so far.
	Now time.Time
	// Zone is the zone times are written in before app.js converts them
	// to the viewer's (nil: UTC).
	Zone *time.Location
	// Flashes are messages from the action that redirected here.
	Flashes []Flash
	// RiverUI shows the navigation's link to River's UI (RiverUIURL),
	// served by this process.
	RiverUI bool
	// CSRF, when Token is set, adds a hidden field to every POST form.
	// With http.CrossOriginProtection none is needed; this is the hook.
	CSRF CSRF
}

// NavSection is a navigation entry.
type NavSection string

const (
	NavOverview NavSection = "overview"
	NavRuns     NavSection = "runs"
	NavSettings NavSection = "settings"
)

// Flash is a one-line message after an action ("Run #12 started").
type Flash struct {
	Kind    FlashKind
	Message string
}

// FlashKind is a flash's tone.
type FlashKind string

const (
	FlashOK    FlashKind = "ok"
	FlashError FlashKind = "error"
	FlashInfo  FlashKind = "info"
)

// CSRF is a hidden form field carrying an anti-forgery token.
type CSRF struct{ Name, Token string }

// RunSummary is one run in a list or a row.
type RunSummary struct {
	ID        int64
	Target    string
	Trigger   lifeboat.Trigger
	Status    lifeboat.RunStatus
	CreatedAt time.Time
	// Duration is the run's wall time, so far when it is active.
	Duration    time.Duration
	StoredBytes int64 // 0: no artifact (yet)
	Error       string
	FailedStage lifeboat.StageName
}

// Summarize turns a run into a row.
func Summarize(r lifeboat.Run, now time.Time) RunSummary {
	s := RunSummary{ID: r.ID, Target: r.Target, Trigger: r.Trigger, Status: r.Status, CreatedAt: r.CreatedAt,
		Duration: r.Duration(now), Error: r.Error}
	if r.Artifact != nil {
		s.StoredBytes = r.Artifact.StoredBytes
	}
	if st, ok := r.FailedStage(); ok {
		s.FailedStage = st.Name
	}
	return s
}

// TargetRow is a target's health: the overview's row and the target page's
// header.
type TargetRow struct {
	Name     string
	Schedule string // cron; "" when only run by hand
	// Timezone is the schedule's IANA zone ("": UTC) and Zone the same,
	// loaded: the overview writes the schedule and the next run in it, named.
	Timezone string
	Zone     *time.Location
	Paused   bool
	// Overdue is the watchdog's verdict (no verified backup in the window).
	Overdue        bool
	LastVerifiedAt *time.Time
	// NextRunAt is the next scheduled slot; nil when paused or manual.
	NextRunAt *time.Time
	// LastRun is the newest run, whatever its status; nil when none.
	LastRun *RunSummary
	// History are the newest finished runs, oldest first: the overview's
	// sparkline shows the last SparkRuns, the target page charts them all.
	History []HistoryPoint
}

// lastOutcome is the status of the newest run that succeeded or failed.
func (t TargetRow) lastOutcome() lifeboat.RunStatus {
	if t.LastRun != nil && (t.LastRun.Status == lifeboat.RunSucceeded || t.LastRun.Status == lifeboat.RunFailed) {
		return t.LastRun.Status
	}
	for i := len(t.History) - 1; i >= 0; i-- {
		if s := t.History[i].Status; s == lifeboat.RunSucceeded || s == lifeboat.RunFailed {
			return s
		}
	}
	return ""
}

// ActiveRun is the target's queued or running run, if any.
func (t TargetRow) ActiveRun() *RunSummary {
	if t.LastRun != nil && !t.LastRun.Status.Finished() {
		return t.LastRun
	}
	return nil
}

// Status is the target's one-word health (see TargetStatus).
func (t TargetRow) Status() Status {
	var active lifeboat.RunStatus
	if a := t.ActiveRun(); a != nil {
		active = a.Status
	}
	return TargetStatus(t.Paused, t.Overdue, t.lastOutcome(), active)
}

// NeedsAttention reports whether the target belongs in the banner.
func (t TargetRow) NeedsAttention() bool {
	s := t.Status()
	return s == StatusFailing || s == StatusOverdue || (t.Overdue && !t.Paused)
}

// OverviewView is the overview page: one row per target.
type OverviewView struct {
	Page    Page
	Targets []TargetRow
}

// Attention lists the targets that are failing or overdue, for the banner.
func (v OverviewView) Attention() []TargetRow {
	var out []TargetRow
	for _, t := range v.Targets {
		if t.NeedsAttention() {
			out = append(out, t)
		}
	}
	return out
}

// RunsFilter is the runs page's filter form. Since and Until are shown as
// dates in Page.Zone; both days are included (the handler reads until=D as
// "before the day after D").
type RunsFilter struct {
	Target  string
	Status  lifeboat.RunStatus // "": any
	Trigger lifeboat.Trigger   // "": any
	Since   time.Time          // zero: unbounded
	Until   time.Time          // zero: unbounded
}

// RunsView is a page of the runs list.
type RunsView struct {
	Page    Page
	Filter  RunsFilter
	Targets []string // the target filter's choices
	Runs    []RunSummary
	// Cursor is the page's own cursor ("" on the first page).
	Cursor string
	// NextCursor continues the list; "" on the last page.
	NextCursor string
}

// RunView is one run's page.
type RunView struct {
	Page Page
	// Run has its stages, checks and artifact.
	Run lifeboat.Run
	// Logs are the run's lines, oldest first.
	Logs []lifeboat.LogLine
	// EarlierLogs says Logs are only the newest lines (the API has all).
	EarlierLogs bool
	// Deliveries are the notifications sent about this run.
	Deliveries []DeliveryRow
	// IdentityFile is the configured age identity's path, for the
	// commands that restore the artifact by hand ("": none configured).
	IdentityFile string
}

// TargetView is a target's page.
type TargetView struct {
	Page     Page
	Target   TargetRow
	Config   TargetConfig
	Schedule lifeboat.TargetSchedule
	// ScheduleZone is the target's timezone: upcoming slots are written in
	// it (not converted to the viewer's). nil: UTC.
	ScheduleZone *time.Location
	// Backups are the stored (not pruned) artifacts, newest first.
	Backups    []BackupRow
	Deliveries []DeliveryRow
	// Restores are the target's newest restores; MoreRestores says the
	// restores page has older ones.
	Restores     []RestoreRow
	MoreRestores bool
	// IdentityFile is the configured age identity's path ("": none).
	IdentityFile string
	// Undecryptable warns that retained backups were encrypted to
	// recipients no loaded identity matches ("": none).
	Undecryptable string
}

// TargetConfig is what a target is configured to do, secrets masked: the
// only way to fill DatabaseURL is RedactURL.
type TargetConfig struct {
	DatabaseURL Redacted
	Storage     string
	Notify      []string
	RowCounts   string // exact | estimate
	Checks      []CheckConfig
	// StageTimeout, MaxAge: 0 means the default (shown as such).
	StageTimeout time.Duration
	MaxAge       time.Duration
	Overlap      string // skip | queue
	Retention    RetentionConfig
	// TriggerSecretSet says inbound webhooks are enabled (the secret is
	// never shown).
	TriggerSecretSet bool
}

// CheckConfig is one of the target's SQL checks.
type CheckConfig struct{ Name, SQL, Expect string }

// RetentionConfig is a target's retention policy.
type RetentionConfig struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly int
	MinVerified                                              int
	UnverifiedGrace                                          time.Duration
}

// BackupRow is one stored artifact.
type BackupRow struct {
	RunID       int64
	CreatedAt   time.Time
	Storage     string
	Key         string
	SHA256      string
	StoredBytes int64
	// Status is the run's: succeeded means the backup was proven to restore.
	Status lifeboat.RunStatus
	// Copies are its stored copies (a target with several storages).
	Copies []lifeboat.Copy
}

// DeliveryRow is a notifier's latest delivery (target page) or one
// delivery about a run (run page).
type DeliveryRow struct {
	Notifier string
	Kind     string // slack | heartbeat | webhook
	Event    string // run.succeeded, target.overdue, …
	RunID    int64  // 0: not about one run
	// State is StatusDelivered, StatusFailed, StatusPending or StatusNotSent.
	State        Status
	Attempts     int
	ResponseCode int // 0: no response
	// LastError must already be scrubbed of URLs and secrets.
	LastError string
	At        time.Time
}

// SettingsView is the settings page.
type SettingsView struct {
	Page      Page
	Storages  []StorageRow
	Notifiers []NotifierRow
	Tokens    []TokenRow
	// CreatedToken is shown once, right after it was created.
	CreatedToken *CreatedToken
	// TokenError is the create form's validation error.
	TokenError string
	// TokenName is the create form's value after an error.
	TokenName string
	// EvidenceKey is the evidence signing key's public half;
	// EvidenceKeyError says why it is missing.
	EvidenceKey      *lifeboat.EvidenceKey
	EvidenceKeyError string
	// Restore says where runs restore.
	Restore RestoreSetup
}

// RestoreSetup is where runs restore and verify.
type RestoreSetup struct {
	Mode       string // sandbox | server
	Jobs       int
	SandboxDir string
	// Server is the restore server's URL, password masked (server mode).
	Server Redacted
	// AllowSuperuser: the server mode's role may be a superuser, by choice.
	AllowSuperuser bool
}

// StorageRow is a configured storage.
type StorageRow struct {
	Name     string
	Kind     string // s3 | fs
	Location string // bucket/prefix or folder: not secret
	Endpoint Redacted
	Test     *TestResult // the last "Test", if any
}

// NotifierRow is a configured notifier.
type NotifierRow struct {
	Name  string
	Kind  string // slack | heartbeat | webhook
	Style string // heartbeat style
	// Destination is the URL reduced to its host (RedactToHost).
	Destination Redacted
	SecretSet   bool
	Test        *TestResult
}

// TestResult is the outcome of a storage or notifier test.
type TestResult struct {
	OK      bool
	Message string
	At      time.Time
}

// TokenRow is an API token, never its value.
type TokenRow struct {
	ID         int64
	Name       string
	Prefix     string // the recognisable start, e.g. "lbt_3f9a"
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// CreatedToken is a token just created, shown this once.
type CreatedToken struct {
	Name  string
	Token string
}

// LoginView is the sign-in page.
type LoginView struct {
	Page Page
	// Error is why the last attempt failed ("" on first view).
	Error string
	// Next is where to go after signing in (a local path).
	Next string
	// PasswordEnabled says an admin password is configured besides tokens.
	PasswordEnabled bool
}

// ErrorView is an HTML error page.
type ErrorView struct {
	Page   Page
	Status int // HTTP status
	Title  string
	Detail string
}
