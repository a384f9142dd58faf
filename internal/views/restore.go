package views

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// NavRestores marks the restores page in the navigation.
const NavRestores NavSection = "restores"

// RestoresURL lists every restore.
const RestoresURL = "/restores"

// RestoreURL is a restore's page, followed live while it runs.
func RestoreURL(id int64) string { return RestoresURL + "/" + idStr(id) }

// BackupRestoreURL is the form that restores a backup into a database (GET)
// and its action (POST).
func BackupRestoreURL(runID int64) string { return "/backups/" + idStr(runID) + "/restore" }

// RestoreFormView is the "Restore…" form of one stored backup.
type RestoreFormView struct {
	Page   Page
	Backup BackupRow
	Target string
	Usage  BackupUsage
	// Error is why the last attempt was refused, and ErrorField the form
	// field it is about ("database_url", "password", "confirm" or "").
	Error      string
	ErrorField string
	// Clean and Confirm are the last attempt's values. The URL and the
	// password are never sent back: a page must not carry a secret.
	Clean   bool
	Confirm string
}

// fieldError is the form's error when it is about field.
func (v RestoreFormView) fieldError(field string) string {
	if v.ErrorField == field {
		return v.Error
	}
	return ""
}

// BackupUsage says how to restore a downloaded or stored backup by hand.
type BackupUsage struct {
	Storage string
	Key     string
	// IdentityFile is the age identity's path in the configuration; ""
	// when lifeboat was given none.
	IdentityFile string
}

// Filename is the name a download of the backup is saved under (the
// download's Content-Disposition: target-runid.dump.zst.age).
func (u BackupUsage) Filename(target string) string { return target + "-" + path.Base(u.Key) }

// CLICommand is the `lifeboat restore` line: the object straight from its
// storage, with the hash, decryption and row counts checked.
func (u BackupUsage) CLICommand() string {
	return fmt.Sprintf(`lifeboat restore --config "$LIFEBOAT_CONFIG" --storage %s --object %s --into "$DATABASE_URL"`,
		shellQuote(u.Storage), shellQuote(u.Key))
}

