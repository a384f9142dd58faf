package views

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// HistoryPoint is one finished run in a target's history charts.
type HistoryPoint struct {
	RunID       int64
	CreatedAt   time.Time
	Status      lifeboat.RunStatus
	Duration    time.Duration
	StoredBytes int64 // 0: the run stored no artifact
	// RestoreDuration is the restore stage's wall time, the recovery time
	// trend; 0 when the restore did not finish.
	RestoreDuration time.Duration
}

// SparkRuns is how many runs a sparkline spans.
const SparkRuns = 30

const (
	sparkW, sparkH = 120, 32
	sparkPad       = 3.0
	// The duration line has the upper band, the size line the lower one,
	// so two lines that both sit near their maximum never overlap.
	sparkDurTop, sparkDurBottom   = 3.0, 14.0
	sparkSizeTop, sparkSizeBottom = 19.0, 29.0
)

// Sparkline is an inline SVG of a target's last SparkRuns runs (oldest
// first; earlier ones are dropped): the duration as a solid line in the
// upper band, the stored size as a dashed one in the lower band (each
// scaled from zero to its own maximum), and a cross on every failed run.
// The runs spread over the whole width, the newest always at the right
// edge; a single run is a dot there. Crosses shrink with the spacing so
// neighbours never overlap. The SVG names what it shows in aria-label;
// its markup holds no user text but that label, escaped.
func Sparkline(points []HistoryPoint) string {
	if len(points) > SparkRuns {
		points = points[len(points)-SparkRuns:]
	}
	if len(points) == 0 {
		return ""
	}
	step := sparkW - 2*sparkPad
	if len(points) > 1 {
		step /= float64(len(points) - 1)
	}
	x := func(i int) float64 { return sparkW - sparkPad - float64(len(points)-1-i)*step }
	cross := max(3, min(5, step-1)) // a failed run's mark, narrower than the spacing
	var maxDur time.Duration
	var maxSize int64
	for _, p := range points {
		maxDur = max(maxDur, p.Duration)
		maxSize = max(maxSize, p.StoredBytes)
	}
	// y places v of top in the band [hi, lo] (SVG y grows downwards).
	y := func(v, top, hi, lo float64) float64 {
		if top <= 0 {
			return lo
		}
		return lo - v/top*(lo-hi)
	}

	var dur, size []string
	var fails strings.Builder
	failed := 0
	for i, p := range points {
		dy := y(float64(p.Duration), float64(maxDur), sparkDurTop, sparkDurBottom)
		dur = append(dur, pt(x(i), dy))
		if p.StoredBytes > 0 {
			size = append(size, pt(x(i), y(float64(p.StoredBytes), float64(maxSize), sparkSizeTop, sparkSizeBottom)))
		}
		if p.Status == lifeboat.RunFailed {
			failed++
			fmt.Fprintf(&fails, `<g class="spark-fail" data-run="%d"><title>run #%d failed</title><path d="M%s %sl%s %sm0 -%sl-%s %s"/></g>`,
				p.RunID, p.RunID, num(x(i)-cross/2), num(dy-cross/2), num(cross), num(cross), num(cross), num(cross), num(cross))
		}
	}
	label := fmt.Sprintf("last %d runs: %d failed; duration up to %s", len(points), failed, FormatDuration(maxDur))
	if maxSize > 0 {
		label += "; size up to " + FormatBytes(maxSize)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" data-testid="sparkline" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		sparkW, sparkH, sparkW, sparkH, html.EscapeString(label))
	fmt.Fprintf(&b, `<line class="spark-base" x1="0" y1="%s" x2="%d" y2="%s"/>`, num(sparkDurBottom+2), sparkW, num(sparkDurBottom+2))
	if len(size) > 1 {
		fmt.Fprintf(&b, `<polyline class="spark-size" points="%s"/>`, strings.Join(size, " "))
	}
	fmt.Fprintf(&b, `<polyline class="spark-duration" points="%s"/>`, strings.Join(dur, " "))
	if len(points) == 1 {
		// One run is a dot, not a line.
		fmt.Fprintf(&b, `<circle class="spark-dot" cx="%s" cy="%s" r="3"/>`, num(x(0)), num(y(float64(points[0].Duration), float64(maxDur), sparkDurTop, sparkDurBottom)))
	}
	b.WriteString(fails.String())
	b.WriteString(`</svg>`)
	return b.String()
}

// ChartMetric is what a history chart plots.
type ChartMetric string

const (
	ChartDuration ChartMetric = "duration"
	ChartSize     ChartMetric = "size"
	ChartRestore  ChartMetric = "restore"
)

// ChartMetrics are the target page's charts, in order.
var ChartMetrics = []ChartMetric{ChartDuration, ChartSize, ChartRestore}

// Title is the chart's heading.
func (m ChartMetric) Title() string {
	switch m {
	case ChartDuration:
		return "Run duration"
	case ChartSize:
		return "Backup size (stored)"
	case ChartRestore:
		return "Restore time (recovery time trend)"
	}
	return string(m)
}

// value is the point's figure and whether it has one.
func (m ChartMetric) value(p HistoryPoint) (float64, bool) {
	switch m {
	case ChartDuration:
		return p.Duration.Seconds(), p.Duration > 0
	case ChartSize:
		return float64(p.StoredBytes), p.StoredBytes > 0
	case ChartRestore:
		return p.RestoreDuration.Seconds(), p.RestoreDuration > 0
	}
	return 0, false
}

// format shows one of the metric's values.
func (m ChartMetric) format(v float64) string {
	if m == ChartSize {
		return FormatBytes(int64(v))
	}
	return FormatDuration(time.Duration(v * float64(time.Second)))
}

// ChartSummary is the text beside a chart: its range and latest value, so
// nothing is only in the picture.
func ChartSummary(m ChartMetric, points []HistoryPoint) string {
	var lo, hi, last float64
	n, failed := 0, 0
	for _, p := range points {
		if p.Status == lifeboat.RunFailed {
			failed++
		}
		v, ok := m.value(p)
		if !ok {
			continue
		}
		if n == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
		last = v
		n++
	}
	if n == 0 {
		if failed > 0 {
			return fmt.Sprintf("no data yet (%d failed %s)", failed, pluralWord(failed, "run", "runs"))
		}
		return "no data yet"
	}
	s := fmt.Sprintf("latest %s, range %s – %s over %d runs", m.format(last), m.format(lo), m.format(hi), n)
	if failed > 0 {
		s += fmt.Sprintf("; %d failed %s marked", failed, pluralWord(failed, "run", "runs"))
	}
	return s
}

const chartW, chartH = 600, 120

// TrendChart is a wider SVG of one metric over the given runs (oldest
// first): a line through the runs that have the figure and a band on each
// failed run. It stretches to its container's width (the stroke does not).
// With no run having the figure it is "" (ChartSummary says "no data
// yet"): failure bands alone would read as data.
func TrendChart(m ChartMetric, points []HistoryPoint) string {
	if !slices.ContainsFunc(points, func(p HistoryPoint) bool { _, ok := m.value(p); return ok }) {
		return ""
	}
	step := float64(chartW)
	if len(points) > 1 {
		step = float64(chartW) / float64(len(points)-1)
	}
	var top float64
	for _, p := range points {
		if v, ok := m.value(p); ok {
			top = max(top, v)
		}
	}
	var line []string
	var fails strings.Builder
	for i, p := range points {
		x := float64(i) * step
		if len(points) == 1 {
			x = chartW / 2
		}
		if v, ok := m.value(p); ok && top > 0 {
			line = append(line, pt(x, chartH-4-v/top*(chartH-8)))
		}
		if p.Status == lifeboat.RunFailed {
			w := min(step, 12)
			fmt.Fprintf(&fails, `<rect class="chart-fail" data-run="%d" x="%s" y="0" width="%s" height="%d"><title>run #%d failed</title></rect>`,
				p.RunID, num(max(0, x-w/2)), num(w), chartH, p.RunID)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" data-testid="chart-%s" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="%s">`,
		m, chartW, chartH, html.EscapeString(m.Title()+": "+ChartSummary(m, points)))
	b.WriteString(fails.String())
	fmt.Fprintf(&b, `<line class="chart-axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, chartH-1, chartW, chartH-1)
	if len(line) == 1 {
		line = append(line, line[0]) // a lone value still draws (a zero-length line with round caps)
	}
	if len(line) > 0 {
		fmt.Fprintf(&b, `<polyline class="chart-line" points="%s"/>`, strings.Join(line, " "))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func pt(x, y float64) string { return num(x) + "," + num(y) }

// num prints a coordinate with at most two decimals.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// HistoryOf turns runs (in any order) into chart points, oldest first,
// keeping only finished runs: a run in progress has no final duration.
// The restore duration is the restore stage's wall time when it finished.
func HistoryOf(runs []lifeboat.Run) []HistoryPoint {
	out := make([]HistoryPoint, 0, len(runs))
	for _, r := range runs {
		if !r.Status.Finished() || r.FinishedAt == nil {
			continue
		}
		p := HistoryPoint{RunID: r.ID, CreatedAt: r.CreatedAt, Status: r.Status, Duration: r.FinishedAt.Sub(r.CreatedAt)}
		if r.Artifact != nil {
			p.StoredBytes = r.Artifact.StoredBytes
		}
		if st, ok := r.StageByName(lifeboat.StageRestore); ok && st.Status == lifeboat.StageSucceeded &&
			st.StartedAt != nil && st.FinishedAt != nil {
			p.RestoreDuration = st.FinishedAt.Sub(*st.StartedAt)
		}
		out = append(out, p)
	}
	slices.SortStableFunc(out, func(a, b HistoryPoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.RunID, b.RunID)
	})
	return out
}
