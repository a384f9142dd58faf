package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// A check's observed value is the output of user SQL over restored data:
// chat messages and webhooks quote it cut short; the run itself (what the
// run record holds) keeps it whole.
func TestObservedValuesAreQuotedBriefly(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("row data ", 1000) + "END-OF-OBSERVED-VALUE"
	run := failedRun()
	run.Checks[0].Observed = long
	ev := event(run)

	body, err := notify.Payload(ev)
	require.NoError(t, err)
	require.NotContains(t, string(body), "END-OF-OBSERVED-VALUE")
	var payload struct {
		Data struct {
			Checks []lifeboat.CheckResult `json:"checks"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &payload))
	observed := payload.Data.Checks[0].Observed
	require.True(t, strings.HasPrefix(long, strings.TrimSuffix(observed, "…")), observed)
	require.LessOrEqual(t, len(observed), notify.MaxQuotedValue+len("…"))
	require.Equal(t, "0", failedRun().Checks[0].Observed)
	require.Equal(t, long, ev.Run.Checks[0].Observed, "the event's run is not changed")

	hook := newEndpoint(t, http.StatusNoContent, "")
	w, err := notify.NewWebhook("ci", hook.URL+"/hook", [][]byte{[]byte("k")}, loopbackClient(t))
	require.NoError(t, err)
	require.NoError(t, w.Send(context.Background(), ev))
	require.NotContains(t, string(hook.requests()[0].Body), "END-OF-OBSERVED-VALUE")

	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL+"/services/T0/B0/token", loopbackClient(t))
	require.NoError(t, err)
	require.NoError(t, s.Send(context.Background(), ev))
	text := slackText(t, chat.requests()[0])
	require.NotContains(t, text, "END-OF-OBSERVED-VALUE")
	require.Contains(t, text, "observed row data row data")
}
