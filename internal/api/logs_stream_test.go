package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

type streamEnd struct {
	RunID      int64              `json:"run_id"`
	Status     lifeboat.RunStatus `json:"status"`
	Error      string             `json:"error"`
	FinishedAt *time.Time         `json:"finished_at"`
}

func endOf(t *testing.T, ev sseEvent) streamEnd {
	t.Helper()
	require.Equal(t, "end", ev.event, "event %+v", ev)
	require.Empty(t, ev.id, "end carries no id: a reconnect resumes after the last line")
	var e streamEnd
	require.NoError(t, json.Unmarshal([]byte(ev.data), &e), "data: %s", ev.data)
	return e
}

// TestLogStreamFollowsARun tails a real run: the lines so far, then lines as
// they are written (pushed: a hand-appended line arrives at once), a resume
// with Last-Event-ID without duplicates, and end with the final status.
func TestLogStreamFollowsARun(t *testing.T) {
	t.Parallel()
	// The heartbeat is long so that nothing timer-driven can deliver lines.
	b := setupLive(t, liveOptions{pauseAfter: lifeboat.StageBackup, heartbeat: time.Hour})
	id := b.createRun(t, "app")
	b.start(t)
	select {
	case got := <-b.paused:
		require.Equal(t, id, got)
	case <-time.After(2 * time.Minute):
		t.Fatal("the backup stage did not finish")
	}
	logsPath := fmt.Sprintf("/api/v1/runs/%d/logs", id)
	ctx := context.Background()
	sofar, err := b.store.LogList(ctx, id, 0, 1000)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sofar), 3, "the backup stage logged")

	// 1. The lines so far, in order.
	s1 := b.openStream(t, logsPath, "")
	var got []lifeboat.LogLine
	for range sofar {
		got = append(got, logLine(t, s1.next(t, 10*time.Second)))
	}
	require.Equal(t, utc(sofar), utc(got))
	b.waitSubscribers(t, 1)

	// 2. Pushed, not polled: while the run is paused nothing is read; a line
	// appended by hand arrives as soon as it is written (the logged latency).
	reads := b.feed.reads.Load()
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, reads, b.feed.reads.Load(), "an idle tail reads nothing: no polling")
	for i := range 3 {
		written := time.Now()
		require.NoError(t, b.store.LogAppend(ctx, id, lifeboat.StageBackup, time.Now(), "info", fmt.Sprintf("by hand %d", i)))
		ev := s1.next(t, 2*time.Second)
		l := logLine(t, ev)
		latency := ev.at.Sub(written)
		t.Logf("hand-appended line %d arrived after %s", i, latency)
		require.Less(t, latency, 3*time.Second)
		require.Equal(t, fmt.Sprintf("by hand %d", i), l.Message)
		require.Greater(t, l.ID, got[len(got)-1].ID)
		got = append(got, l)
	}

	// 3. The client goes away: its subscription goes with it.
	s1.close()
	b.waitSubscribers(t, 0)

	// 4. Resume from the middle with Last-Event-ID (winning over ?after=):
	// exactly the lines after it, then the rest of the run live, then end.
	resumeAt := got[1]
	s2 := b.openStream(t, logsPath+"?after=0", fmt.Sprint(resumeAt.ID))
	var resumed []lifeboat.LogLine
	for range got[2:] {
		resumed = append(resumed, logLine(t, s2.next(t, 10*time.Second)))
	}
	require.Equal(t, utc(got[2:]), utc(resumed), "no duplicates, no gaps")
	close(b.release) // the run goes on: restore, verify, report
	var end sseEvent
	for {
		ev := s2.next(t, 2*time.Minute)
		if ev.event == "end" {
			end = ev
			break
		}
		l := logLine(t, ev)
		require.Greater(t, l.ID, resumed[len(resumed)-1].ID, "ids increase")
		resumed = append(resumed, l)
	}
	e := endOf(t, end)
	require.Equal(t, id, e.RunID)
	require.Equal(t, lifeboat.RunSucceeded, e.Status)
	require.NotNil(t, e.FinishedAt)
	s2.requireEnded(t)
	b.waitSubscribers(t, 0)

	// Everything the run logged after the resume point was streamed.
	all, err := b.store.LogList(ctx, id, resumeAt.ID, 1000)
	require.NoError(t, err)
	require.Equal(t, utc(all), utc(resumed))
	stages := map[lifeboat.StageName]bool{}
	for _, l := range resumed {
		stages[l.Stage] = true
	}
	for _, st := range []lifeboat.StageName{lifeboat.StageRestore, lifeboat.StageVerify, lifeboat.StageReport} {
		require.True(t, stages[st], "lines of the %s stage arrived live", st)
	}
}

// TestLogStreamOfAFinishedRun: the whole log (or what follows ?after=) and
// end at once; a failed run ends with its status and reason.
func TestLogStreamOfAFinishedRun(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{})
	b.start(t)
	id := b.createRun(t, "broken")
	run := b.waitRun(t, id)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	all, err := b.store.LogList(context.Background(), id, 0, 1000)
	require.NoError(t, err)
	require.NotEmpty(t, all)

	path := fmt.Sprintf("/api/v1/runs/%d/logs", id)
	s := b.openStream(t, path, "")
	for _, want := range all {
		require.Equal(t, utc([]lifeboat.LogLine{want}), utc([]lifeboat.LogLine{logLine(t, s.next(t, 10*time.Second))}))
	}
	e := endOf(t, s.next(t, 10*time.Second))
	require.Equal(t, lifeboat.RunFailed, e.Status)
	require.Contains(t, e.Error, "verify")
	s.requireEnded(t)

	mid := all[len(all)/2]
	s = b.openStream(t, fmt.Sprintf("%s?after=%d", path, mid.ID), "")
	for _, want := range all[len(all)/2+1:] {
		require.Equal(t, utc([]lifeboat.LogLine{want}), utc([]lifeboat.LogLine{logLine(t, s.next(t, 10*time.Second))}))
	}
	endOf(t, s.next(t, 10*time.Second))
	s.requireEnded(t)
	b.waitSubscribers(t, 0)
}

