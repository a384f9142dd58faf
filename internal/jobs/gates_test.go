package jobs_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// apiClient calls a test server with a bearer token.
type apiClient struct {
	srv   *httptest.Server
	token string
}

func (c apiClient) do(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.srv.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	return resp, body
}

func (c apiClient) problem(t *testing.T, method, path string, status int) string {
	t.Helper()
	resp, body := c.do(t, method, path)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, body)
	var p struct{ Detail string }
	require.NoError(t, json.Unmarshal(body, &p))
	return p.Detail
}

func gateResults(run lifeboat.Run) (passed, failed []lifeboat.CheckResult) {
	for _, c := range run.Checks {
		if !c.IsGate() {
			continue
		}
		if c.Passed {
			passed = append(passed, c)
		} else {
			failed = append(failed, c)
		}
	}
	return passed, failed
}

// A real source loses 90 % of a table's rows between two runs: the second
// run fails in verify naming the table, its chat message leads with it and
// the heartbeat stays silent. Once the drop is accepted as the baseline
// (through the API, recorded with the token's name), the next run passes;
// dropping a table then fails the run naming it. The period's signed
// evidence report matches that history.
func TestGatesAndEvidence(t *testing.T) {
	t.Parallel()
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, testenv.SeedSQL+`CREATE TABLE audit_log AS SELECT g AS id FROM generate_series(1, 500) g;`)
	b := setup(t, options{sourceURL: src})
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)

	tokens := auth.New(b.store)
	_, token, err := tokens.Create(ctx, "ci")
	require.NoError(t, err)
	s := &api.Server{Reader: b.store, Evidence: b.runner, Baselines: b.runner, Tokens: tokens, Logger: slog.New(slog.DiscardHandler),
		Sessions: auth.NewSessions(tokens, b.store, "")}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	c := apiClient{srv: srv, token: token}

	// 1. The first run has nothing to compare with.
	run1 := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run1.Status, run1.Error)
	passed, failed := gateResults(run1)
	require.Empty(t, failed)
	require.Len(t, passed, 1)
	require.Equal(t, "gate: baseline", passed[0].Name)
	require.Contains(t, c.problem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/baseline", run1.ID), http.StatusConflict),
		"no anomaly gate tripped")

	// 2. 90 % of the orders vanish from the source.
	testenv.Exec(t, src, "DELETE FROM orders WHERE id % 10 <> 0")
	run2 := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run2.Status)
	st := stageStatus(run2)
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageRestore], "the backup restores fine")
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageVerify])
	reason := fmt.Sprintf("public.orders: 3 000 → 300 rows (−90 %%) since run #%d", run1.ID)
	require.Contains(t, run2.Error, reason)
	require.Contains(t, run2.Error, fmt.Sprintf("all tables: 4 000 → 1 300 rows (−67.5 %%) since run #%d", run1.ID))
	_, failed = gateResults(run2)
	require.NotEmpty(t, failed)
	require.True(t, run2.Checks[0].IsGate(), "gates come first: %+v", run2.Checks[0])
	for _, ch := range run2.Checks {
		if !ch.IsGate() {
			require.True(t, ch.Passed, "only gates fail: %+v", ch)
		}
	}
	chat := b.chat.received()
	require.Len(t, chat, 2)
	require.Contains(t, chat[1], reason)
	require.Len(t, b.heartbeat.received(), 1, "no heartbeat for the run whose gate tripped")

	// 3. Accept the drop through the API.
	resp, body := c.do(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/baseline", run2.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var accepted lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &accepted))
	require.NotNil(t, accepted.Baseline)
	require.Equal(t, "token ci", accepted.Baseline.By)
	require.WithinDuration(t, time.Now(), accepted.Baseline.At, time.Minute)
	got, err := b.store.RunGet(ctx, run2.ID)
	require.NoError(t, err)
	require.Equal(t, accepted.Baseline.By, got.Baseline.By, "recorded on the run")

	run3 := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run3.Status, run3.Error)
	passed, failed = gateResults(run3)
	require.Empty(t, failed)
	require.Contains(t, fmt.Sprint(passed), fmt.Sprintf("since run #%d (accepted baseline)", run2.ID))

	// 4. A table is dropped.
	testenv.Exec(t, src, "DROP TABLE audit_log")
	run4 := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run4.Status)
	require.Contains(t, run4.Error, fmt.Sprintf("public.audit_log: gone since run #%d", run3.ID))
	require.Len(t, b.heartbeat.received(), 2, "heartbeats for runs 1 and 3 only")

	// The evidence report of the period, through the API.
	var key lifeboat.EvidenceKey
	resp, body = c.do(t, http.MethodGet, "/api/v1/evidence/key")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.NoError(t, json.Unmarshal(body, &key))
	require.Equal(t, "generated", key.Source)
	pub, err := verify.ParsePublicKey(key.PublicKey)
	require.NoError(t, err)
	var sealed []byte
	require.NoError(t, b.store.Pool().QueryRow(ctx, "SELECT sealed_private FROM evidence_key").Scan(&sealed))
	require.True(t, bytes.HasPrefix(sealed, []byte("age-encryption.org/v1")), "the private key is stored encrypted")

	period := "?from=" + url.QueryEscape(start.Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	resp, doc := c.do(t, http.MethodGet, "/api/v1/targets/app/evidence"+period)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", doc)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	rep, sig, err := verify.VerifyEvidence(doc, pub)
	require.NoError(t, err)
	require.Equal(t, key.KeyID, sig.KeyID)
	changed := bytes.Clone(doc)
	i := bytes.Index(changed, []byte(run1.Artifact.SHA256))
	require.Positive(t, i)
	changed[i] ^= 0x01
	_, _, err = verify.VerifyEvidence(changed, pub)
	require.ErrorIs(t, err, verify.ErrEvidenceInvalid, "one changed byte fails")

	require.Equal(t, "app", rep.Scope)
	require.Len(t, rep.Targets, 1)
	tg := rep.Targets[0]
	require.Equal(t, 4, tg.Tests)
	require.Equal(t, 2, tg.Passed)
	require.Equal(t, 0, tg.ScheduledTests, "every run was started through the API")
	history := []lifeboat.Run{run1, run2, run3, run4}
	require.Len(t, tg.Runs, 4)
	var maxRestore float64
	for i, er := range tg.Runs {
		r, err := b.store.RunGet(ctx, history[i].ID)
		require.NoError(t, err)
		require.Equal(t, r.ID, er.ID)
		require.Equal(t, r.Status, er.Status)
		require.Equal(t, r.Artifact.Key, er.Artifact.Key)
		require.Equal(t, r.Artifact.SHA256, er.Artifact.SHA256)
		restore, _ := r.StageByName(lifeboat.StageRestore)
		secs := restore.FinishedAt.Sub(*restore.StartedAt).Seconds()
		require.InDelta(t, secs, *er.RestoreSeconds, 0.002, "run %d's restore time", r.ID)
		maxRestore = max(maxRestore, *er.RestoreSeconds)
		var checks, gates int
		for _, ch := range r.Checks {
			if ch.IsGate() {
				gates++
			} else {
				checks++
			}
		}
		require.Len(t, er.Checks, checks)
		require.Len(t, er.Gates, gates)
		backup, _ := r.StageByName(lifeboat.StageBackup)
		require.True(t, backup.FinishedAt.Equal(*er.BackupAt))
	}
	require.InDelta(t, maxRestore, tg.MaxRestoreSeconds, 1e-9)
	require.Equal(t, "token ci", tg.Runs[1].Baseline.By)

	require.Len(t, tg.Failures, 2)
	require.Equal(t, run2.ID, tg.Failures[0].RunID)
	require.Equal(t, "verify", tg.Failures[0].Stage)
	require.Equal(t, run3.ID, tg.Failures[0].EndedByRun)
	require.Contains(t, tg.Failures[0].Ended, "accepted as the new baseline by token ci")
	require.Equal(t, run4.ID, tg.Failures[1].RunID)
	require.Zero(t, tg.Failures[1].EndedByRun)

	// Observed RPO: the longest of: the period's start to run 1's backup
	// (nothing verified before), run 1's to run 3's, run 3's to the end of
	// the report (now).
	b1, b3 := *tg.Runs[0].BackupAt, *tg.Runs[2].BackupAt
	gaps := []struct {
		d        time.Duration
		from, to int64
	}{{b1.Sub(rep.From), 0, run1.ID}, {b3.Sub(b1), run1.ID, run3.ID}, {rep.GeneratedAt.Sub(b3), run3.ID, 0}}
	longest := gaps[0]
	for _, g := range gaps[1:] {
		if g.d > longest.d {
			longest = g
		}
	}
	require.Equal(t, longest.from, tg.LongestGap.FromRun)
	require.Equal(t, longest.to, tg.LongestGap.ToRun)
	require.InDelta(t, longest.d.Hours(), tg.LongestGap.Hours, 0.01)
	require.True(t, strings.HasPrefix(tg.Summary, "2 of 4 restore tests passed; longest gap without a verified backup "), tg.Summary)

	// Every target, and bad requests.
	resp, doc = c.do(t, http.MethodGet, "/api/v1/evidence"+period)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", doc)
	all, _, err := verify.VerifyEvidence(doc, pub)
	require.NoError(t, err)
	require.Equal(t, "all targets", all.Scope)
	require.Equal(t, tg.Summary, all.Targets[0].Summary)
	require.Contains(t, c.problem(t, http.MethodGet, "/api/v1/targets/app/evidence?from=yesterday", http.StatusBadRequest), "from: ")
	require.Contains(t, c.problem(t, http.MethodGet, "/api/v1/targets/app/evidence?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
		http.StatusBadRequest), "to: must be after from")
	require.Contains(t, c.problem(t, http.MethodGet, "/api/v1/targets/nope/evidence", http.StatusNotFound), `no target named "nope"`)
	require.Contains(t, c.problem(t, http.MethodPost, "/api/v1/runs/999999999/baseline", http.StatusNotFound), "no run #999999999")

	// The dashboard: the printable page, its signed download, and accepting
	// the dropped table as the signed-in token.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	web := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(method, path string) (*http.Response, string) {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = web.PostForm(srv.URL+path, url.Values{})
		} else {
			resp, err = web.Get(srv.URL + path)
		}
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		return resp, string(body)
	}
	resp, err = web.PostForm(srv.URL+"/login", url.Values{"secret": {token}})
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	resp, html := page(http.MethodGet, "/targets/app/evidence")
	require.Equal(t, http.StatusOK, resp.StatusCode, html)
	require.Contains(t, html, "2 of 4 restore tests passed")
	require.Contains(t, html, run1.Artifact.SHA256)
	require.Contains(t, html, key.PublicKey)
	resp, html = page(http.MethodGet, "/targets/app/evidence?from=someday")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, html, "from: &#34;someday&#34; is not a date")
	resp, html = page(http.MethodGet, "/targets/app/evidence.json")
	require.Equal(t, http.StatusOK, resp.StatusCode, html)
	require.Regexp(t, `^attachment; filename="lifeboat-evidence-app-\d{8}-\d{8}\.json"$`, resp.Header.Get("Content-Disposition"))
	_, _, err = verify.VerifyEvidence([]byte(html), pub)
	require.NoError(t, err, "the download verifies")

	resp, _ = page(http.MethodPost, fmt.Sprintf("/runs/%d/baseline", run4.ID))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, fmt.Sprintf("/runs/%d", run4.ID), resp.Header.Get("Location"))
	got, err = b.store.RunGet(ctx, run4.ID)
	require.NoError(t, err)
	require.NotNil(t, got.Baseline)
	require.Equal(t, "token ci", got.Baseline.By)
}

