package views_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// parseSVG parses an SVG fragment as it is embedded in a page.
func parseSVG(t *testing.T, svg string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader("<!DOCTYPE html><body>" + svg))
	require.NoError(t, err)
	svgs := findAll(doc, tag("svg"))
	require.Len(t, svgs, 1)
	return svgs[0]
}

// points reads a polyline's points.
func points(t *testing.T, n *html.Node) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, p := range strings.Fields(attrOf(n, "points")) {
		x, y, ok := strings.Cut(p, ",")
		require.True(t, ok, "point %q", p)
		fx, err := strconv.ParseFloat(x, 64)
		require.NoError(t, err)
		fy, err := strconv.ParseFloat(y, 64)
		require.NoError(t, err)
		out = append(out, [2]float64{fx, fy})
	}
	return out
}

func classed(c string) func(*html.Node) bool {
	return func(n *html.Node) bool { return hasClass(n, c) }
}

func TestSparklineDrawsTheLastThirtyRunsWithFailuresMarked(t *testing.T) {
	t.Parallel()
	h := history(45, 20, 44) // failures at index 20 and the newest
	svg := parseSVG(t, views.Sparkline(h))
	require.Equal(t, "img", attrOf(svg, "role"))
	require.Equal(t, "0 0 120 32", attrOf(svg, "viewBox"))

	dur := findAll(svg, classed("spark-duration"))
	require.Len(t, dur, 1)
	pts := points(t, dur[0])
	require.Len(t, pts, views.SparkRuns)
	for i := 1; i < len(pts); i++ {
		require.Greater(t, pts[i][0], pts[i-1][0], "x grows run by run")
		// Durations grow by one second per run: the line climbs (y falls).
		require.Less(t, pts[i][1], pts[i-1][1])
	}
	for _, p := range pts {
		require.True(t, p[0] >= 0 && p[0] <= 120 && p[1] >= 0 && p[1] <= 32, "point %v inside the box", p)
	}
	// Failed runs stored nothing: the size line skips them. It has the
	// lower band, the duration line the upper one.
	size := points(t, findAll(svg, classed("spark-size"))[0])
	require.Len(t, size, views.SparkRuns-2)
	for i := range pts {
		require.LessOrEqual(t, pts[i][1], 14.0, "duration in the upper band")
	}
	for _, p := range size {
		require.GreaterOrEqual(t, p[1], 19.0, "size in the lower band")
	}

	fails := findAll(svg, classed("spark-fail"))
	require.Len(t, fails, 2)
	require.Equal(t, "120", attrOf(fails[0], "data-run"))
	require.Equal(t, "144", attrOf(fails[1], "data-run"))
	require.Equal(t, "run #144 failed", text(fails[1]), "each mark says what it is")
	require.Equal(t, "last 30 runs: 2 failed; duration up to 1 min 44 s; size up to 743 MB", attrOf(svg, "aria-label"))
}

func TestSparklineSpreadsFewRunsAndKeepsTheNewestAtTheRight(t *testing.T) {
	t.Parallel()
	full := points(t, findAll(parseSVG(t, views.Sparkline(history(30))), classed("spark-duration"))[0])
	few := points(t, findAll(parseSVG(t, views.Sparkline(history(3))), classed("spark-duration"))[0])
	require.Len(t, few, 3)
	require.Equal(t, full[29][0], few[2][0], "newest run at the same x")
	require.Equal(t, full[0][0], few[0][0], "three runs span the width, not the last few pixels")
	require.InDelta(t, (few[0][0]+few[2][0])/2, few[1][0], 0.01, "evenly")

	one := parseSVG(t, views.Sparkline(history(1)))
	dots := findAll(one, classed("spark-dot"))
	require.Len(t, dots, 1, "a single run is a dot")
	require.Equal(t, strconv.FormatFloat(full[29][0], 'f', -1, 64), attrOf(dots[0], "cx"), "at the newest run's place")
	require.Empty(t, views.Sparkline(nil))
}