// TestLogStreamHeartbeatAndErrors: an idle tail sends only heartbeat
// comments (and reads nothing); bad cursors and unknown runs are problems
// before any stream starts.
func TestLogStreamHeartbeatAndErrors(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{heartbeat: 100 * time.Millisecond})
	id := b.createRun(t, "app") // never worked: the runner is not started
	path := fmt.Sprintf("/api/v1/runs/%d/logs", id)

	s := b.openStream(t, path, "")
	b.waitSubscribers(t, 1)
	// After the first heartbeat the tail has done its first read and waits.
	select {
	case ev := <-s.events:
		require.Equal(t, "heartbeat", ev.comment, "%+v", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	reads := b.feed.reads.Load()
	require.EqualValues(t, 2, reads, "one status read, one page of lines")
	beats := 0
	deadline := time.After(1 * time.Second)
wait:
	for {
		select {
		case ev, ok := <-s.events:
			require.True(t, ok)
			require.Equal(t, "heartbeat", ev.comment, "only heartbeats while nothing happens: %+v", ev)
			beats++
		case <-deadline:
			break wait
		}
	}
	require.GreaterOrEqual(t, beats, 5)
	require.Equal(t, reads, b.feed.reads.Load(), "heartbeats read nothing")

	require.NoError(t, b.store.LogAppend(context.Background(), id, "", time.Now(), "info", "hello"))
	l := logLine(t, s.next(t, time.Second))
	require.Equal(t, "hello", l.Message)
	s.close()
	b.waitSubscribers(t, 0)

	for _, tc := range []struct {
		path, lastID string
		status       int
		detail       string
	}{
		{path: path, lastID: "abc", status: http.StatusBadRequest, detail: "Last-Event-ID"},
		{path: path, lastID: "-5", status: http.StatusBadRequest, detail: "Last-Event-ID"},
		{path: path + "?after=x", status: http.StatusBadRequest, detail: "after"},
		{path: "/api/v1/runs/999999999999/logs", status: http.StatusNotFound, detail: "999999999999"},
	} {
		req, err := http.NewRequest(http.MethodGet, b.srv.URL+tc.path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/event-stream")
		if tc.lastID != "" {
			req.Header.Set("Last-Event-ID", tc.lastID)
		}
		resp, err := b.srv.Client().Do(req)
		require.NoError(t, err)
		var p problem
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, "%+v", tc)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		require.Contains(t, p.Detail, tc.detail)
	}
	require.Equal(t, 0, b.listener.Subscribers())

	// Without the Accept header the same URL is the JSON page.
	var page logPage
	req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/json")
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	require.Len(t, page.Lines, 1)
}

// TestLogStreamEndsAtShutdown: when the process stops listening, open tails
// end (so a graceful HTTP shutdown is not held up) and clients reconnect.
func TestLogStreamEndsAtShutdown(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{heartbeat: time.Hour})
	id := b.createRun(t, "app")
	s := b.openStream(t, fmt.Sprintf("/api/v1/runs/%d/logs", id), "")
	b.waitSubscribers(t, 1)
	start := time.Now()
	b.stopListening()
	s.requireEnded(t)
	t.Logf("tail ended %s after the listener stopped", time.Since(start))
	require.Equal(t, 0, b.listener.Subscribers())
}

// utc puts the lines' times in one location, so lines read from the
// database and lines decoded from JSON compare equal.
func utc(lines []lifeboat.LogLine) []lifeboat.LogLine {
	out := make([]lifeboat.LogLine, len(lines))
	for i, l := range lines {
		l.Time = l.Time.UTC()
		out[i] = l
	}
	return out
}

// TestLogStreamEndsWhenTheRunHasFinished: a canceled run is "canceled" at
// once but its report still writes lines; the tail ends when finished_at
// is set, pushed by the runs trigger.
func TestLogStreamEndsWhenTheRunHasFinished(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{heartbeat: time.Hour})
	id := b.createRun(t, "app") // the runner is not started: it stays queued
	s := b.openStream(t, fmt.Sprintf("/api/v1/runs/%d/logs", id), "")
	b.waitSubscribers(t, 1)

	testenv.Exec(t, b.stateURL, fmt.Sprintf("UPDATE runs SET status = 'canceled', error = 'canceled by test' WHERE id = %d", id))
	select {
	case ev := <-s.events:
		t.Fatalf("the tail went on after a status without finished_at, got %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
	require.NoError(t, b.store.LogAppend(context.Background(), id, lifeboat.StageReport, time.Now(), "info", "reported run.canceled"))
	require.Equal(t, "reported run.canceled", logLine(t, s.next(t, time.Second)).Message)

	finished := time.Now()
	testenv.Exec(t, b.stateURL, fmt.Sprintf("UPDATE runs SET finished_at = now() WHERE id = %d", id))
	ev := s.next(t, time.Second)
	t.Logf("end arrived %s after finished_at was set", ev.at.Sub(finished))
	// Pushed, not polled (TestLogStreamFollowsARun counts reads); the bound
	// is only generous enough for a loaded CI machine.
	require.Less(t, ev.at.Sub(finished), 3*time.Second)
	e := endOf(t, ev)
	require.Equal(t, lifeboat.RunCanceled, e.Status)
	require.Equal(t, "canceled by test", e.Error)
	s.requireEnded(t)
	b.waitSubscribers(t, 0)
}
