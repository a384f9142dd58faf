package views_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// BenchmarkOverview renders the overview of 50 targets with 30 runs of
// history each: the page's cost is bounded by targets × 30, whatever the
// history's size.
func BenchmarkOverview(b *testing.B) {
	targets := make([]views.TargetRow, 50)
	for i := range targets {
		targets[i] = overviewTargets()[0]
		targets[i].Name = fmt.Sprintf("target-%02d", i)
		targets[i].History = history(30, 3, 17)
	}
	v := views.OverviewView{Page: page(views.NavOverview), Targets: targets}
	b.ReportAllocs()
	for b.Loop() {
		if err := views.OverviewPage(v).Render(b.Context(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuns renders a page of 50 runs.
func BenchmarkRuns(b *testing.B) {
	v := runsView()
	v.Runs = nil
	for i := range 50 {
		v.Runs = append(v.Runs, views.RunSummary{ID: int64(1000 - i), Target: "shop", Trigger: lifeboat.TriggerSchedule,
			Status: lifeboat.RunSucceeded, CreatedAt: ago(time.Duration(i) * time.Hour), Duration: time.Minute, StoredBytes: 7e8})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := views.RunsPage(v).Render(b.Context(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
