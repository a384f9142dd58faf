package views

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// StageView is one stage on the run page's timeline.
type StageView struct {
	lifeboat.Stage
	// Duration is how long it took, or has taken so far; 0 if not started.
	Duration time.Duration
	Figures  []Figure
	// Progress is the bytes pg_dump has produced so far while the backup
	// stage runs (from its progress log lines); -1 otherwise.
	Progress int64
}

// Figure is one key number of a stage ("dumped", "760 MB").
type Figure struct{ Label, Value string }

// stageMetrics are the keys of every stage's metrics JSON that the page
// shows (pipeline's BackupMetrics, RestoreMetrics, VerifyMetrics and
// ReportMetrics); views may not import pipeline, so they are read by name.
type stageMetrics struct {
	RawBytes         int64    `json:"raw_bytes"`
	StoredBytes      int64    `json:"stored_bytes"`
	Seconds          float64  `json:"seconds"`
	Tables           int      `json:"tables"`
	Rows             int64    `json:"rows"`
	DownloadSeconds  float64  `json:"download_seconds"`
	PgRestoreSeconds float64  `json:"pg_restore_seconds"`
	Jobs             int      `json:"jobs"`
	Checks           int      `json:"checks"`
	Passed           int      `json:"passed"`
	Failed           any      `json:"failed"` // verify: a count; report: notifier names
	Delivered        []string `json:"delivered"`
	NotSent          []string `json:"not_sent"`
	ScratchDropped   *bool    `json:"scratch_dropped"`
}

// progressLine is the backup stage's progress log line.
var progressLine = regexp.MustCompile(`^dumped (\d+) bytes`)

// StageViews is the run's four stages in pipeline order, each with its
// figures; a stage the run has not reached is pending.
func StageViews(r lifeboat.Run, logs []lifeboat.LogLine, now time.Time) []StageView {
	var backupTables int
	out := make([]StageView, 0, len(lifeboat.Stages))
	for _, name := range lifeboat.Stages {
		st, ok := r.StageByName(name)
		if !ok {
			st = lifeboat.Stage{Name: name, Status: lifeboat.StagePending}
		}
		v := StageView{Stage: st, Progress: -1}
		if st.StartedAt != nil {
			end := now
			if st.FinishedAt != nil {
				end = *st.FinishedAt
			}
			v.Duration = end.Sub(*st.StartedAt)
		}
		var m stageMetrics
		if len(st.Metrics) > 0 {
			_ = json.Unmarshal(st.Metrics, &m) // unknown shapes show no figures
		}
		switch name {
		case lifeboat.StageBackup:
			backupTables = m.Tables
			v.Figures = backupFigures(m)
			if st.Status == lifeboat.StageRunning {
				v.Progress = lastProgress(logs)
			}
		case lifeboat.StageRestore:
			v.Figures = restoreFigures(m, st.Status == lifeboat.StageSucceeded, backupTables)
		case lifeboat.StageVerify:
			v.Figures = verifyFigures(m, r.Checks)
		case lifeboat.StageReport:
			v.Figures = reportFigures(m)
		}
		out = append(out, v)
	}
	return out
}

func backupFigures(m stageMetrics) []Figure {
	var f []Figure
	if m.RawBytes > 0 {
		f = append(f, Figure{"dumped", FormatBytes(m.RawBytes)})
	}
	if m.StoredBytes > 0 {
		s := FormatBytes(m.StoredBytes)
		if m.RawBytes > 0 {
			s += fmt.Sprintf(" (%d%% of dump)", int(float64(m.StoredBytes)*100/float64(m.RawBytes)+0.5))
		}
		f = append(f, Figure{"stored", s})
	}
	if m.RawBytes > 0 && m.Seconds > 0 {
		f = append(f, Figure{"throughput", FormatThroughput(m.RawBytes, m.Seconds)})
	}
	if m.Tables > 0 {
		f = append(f, Figure{"tables", FormatCount(int64(m.Tables))})
	}
	if m.Rows > 0 {
		f = append(f, Figure{"rows", FormatCount(m.Rows)})
	}
	return f
}

func restoreFigures(m stageMetrics, succeeded bool, tables int) []Figure {
	var f []Figure
	if m.RawBytes > 0 {
		f = append(f, Figure{"restored", FormatBytes(m.RawBytes)})
	}
	if m.RawBytes > 0 && m.Seconds > 0 {
		f = append(f, Figure{"throughput", FormatThroughput(m.RawBytes, m.Seconds)})
	}
	if succeeded && tables > 0 {
		// pg_restore --exit-on-error succeeded: every dumped table is in.
		f = append(f, Figure{"tables restored", FormatCount(int64(tables))})
	}
	if m.DownloadSeconds > 0 {
		f = append(f, Figure{"read back", FormatDuration(seconds(m.DownloadSeconds))})
	}
	if m.PgRestoreSeconds > 0 {
		s := FormatDuration(seconds(m.PgRestoreSeconds))
		if m.Jobs > 1 {
			s += fmt.Sprintf(" (%d jobs)", m.Jobs)
		}
		f = append(f, Figure{"pg_restore", s})
	}
	return f
}

func verifyFigures(m stageMetrics, checks []lifeboat.CheckResult) []Figure {
	total, passed := m.Checks, m.Passed
	if total == 0 && len(checks) > 0 {
		total = len(checks)
		passed = 0
		for _, c := range checks {
			if c.Passed {
				passed++
			}
		}
	}
	if total == 0 {
		return nil
	}
	return []Figure{{"checks passed", fmt.Sprintf("%d of %d", passed, total)}}
}

