package jobs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// failFirstReportCommit makes the first commit that records a report stage
// as succeeded fail, at COMMIT itself (a deferred constraint trigger), as a
// crash or a lost connection between the report's work and its commit
// would. The counter is a sequence: the failed transaction cannot undo it.
const failFirstReportCommit = `
CREATE SEQUENCE test_report_commits;
CREATE FUNCTION test_fail_first_report_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.stage = 'report' AND NEW.status = 'succeeded' AND nextval('test_report_commits') = 1 THEN
		RAISE EXCEPTION 'injected: the report''s commit failed';
	END IF;
	RETURN NEW;
END $$;
CREATE CONSTRAINT TRIGGER test_fail_first_report_commit AFTER UPDATE ON run_stages
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_first_report_commit();`

// When the report's commit fails after its work, its retry must not tell
// chat and the heartbeat a second time: each (run, event, notifier) is one
// delivery, queued with the report's result and sent once by its own job.
// The report's figures still say who was told.
func TestNotifiedOnceWhenReportCommitFails(t *testing.T) {
	t.Parallel()
	b := setup(t, options{})
	testenv.Exec(t, b.stateURL, failFirstReportCommit)

	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	report, _ := run.StageByName(lifeboat.StageReport)
	require.Equal(t, 2, report.Attempt, "the first commit of the report failed and was retried")

	chat := b.chat.received()
	require.Len(t, chat, 1, "chat told once: %q", chat)
	require.Contains(t, chat[0], "succeeded")
	require.Len(t, b.heartbeat.requests(), 1, "heartbeat pinged once")

	var m struct {
		Delivered []string `json:"delivered"`
		Failed    []string `json:"failed"`
		Queued    []string `json:"queued"`
	}
	require.NoError(t, json.Unmarshal(report.Metrics, &m), "%s", report.Metrics)
	require.ElementsMatch(t, []string{"chat", "snitch"}, m.Delivered)
	require.Empty(t, m.Failed)
	require.ElementsMatch(t, []string{"chat", "snitch"}, m.Queued)

	ds, err := b.runner.DeliveryList(t.Context(), run.ID)
	require.NoError(t, err)
	var got []string
	for _, d := range ds {
		require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
		require.Equal(t, 1, d.Attempts)
		got = append(got, d.Notifier+" "+d.Event)
	}
	require.ElementsMatch(t, []string{"chat run.succeeded", "snitch run.succeeded"}, got)
	require.True(t, strings.Contains(b.logText(t, run.ID), "run.succeeded queued to chat, snitch"), b.logText(t, run.ID))
}