// PipeCommand is the same by hand, from the downloaded file, with age, zstd
// and pg_restore only (pg_restore reads the custom-format dump from stdin,
// so it runs serially).
func (u BackupUsage) PipeCommand(target string) string {
	id := u.IdentityFile
	if id == "" {
		id = "age.key"
	}
	return fmt.Sprintf(`age -d -i %s %s | zstd -d -c | pg_restore --no-owner --no-privileges --exit-on-error -d "$DATABASE_URL"`,
		shellQuote(id), shellQuote(u.Filename(target)))
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RestoreRow is one restore in a list.
type RestoreRow struct {
	ID       int64
	BackupID int64
	Target   string
	// Into is the database restored into, secrets masked.
	Into      Redacted
	Clean     bool
	Status    lifeboat.RestoreStatus
	CreatedAt time.Time
	Duration  time.Duration // 0: not started
	Error     string
}

// RestoreRowOf turns a restore into a row.
func RestoreRowOf(r lifeboat.Restore, now time.Time) RestoreRow {
	return RestoreRow{ID: r.ID, BackupID: r.BackupID, Target: r.Target, Into: RedactURL(r.DatabaseURL),
		Clean: r.Clean, Status: r.Status, CreatedAt: r.CreatedAt, Duration: restoreDuration(r, now), Error: r.Error}
}

func restoreDuration(r lifeboat.Restore, now time.Time) time.Duration {
	if r.StartedAt == nil {
		return 0
	}
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(*r.StartedAt)
}

// RestoresView is a page of the restores list.
type RestoresView struct {
	Page     Page
	Restores []RestoreRow
	// Cursor is the page's own cursor ("" on the first page);
	// NextCursor continues the list ("" on the last page).
	Cursor, NextCursor string
}

// RestoresPageURL is the restores list from cursor.
func RestoresPageURL(cursor string) string {
	if cursor == "" {
		return RestoresURL
	}
	return RestoresURL + "?cursor=" + esc(cursor)
}

// RestoreView is one restore's page.
type RestoreView struct {
	Page    Page
	Restore lifeboat.Restore
	// Backup is the restored backup's storage and key, when known.
	Backup *BackupRow
}

// RestoreStatus is how a restore's status is shown.
func RestoreStatus(s lifeboat.RestoreStatus) Status {
	switch s {
	case lifeboat.RestoreQueued:
		return StatusQueued
	case lifeboat.RestoreRunning:
		return StatusRunning
	case lifeboat.RestoreSucceeded:
		return StatusSucceeded
	case lifeboat.RestoreFailed:
		return StatusFailed
	}
	return Status(s)
}

// restoreLive says the page should follow the restore (app.js refreshes
// <main> until it has ended).
func restoreLive(r lifeboat.Restore) bool { return !r.Status.Finished() }

// restoreFigures are the restore's figures (pipeline.RestoreMetrics, read by
// name).
func (v RestoreView) figures() []Figure {
	var m stageMetrics
	if len(v.Restore.Metrics) > 0 {
		_ = json.Unmarshal(v.Restore.Metrics, &m) // unknown shapes show no figures
	}
	f := restoreFigures(m, false, 0)
	if m.StoredBytes > 0 {
		f = append([]Figure{{"read", FormatBytes(m.StoredBytes)}}, f...)
	}
	if d := restoreDuration(v.Restore, v.Page.Now); d > 0 {
		f = append(f, Figure{"took", FormatDuration(d)})
	}
	return f
}

// restoreStages is where the restore is, as the steps it goes through:
// queued, restoring (read, check, decrypt, pg_restore), compared with the
// manifest.
func (v RestoreView) stages() []StageView {
	r := v.Restore
	queued := StageView{Stage: lifeboat.Stage{Name: "queued", Status: lifeboat.StageSucceeded}, Progress: -1}
	restore := StageView{Stage: lifeboat.Stage{Name: "restore", Status: lifeboat.StagePending}, Progress: -1}
	compare := StageView{Stage: lifeboat.Stage{Name: "compare", Status: lifeboat.StagePending}, Progress: -1}
	switch r.Status {
	case lifeboat.RestoreQueued:
		queued.Status = lifeboat.StageRunning
	case lifeboat.RestoreRunning:
		restore.Status = lifeboat.StageRunning
	case lifeboat.RestoreSucceeded:
		restore.Status, compare.Status = lifeboat.StageSucceeded, lifeboat.StageSucceeded
	case lifeboat.RestoreFailed:
		if len(r.Checks) > 0 {
			restore.Status, compare.Status = lifeboat.StageSucceeded, lifeboat.StageFailed
		} else {
			restore.Status, compare.Status = lifeboat.StageFailed, lifeboat.StageSkipped
		}
	}
	restore.Figures = v.figures()
	compare.Figures = compareFigures(r.Checks)
	return []StageView{queued, restore, compare}
}

func compareFigures(checks []lifeboat.CheckResult) []Figure {
	if len(checks) == 0 {
		return nil
	}
	passed := 0
	for _, c := range checks {
		if c.Passed {
			passed++
		}
	}
	return []Figure{{"checks passed", fmt.Sprintf("%d of %d", passed, len(checks))}}
}

// restoreLogView lets the run page's log groups show a restore's log (one
// group: a restore has no stages of its own).
func (v RestoreView) logView() RunView {
	logs := make([]lifeboat.LogLine, len(v.Restore.Logs))
	for i, l := range v.Restore.Logs {
		l.Stage = "restore"
		logs[i] = l
	}
	return RunView{Page: v.Page, Logs: logs}
}

func cleanText(clean bool) string {
	if clean {
		return "yes: the backup's objects were dropped and recreated"
	}
	return "no: an empty database"
}
