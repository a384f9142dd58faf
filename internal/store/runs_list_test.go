package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/benchseed"
)

// RunList pages through a seeded history exactly as one ORDER BY id DESC
// over the whole filter would, for every shape of filter: one query per
// page, several statuses or triggers merged from one page per value.
func TestRunListMatchesFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, err := benchseed.Seed(ctx, b.store.Pool(), benchseed.Options{Runs: 2000, NoLogs: true, Targets: 4,
		Span: 100 * time.Hour, End: end})
	require.NoError(t, err)
	since, until := end.Add(-70*time.Hour), end.Add(-20*time.Hour)

	for _, f := range []lifeboat.RunFilter{
		{},
		{Target: "inventory"},
		{Statuses: []lifeboat.RunStatus{lifeboat.RunFailed}},
		{Statuses: []lifeboat.RunStatus{lifeboat.RunQueued, lifeboat.RunRunning}},
		{Statuses: []lifeboat.RunStatus{lifeboat.RunFailed, lifeboat.RunCanceled, lifeboat.RunFailed}}, // a repeat
		{Triggers: []lifeboat.Trigger{lifeboat.TriggerCLI}},
		{Target: "inventory", Statuses: []lifeboat.RunStatus{lifeboat.RunFailed}},
		{Target: "billing", Statuses: []lifeboat.RunStatus{lifeboat.RunQueued}}, // none
		{Target: "billing", Triggers: []lifeboat.Trigger{lifeboat.TriggerAPI, lifeboat.TriggerWebhook}},
		{Statuses: []lifeboat.RunStatus{lifeboat.RunSucceeded, lifeboat.RunFailed},
			Triggers: []lifeboat.Trigger{lifeboat.TriggerSchedule, lifeboat.TriggerAPI, lifeboat.TriggerCLI}},
		{Target: "orders", Statuses: []lifeboat.RunStatus{lifeboat.RunSucceeded, lifeboat.RunCanceled},
			Triggers: []lifeboat.Trigger{lifeboat.TriggerSchedule}, Since: &since, Until: &until},
		{Since: &since},
		{Until: &until, Statuses: []lifeboat.RunStatus{lifeboat.RunFailed, lifeboat.RunCanceled}},
	} {
		name := fmt.Sprintf("%+v", f)
		want := expectedRunIDs(t, b, f)
		for _, limit := range []int{7, 200} {
			var got []int64
			page := f
			page.Limit = limit
			for pages := 0; ; pages++ {
				require.Less(t, pages, 2000/limit+2, "%s: paging does not end", name)
				runs, more, err := b.store.RunList(ctx, page)
				require.NoError(t, err, name)
				require.LessOrEqual(t, len(runs), limit, name)
				for _, r := range runs {
					got = append(got, r.ID)
					require.Len(t, r.Stages, 4, name)
				}
				if !more {
					break
				}
				require.Len(t, runs, limit, "%s: a page before the last is full", name)
				page.BeforeID = runs[len(runs)-1].ID
			}
			require.Equal(t, want, got, "%s, limit %d", name, limit)
		}
	}
}

// expectedRunIDs is the filter as one plain query over all runs.
func expectedRunIDs(t *testing.T, b *testBundle, f lifeboat.RunFilter) []int64 {
	t.Helper()
	where, args := []string{"true"}, []any{}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Target != "" {
		add("target = $%d", f.Target)
	}
	if len(f.Statuses) > 0 {
		var ss []string
		for _, s := range f.Statuses {
			ss = append(ss, string(s))
		}
		add("status = ANY($%d)", ss)
	}
	if len(f.Triggers) > 0 {
		var ts []string
		for _, s := range f.Triggers {
			ts = append(ts, string(s))
		}
		add("trigger = ANY($%d)", ts)
	}
	if f.Since != nil {
		add("created_at >= $%d", *f.Since)
	}
	if f.Until != nil {
		add("created_at < $%d", *f.Until)
	}
	rows, err := b.store.Pool().Query(context.Background(),
		"SELECT id FROM runs WHERE "+strings.Join(where, " AND ")+" ORDER BY id DESC", args...)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	if len(ids) == 0 {
		return nil // as RunList's pages add up to
	}
	return ids
}