// A configured evidence.signing_key_file signs the reports, and nothing is
// generated or stored.
func TestEvidenceWithConfiguredKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "evidence.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	stateURL := testenv.CreateDB(t, "lbstate_")
	doc := `database_url: ${STATE_URL}
encryption: {age_identity_file: ./age.key}
evidence: {signing_key_file: ./evidence.pem}
storages: [{name: main, kind: fs, path: ./backups}]
targets: [{name: app, database_url: "postgres://nobody@127.0.0.1:1/none", storage: main}]
`
	w := lbtest.Wire(t, stateURL, doc, dir, map[string]string{"STATE_URL": stateURL}, &testenv.SyncBuffer{})
	runner, err := jobs.New(w.Deps, jobs.Options{Workers: 0})
	require.NoError(t, err)
	ctx := context.Background()
	k, err := runner.EvidenceKey(ctx)
	require.NoError(t, err)
	require.Equal(t, "config", k.Source)
	require.Equal(t, verify.KeyID(pub), k.KeyID)

	signed, rep, err := runner.Evidence(ctx, "", time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	_, _, err = verify.VerifyEvidence(signed, pub)
	require.NoError(t, err)
	require.Equal(t, "all targets", rep.Scope)
	require.Len(t, rep.Targets, 1, "a configured target without runs is in the report")
	require.Equal(t, "no finished restore tests; longest gap without a verified backup 1 h (still open at the end)", rep.Targets[0].Summary)
	var n int
	require.NoError(t, w.Pool.QueryRow(ctx, "SELECT count(*) FROM evidence_key").Scan(&n))
	require.Zero(t, n, "no key generated")

	_, _, err = runner.Evidence(ctx, "", time.Now(), time.Now().Add(-time.Hour))
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
	_, _, err = runner.Evidence(ctx, "", time.Now().Add(-500*24*time.Hour), time.Now())
	require.ErrorContains(t, err, "at most 400 days")
}