func TestSparklineFailureMarksNeverOverlap(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 30} {
		failed := make([]int, n) // every run failed
		for i := range failed {
			failed[i] = i
		}
		svg := parseSVG(t, views.Sparkline(history(n, failed...)))
		marks := findAll(svg, classed("spark-fail"))
		require.Len(t, marks, n)
		var prevRight float64
		for i, m := range marks {
			// "M<x> <y>l<w> <w>m0 -<w>l-<w> <w>": the cross spans x to x+w.
			d := attrOf(findAll(m, tag("path"))[0], "d")
			var x, y, w float64
			_, err := fmt.Sscanf(d, "M%g %gl%g", &x, &y, &w)
			require.NoError(t, err, d)
			require.GreaterOrEqual(t, x, 0.0, "%d runs: inside the box", n)
			require.LessOrEqual(t, x+w, 120.0, "%d runs: inside the box", n)
			if i > 0 {
				require.Greater(t, x, prevRight, "%d runs: mark %d clears mark %d", n, i, i-1)
			}
			prevRight = x + w
		}
	}
}

func TestTrendChartMarksFailuresAndSkipsMissingValues(t *testing.T) {
	t.Parallel()
	h := history(10, 3)
	h[6].RestoreDuration = 0 // restore did not finish
	for _, m := range views.ChartMetrics {
		svg := parseSVG(t, views.TrendChart(m, h))
		require.Equal(t, "chart-"+string(m), attrOf(svg, "data-testid"))
		require.Equal(t, "none", attrOf(svg, "preserveAspectRatio"))
		fails := findAll(svg, classed("chart-fail"))
		require.Len(t, fails, 1, "%s", m)
		require.Equal(t, "103", attrOf(fails[0], "data-run"))
		require.Contains(t, attrOf(svg, "aria-label"), "1 failed run marked")
		line := points(t, findAll(svg, classed("chart-line"))[0])
		want := 10
		switch m {
		case views.ChartSize:
			want = 9 // the failed run stored nothing
		case views.ChartRestore:
			want = 9
		}
		require.Len(t, line, want, "%s", m)
	}
	require.Equal(t, "latest 1 min 9 s, range 1 min – 1 min 9 s over 10 runs; 1 failed run marked",
		views.ChartSummary(views.ChartDuration, h))
	require.Equal(t, "no data yet", views.ChartSummary(views.ChartSize, nil))
	require.Empty(t, views.TrendChart(views.ChartSize, nil))
	// Only failed runs, none with a size: no chart, so no failure band that
	// reads as a value.
	allFailed := history(1, 0)
	require.Equal(t, "no data yet (1 failed run)", views.ChartSummary(views.ChartSize, allFailed))
	require.Empty(t, views.TrendChart(views.ChartSize, allFailed))
}

func TestChartLabelsAreEscaped(t *testing.T) {
	t.Parallel()
	// Charts carry no user text but numbers; the label is escaped anyway.
	svg := views.Sparkline([]views.HistoryPoint{{RunID: 1, Status: lifeboat.RunFailed}})
	require.NotContains(t, svg, "<script")
	parseSVG(t, svg)
}

func TestHistoryOfKeepsFinishedRunsOldestFirst(t *testing.T) {
	t.Parallel()
	at := func(m int) *time.Time { v := ago(time.Duration(m) * time.Minute); return &v }
	runs := []lifeboat.Run{ // newest first, as RunList returns them
		{ID: 3, Status: lifeboat.RunRunning, CreatedAt: *at(5)},
		{ID: 2, Status: lifeboat.RunFailed, CreatedAt: *at(30), FinishedAt: at(28),
			Stages: []lifeboat.Stage{{Name: lifeboat.StageRestore, Status: lifeboat.StageFailed, StartedAt: at(29), FinishedAt: at(28)}}},
		{ID: 1, Status: lifeboat.RunSucceeded, CreatedAt: *at(60), FinishedAt: at(50),
			Artifact: &lifeboat.Artifact{StoredBytes: 5e6},
			Stages:   []lifeboat.Stage{{Name: lifeboat.StageRestore, Status: lifeboat.StageSucceeded, StartedAt: at(57), FinishedAt: at(53)}}},
	}
	h := views.HistoryOf(runs)
	require.Len(t, h, 2, "the running run has no final figures")
	require.Equal(t, int64(1), h[0].RunID)
	require.Equal(t, 10*time.Minute, h[0].Duration)
	require.Equal(t, int64(5e6), h[0].StoredBytes)
	require.Equal(t, 4*time.Minute, h[0].RestoreDuration)
	require.Equal(t, lifeboat.RunFailed, h[1].Status)
	require.Zero(t, h[1].RestoreDuration, "a failed restore is no recovery time")
}
