package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"https://hooks.slack.com/services/T0/B0/secret":  "https://hooks.slack.com/…",
		"https://user:pass@example.com:8443/x?token=abc": "https://example.com:8443/…",
		"https://hc-ping.com/":                           "https://hc-ping.com",
		"https://example.com?token=abc":                  "https://example.com/…",
		"http://[::1]:9000/hook":                         "http://[::1]:9000/…",
		"not a url secret":                               "(unparseable URL)",
		"%zz-secret":                                     "(unparseable URL)",
	}
	for in, want := range cases {
		require.Equal(t, want, Redact(in), in)
	}
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0 B", humanBytes(0))
	require.Equal(t, "1023 B", humanBytes(1023))
	require.Equal(t, "1.5 KiB", humanBytes(1536))
	require.Equal(t, "1.5 GiB", humanBytes(3<<29))
	require.Equal(t, "2.0 TiB", humanBytes(2<<40))
}

func TestNewEventKindOfUnfinishedRun(t *testing.T) {
	t.Parallel()
	now := time.Now()
	run := lifeboat.Run{Status: lifeboat.RunRunning, Stages: []lifeboat.Stage{
		{Name: lifeboat.StageBackup, Status: lifeboat.StageSucceeded},
		{Name: lifeboat.StageReport, Status: lifeboat.StageRunning},
	}}
	require.Equal(t, KindRunSucceeded, NewEvent(run, "", now).Kind)

	run.Checks = []lifeboat.CheckResult{{Name: "c", Passed: false}}
	require.Equal(t, KindRunFailed, NewEvent(run, "", now).Kind)

	run.Checks = nil
	run.Stages[0].Status = lifeboat.StageFailed
	require.Equal(t, KindRunFailed, NewEvent(run, "", now).Kind)

	run.Status = lifeboat.RunCanceled
	require.Equal(t, KindRunCanceled, NewEvent(run, "", now).Kind)
}

func TestSlackTextLimits(t *testing.T) {
	t.Parallel()
	run := lifeboat.Run{ID: 1, Target: "app", Status: lifeboat.RunFailed}
	for i := 0; i < 15; i++ {
		run.Checks = append(run.Checks, lifeboat.CheckResult{Name: "c", Expected: "1", Observed: "0"})
	}
	run.Stages = []lifeboat.Stage{{Name: lifeboat.StageRestore, Status: lifeboat.StageFailed, Error: string(make([]byte, 2000))}}
	text := slackText(NewEvent(run, "", time.Now()))
	require.Contains(t, text, "…and 5 more")
	require.Less(t, len(text), 2000)
}