func reportFigures(m stageMetrics) []Figure {
	var f []Figure
	if len(m.Delivered) > 0 {
		f = append(f, Figure{"delivered", strings.Join(m.Delivered, ", ")})
	}
	if names, ok := m.Failed.([]any); ok && len(names) > 0 {
		s := make([]string, 0, len(names))
		for _, n := range names {
			s = append(s, fmt.Sprint(n))
		}
		f = append(f, Figure{"failed to deliver", strings.Join(s, ", ")})
	}
	if len(m.NotSent) > 0 {
		f = append(f, Figure{"not sent", strings.Join(m.NotSent, ", ")})
	}
	if m.ScratchDropped != nil {
		f = append(f, Figure{"scratch database", map[bool]string{true: "dropped", false: "not dropped"}[*m.ScratchDropped]})
	}
	return f
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// lastProgress is the newest "dumped N bytes" of the backup stage, or 0.
func lastProgress(logs []lifeboat.LogLine) int64 {
	for i := len(logs) - 1; i >= 0; i-- {
		if logs[i].Stage != lifeboat.StageBackup {
			continue
		}
		if m := progressLine.FindStringSubmatch(logs[i].Message); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	return 0
}

// ChecksFailedFirst orders check results failed first, keeping the
// original order within each group.
func ChecksFailedFirst(checks []lifeboat.CheckResult) []lifeboat.CheckResult {
	out := slices.Clone(checks)
	slices.SortStableFunc(out, func(a, b lifeboat.CheckResult) int {
		switch {
		case a.Passed == b.Passed:
			return 0
		case !a.Passed:
			return -1
		}
		return 1
	})
	return out
}

// LogGroup is one stage's lines.
type LogGroup struct {
	Stage  string // "run" for lines outside a stage
	Lines  []lifeboat.LogLine
	Errors int
}

// logStage names a line's group.
func logStage(l lifeboat.LogLine) string {
	if l.Stage == "" {
		return "run"
	}
	return string(l.Stage)
}

// GroupLogs groups lines by stage, stages in the order they first appear
// (which is pipeline order), lines in their order.
func GroupLogs(logs []lifeboat.LogLine) []LogGroup {
	var groups []LogGroup
	index := map[string]int{}
	for _, l := range logs {
		s := logStage(l)
		i, ok := index[s]
		if !ok {
			i = len(groups)
			index[s] = i
			groups = append(groups, LogGroup{Stage: s})
		}
		groups[i].Lines = append(groups[i].Lines, l)
		if isErrorLevel(l.Level) {
			groups[i].Errors++
		}
	}
	return groups
}

func isErrorLevel(level string) bool {
	l := strings.ToLower(level)
	return l == "error" || l == "fatal"
}

// levelClass is a log line's CSS class.
func levelClass(level string) string {
	switch strings.ToLower(level) {
	case "error", "fatal":
		return "log-line level-error"
	case "warn", "warning":
		return "log-line level-warn"
	}
	return "log-line"
}

// lastLogID is where a live tail continues.
func lastLogID(logs []lifeboat.LogLine) int64 {
	if len(logs) == 0 {
		return 0
	}
	return logs[len(logs)-1].ID
}

// canCancel and canRetry decide which buttons a run page offers.
func canCancel(r lifeboat.Run) bool { return !r.Status.Finished() }
func canRetry(r lifeboat.Run) bool {
	return r.Status == lifeboat.RunFailed || r.Status == lifeboat.RunCanceled
}

// isLive says the page should tail the log: the run may still write lines.
func isLive(r lifeboat.Run) bool { return !r.Status.Finished() || r.FinishedAt == nil }

// logOpenAll is the log size up to which every stage's group is open;
// beyond it only groups with errors and the newest one are.
const logOpenAll = 300

func linesText(n int) string {
	return FormatCount(int64(n)) + " " + pluralWord(n, "line", "lines")
}

func errorsText(n int) string {
	return strconv.Itoa(n) + " " + pluralWord(n, "error", "errors")
}

// lateText says how late a scheduled run started, and how many slots it
// stood in for.
func lateText(r lifeboat.Run) string {
	var parts []string
	if r.LateSeconds >= 60 {
		parts = append(parts, FormatDuration(seconds(r.LateSeconds))+" late")
	}
	if r.MissedSlots > 0 {
		parts = append(parts, fmt.Sprintf("caught up %d missed %s", r.MissedSlots, pluralWord(r.MissedSlots, "slot", "slots")))
	}
	return strings.Join(parts, ", ")
}

func durationText(v RunView) string {
	d := FormatDuration(v.Run.Duration(v.Page.Now))
	if !v.Run.Status.Finished() {
		return d + " so far"
	}
	return d
}

func checksPendingText(v RunView) string {
	if v.Run.Status.Finished() {
		return ""
	}
	return " yet"
}

// checksSummary is "2 of 14 checks failed" or "all 14 checks passed".
func checksSummary(v RunView) string {
	failed := 0
	for _, c := range v.Run.Checks {
		if !c.Passed {
			failed++
		}
	}
	n := len(v.Run.Checks)
	if failed == 0 {
		if n == 1 {
			return "The check passed."
		}
		return fmt.Sprintf("All %d checks passed.", n)
	}
	return fmt.Sprintf("%d of %d %s failed (listed first).", failed, n, pluralWord(n, "check", "checks"))
}
