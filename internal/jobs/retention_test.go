package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/retention"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// retentionOptions gives setup's target a retention policy (a YAML flow
// map). setup's template ends with the target's checks, so the policy line
// written after them lands in the target.
func retentionOptions(kind storageKind, policy string) options {
	return options{storage: kind, checks: `      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
    retention: ` + policy}
}

// fixture is a backup a test puts in place: a run row (unless unknown),
// its object and manifest in storage.
type fixture struct {
	name     string
	status   lifeboat.RunStatus // "" for an object unknown to history
	at       time.Time          // run creation, or the object's mtime when unknown (fs only)
	object   bool
	manifest bool
	// noArtifact records a run that stored nothing (with no object or manifest).
	noArtifact bool
	// keep and reason are what the plan must decide.
	keep   bool
	reason string

	runID int64
	key   string
}

// nextRunID takes a run id from the state database's sequence.
func (b *bundle) nextRunID(t *testing.T) int64 {
	t.Helper()
	return testenv.QueryInt(t, b.stateURL, "SELECT nextval('runs_id_seq')")
}

// place puts the fixtures' objects first and then records their runs in one
// transaction, so a prune running meanwhile sees either fresh unknown objects
// (kept by their grace) or the whole picture.
func (b *bundle) place(t *testing.T, fs []*fixture) {
	t.Helper()
	ctx := context.Background()
	for _, f := range fs {
		f.runID = b.nextRunID(t)
		if f.noArtifact {
			continue
		}
		f.key = blob.ObjectKey("app", f.runID, f.at)
		if f.object {
			_, err := b.blobs.Put(ctx, f.key, strings.NewReader("not a real dump: "+f.name))
			require.NoError(t, err)
		}
		if f.manifest {
			require.NoError(t, blob.PutManifest(ctx, b.blobs, f.key, blob.Manifest{FormatVersion: 1, Target: "app",
				RunID: f.runID, CreatedAt: f.at}))
		}
		if f.status == "" {
			b.setModified(t, f.key, f.at, f.object, f.manifest)
		}
	}
	tx, err := b.store.Pool().Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, f := range fs {
		if f.status == "" {
			continue
		}
		var storage, key *string
		if !f.noArtifact {
			main := "main"
			storage, key = &main, &f.key
		}
		_, err := tx.Exec(ctx, `INSERT INTO runs (id, target, trigger, status, created_at, started_at, finished_at,
			storage, artifact_key, stored_bytes, raw_bytes, sha256)
			VALUES ($1, 'app', 'schedule', $2, $3, $3, CASE WHEN $2 IN ('queued', 'running') THEN NULL ELSE $3::timestamptz + interval '5 minutes' END,
			$4, $5, 17, 42, 'cafe')`, f.runID, string(f.status), f.at, storage, key)
		require.NoError(t, err, f.name)
	}
	require.NoError(t, tx.Commit(ctx))
}

// setModified backdates an unknown object's files (fs only: S3 sets its own
// modification times, and those objects stay fresh there).
func (b *bundle) setModified(t *testing.T, key string, at time.Time, object, manifest bool) {
	t.Helper()
	fs, ok := b.blobs.(*blob.FS)
	if !ok {
		return
	}
	for _, k := range []string{key, blob.ManifestKey(key)} {
		if k == key && !object || k != key && !manifest {
			continue
		}
		p := filepath.Join(fs.Root(), filepath.FromSlash(k))
		require.NoError(t, os.Chtimes(p, at, at))
	}
}

// stored lists the keys under app/ in storage.
func (b *bundle) stored(t *testing.T) map[string]bool {
	t.Helper()
	infos, err := b.blobs.List(context.Background(), "app/")
	require.NoError(t, err)
	out := map[string]bool{}
	for _, i := range infos {
		out[i.Key] = true
	}
	return out
}

// pruned returns each pruned run's reason.
func (b *bundle) pruned(t *testing.T) map[int64]string {
	t.Helper()
	rows, err := b.store.Pool().Query(context.Background(),
		"SELECT id, pruned_reason FROM runs WHERE pruned_at IS NOT NULL AND target = 'app'")
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var reason string
		require.NoError(t, rows.Scan(&id, &reason))
		out[id] = reason
	}
	require.NoError(t, rows.Err())
	return out
}

// waitPrunes waits until no prune or sweep job is waiting or running, and
// requires that none was given up.
func (b *bundle) waitPrunes(t *testing.T) {
	t.Helper()
	const kinds = "kind IN ('lifeboat.prune', 'lifeboat.prune_sweep')"
	deadline := time.Now().Add(time.Minute)
	for testenv.QueryInt(t, b.stateURL, "SELECT count(*) FROM river_job WHERE "+kinds+
		" AND state NOT IN ('completed', 'cancelled', 'discarded')") > 0 {
		require.True(t, time.Now().Before(deadline), "prune jobs still pending after a minute")
		time.Sleep(100 * time.Millisecond)
	}
	require.Zero(t, testenv.QueryInt(t, b.stateURL, "SELECT count(*) FROM river_job WHERE "+kinds+
		" AND (state = 'discarded' OR cardinality(errors) > 0)"), "a prune job failed:\n%s", b.logs.String())
}

// verifiedRuns runs the real pipeline n times and backdates the runs to
// yesterday evening, one minute apart, so their days are fixed.
func (b *bundle) verifiedRuns(t *testing.T, n int, midnight time.Time) []*fixture {
	t.Helper()
	var out []*fixture
	for i := 0; i < n; i++ {
		run := b.runToEnd(t)
		require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))
		require.NotNil(t, run.Artifact)
		at := midnight.Add(-4*time.Hour + time.Duration(i)*time.Minute)
		_, err := b.store.Pool().Exec(context.Background(), "UPDATE runs SET created_at = $2 WHERE id = $1", run.ID, at)
		require.NoError(t, err)
		out = append(out, &fixture{name: "real run " + string(rune('1'+i)), status: lifeboat.RunSucceeded, at: at,
			object: true, manifest: true, keep: true, runID: run.ID, key: run.Artifact.Key})
	}
	return out
}

func TestPrune(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, retentionOptions(kind, "{keep_last: 2, keep_daily: 3}"))
			ctx := context.Background()
			now := time.Now().UTC()
			midnight := now.Truncate(24 * time.Hour)
			day := func(n int, hour int) time.Time {
				return midnight.AddDate(0, 0, -n).Add(time.Duration(hour) * time.Hour)
			}
			runs := b.verifiedRuns(t, 2, midnight)
			b.waitPrunes(t) // each verified run enqueued a prune: nothing to delete yet

			fs := []*fixture{
				{name: "verified 3 days ago", status: lifeboat.RunSucceeded, at: day(3, 3), object: true, manifest: true, keep: true, reason: "keep_daily"},
				{name: "verified earlier that day", status: lifeboat.RunSucceeded, at: day(3, 1), object: true, manifest: true, reason: "verified, beyond the keep_* policy"},
				{name: "verified 6 days ago", status: lifeboat.RunSucceeded, at: day(6, 3), object: true, manifest: true, keep: true, reason: "keep_daily"},
				{name: "verified 10 days ago", status: lifeboat.RunSucceeded, at: day(10, 3), object: true, manifest: true, reason: "verified, beyond the keep_* policy"},
				{name: "failed 2 days ago", status: lifeboat.RunFailed, at: now.Add(-48 * time.Hour), object: true, manifest: true, keep: true, reason: "within unverified grace"},
				{name: "failed 8 days ago", status: lifeboat.RunFailed, at: now.Add(-8 * 24 * time.Hour), object: true, manifest: true, reason: "unverified (run failed), older than 7d"},
				{name: "no manifest 3 days ago", status: lifeboat.RunFailed, at: now.Add(-72 * time.Hour), object: true, reason: "no manifest, older than 1d"},
				{name: "object gone 4 days ago", status: lifeboat.RunSucceeded, at: now.Add(-96 * time.Hour), reason: "object missing from storage, older than 1d"},
				{name: "run still active", status: lifeboat.RunRunning, at: now.Add(-20 * 24 * time.Hour), object: true, manifest: true, keep: true, reason: "run still active"},
				{name: "unknown, fresh", at: now, object: true, manifest: true, keep: true, reason: "not in lifeboat's history), within unverified grace"},
				{name: "unknown partial, fresh", at: now, object: true, keep: true, reason: "no manifest, within partial grace"},
			}
			if kind == storageFS { // modification times can be set on a folder only
				fs = append(fs,
					&fixture{name: "unknown partial, 2 days", at: now.Add(-48 * time.Hour), object: true, reason: "no manifest, older than 1d"},
					&fixture{name: "unknown, 8 days", at: now.Add(-8 * 24 * time.Hour), object: true, manifest: true, reason: "unverified (not in lifeboat's history), older than 7d"},
					&fixture{name: "unknown, older than all history", at: now.Add(-400 * 24 * time.Hour), object: true, manifest: true, keep: true, reason: "predates lifeboat's history"},
					&fixture{name: "manifest alone", at: now.Add(-48 * time.Hour), manifest: true, reason: "object missing from storage, older than 1d"})
			}
			b.place(t, fs)
			// A file that is not a backup is not retention's business.
			_, err := b.blobs.Put(ctx, "app/notes.txt", strings.NewReader("keep me"))
			require.NoError(t, err)
			runs[0].reason, runs[1].reason = "keep_last", "newest verified"
			all := append(runs, fs...)

			decisions, err := b.runner.Prune(ctx, "app", false)
			require.NoError(t, err)
			requireDecisions(t, all, decisions)

			left := b.stored(t)
			pruned := b.pruned(t)
			deleted := 0
			for _, f := range all {
				if f.object {
					require.Equal(t, f.keep, left[f.key], "%s: object kept?", f.name)
				}
				if f.manifest {
					require.Equal(t, f.keep, left[blob.ManifestKey(f.key)], "%s: manifest kept?", f.name)
				}
				if !f.keep {
					deleted++
				}
				if f.status == "" {
					continue
				}
				reason, isPruned := pruned[f.runID]
				require.Equal(t, !f.keep, isPruned, "%s: run marked pruned?", f.name)
				if isPruned {
					require.Contains(t, reason, f.reason, f.name)
				}
			}
			require.True(t, left["app/notes.txt"])
			require.Equal(t, deleted, strings.Count(b.logs.String(), `msg="pruned backup"`), "one log line per deletion:\n%s", b.logs.String())

			// Pruning again finds nothing more to do.
			decisions, err = b.runner.Prune(ctx, "app", false)
			require.NoError(t, err)
			for _, d := range decisions {
				require.True(t, d.Keep, "%s: %v", d.Key, d.Reasons)
			}
			require.Equal(t, left, b.stored(t))
		})
	}
}

// requireDecisions checks that the plan holds one decision per fixture, as
// the fixture expects.
func requireDecisions(t *testing.T, fs []*fixture, ds []retention.Decision) {
	t.Helper()
	byKey := map[string]retention.Decision{}
	for _, d := range ds {
		byKey[d.Key] = d
	}
	var want, got []string
	for _, f := range fs {
		want = append(want, f.key)
	}
	for k := range byKey {
		got = append(got, k)
	}
	sort.Strings(want)
	sort.Strings(got)
	require.Equal(t, want, got, "one decision per backup")
	for _, f := range fs {
		d := byKey[f.key]
		require.Equal(t, f.keep, d.Keep, "%s: %v", f.name, d.Reasons)
		require.Contains(t, strings.Join(d.Reasons, "; "), f.reason, f.name)
		if f.status != "" {
			require.Equal(t, f.runID, d.RunID, f.name)
		}
	}
}

// TestPruneNothingWhileLatestRunFailed: a failing pipeline must not eat its
// own history; the next verified run prunes, by itself.
func TestPruneNothingWhileLatestRunFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, retentionOptions(storageFS, "{keep_last: 1}"))
	ctx := context.Background()
	now := time.Now().UTC()
	midnight := now.Truncate(24 * time.Hour)
	runs := b.verifiedRuns(t, 1, midnight)
	b.waitPrunes(t)
	old := []*fixture{
		{name: "verified 5 days ago", status: lifeboat.RunSucceeded, at: now.Add(-5 * 24 * time.Hour), object: true, manifest: true},
		{name: "failed 9 days ago", status: lifeboat.RunFailed, at: now.Add(-9 * 24 * time.Hour), object: true, manifest: true},
		{name: "partial 9 days ago", status: lifeboat.RunFailed, at: now.Add(-9 * 24 * time.Hour), object: true},
	}
	b.place(t, old)
	// The latest run failed (before storing anything).
	b.place(t, []*fixture{{name: "latest, failed", status: lifeboat.RunFailed, at: now, noArtifact: true}})

	before := b.stored(t)
	decisions, err := b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
	require.Len(t, decisions, 4)
	for _, d := range decisions {
		require.True(t, d.Keep, "%s", d.Key)
		if d.RunID != runs[0].runID {
			require.Equal(t, retention.ReasonLatestFailed, d.Reasons[0], "%s", d.Key)
			require.Contains(t, d.Reasons[1], "otherwise: ")
		}
	}
	require.Equal(t, before, b.stored(t), "nothing deleted")
	require.Empty(t, b.pruned(t), "nothing marked pruned")

	// A canceled run says nothing about the pipeline: still nothing pruned.
	b.place(t, []*fixture{{name: "canceled", status: lifeboat.RunCanceled, at: now, noArtifact: true}})
	_, err = b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
	require.Equal(t, before, b.stored(t), "nothing deleted")

	// The next verified run enqueues a prune with its result: it deletes
	// everything but that run's backup.
	next := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, next.Status, "error: %s", next.Error)
	b.waitPrunes(t)
	left := b.stored(t)
	require.Equal(t, map[string]bool{next.Artifact.Key: true, blob.ManifestKey(next.Artifact.Key): true}, left)
	pruned := b.pruned(t)
	require.Len(t, pruned, 4)
	require.Contains(t, pruned[runs[0].runID], "verified, beyond the keep_* policy")
	require.Contains(t, pruned[old[1].runID], "unverified (run failed), older than 7d")
	require.Contains(t, pruned[old[2].runID], "no manifest, older than 1d")
}

// TestPruneSweep: the periodic sweep (also run when the leader starts)
// prunes every target whose policy is on, without any new run.
func TestPruneSweep(t *testing.T) {
	t.Parallel()
	o := retentionOptions(storageFS, "{keep_daily: 1}")
	o.noStart = true
	b := setup(t, o)
	now := time.Now().UTC()
	fs := []*fixture{
		{name: "new", status: lifeboat.RunSucceeded, at: now.Add(-time.Hour), object: true, manifest: true},
		{name: "old", status: lifeboat.RunSucceeded, at: now.Add(-50 * time.Hour), object: true, manifest: true},
	}
	b.place(t, fs)

	ctx := context.Background()
	require.NoError(t, b.runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.runner.Stop(sctx)
	})
	deadline := time.Now().Add(time.Minute)
	for b.stored(t)[fs[1].key] {
		require.True(t, time.Now().Before(deadline), "the sweep did not prune:\n%s", b.logs.String())
		time.Sleep(100 * time.Millisecond)
	}
	b.waitPrunes(t)
	require.Equal(t, map[string]bool{fs[0].key: true, blob.ManifestKey(fs[0].key): true}, b.stored(t))
	require.Equal(t, map[int64]string{fs[1].runID: "verified, beyond the keep_* policy"}, b.pruned(t))
}

// TestRetentionDryRunOverHTTP: GET /api/v1/targets/{name}/retention shows
// the plan and deletes nothing.
func TestRetentionDryRunOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, retentionOptions(storageFS, "{keep_last: 1, keep_weekly: 4, unverified_grace: 72h}"))
	now := time.Now().UTC()
	runs := b.verifiedRuns(t, 1, now.Truncate(24*time.Hour))
	b.waitPrunes(t)
	fs := []*fixture{
		{name: "verified yesterday", status: lifeboat.RunSucceeded, at: runs[0].at.Add(-time.Hour), object: true, manifest: true},
		{name: "failed 4 days ago", status: lifeboat.RunFailed, at: now.Add(-96 * time.Hour), object: true, manifest: true},
	}
	b.place(t, fs)
	before := b.stored(t)

	tokens := auth.New(b.store)
	_, token, err := tokens.Create(context.Background(), "test")
	require.NoError(t, err)
	s := &api.Server{Retention: b.runner, Tokens: tokens, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/targets/app/retention", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	var plan struct {
		Target          string         `json:"target"`
		Policy          map[string]any `json:"policy"`
		LatestRunFailed bool           `json:"latest_run_failed"`
		Backups         []struct {
			RunID     int64     `json:"run_id"`
			Status    string    `json:"status"`
			Storage   string    `json:"storage"`
			Key       string    `json:"key"`
			CreatedAt time.Time `json:"created_at"`
			Verified  bool      `json:"verified"`
			Manifest  bool      `json:"manifest"`
			Keep      bool      `json:"keep"`
			Reasons   []string  `json:"reasons"`
		} `json:"backups"`
	}
	require.NoError(t, json.Unmarshal(body, &plan), "body: %s", body)
	require.Equal(t, "app", plan.Target)
	require.False(t, plan.LatestRunFailed)
	require.Equal(t, map[string]any{"enabled": true, "keep_last": 1.0, "keep_daily": 0.0, "keep_weekly": 4.0,
		"keep_monthly": 0.0, "keep_yearly": 0.0, "min_verified": 1.0, "unverified_grace_seconds": 259200.0,
		"partial_grace_seconds": 86400.0, "timezone": "UTC"}, plan.Policy)
	require.Len(t, plan.Backups, 3, "body: %s", body)
	newest, yesterday, failed := plan.Backups[0], plan.Backups[1], plan.Backups[2]
	require.Equal(t, runs[0].runID, newest.RunID)
	require.Equal(t, runs[0].key, newest.Key)
	require.Equal(t, "succeeded", newest.Status)
	require.Equal(t, "main", newest.Storage)
	require.True(t, newest.CreatedAt.Equal(runs[0].at))
	require.True(t, newest.Verified && newest.Manifest && newest.Keep)
	require.Contains(t, newest.Reasons, "newest verified")
	require.Contains(t, newest.Reasons, "keep_last")

	require.Equal(t, fs[0].runID, yesterday.RunID)
	// Both runs are from yesterday evening: keep_weekly keeps the newer.
	require.False(t, yesterday.Keep)
	require.Equal(t, []string{"verified, beyond the keep_* policy"}, yesterday.Reasons)
	require.Equal(t, fs[1].runID, failed.RunID)
	require.False(t, failed.Keep)
	require.False(t, failed.Verified)
	require.Equal(t, []string{"unverified (run failed), older than 3d"}, failed.Reasons)

	require.Equal(t, before, b.stored(t), "a dry run deletes nothing")
	require.Empty(t, b.pruned(t), "a dry run marks nothing")

	req, err = http.NewRequest(http.MethodGet, srv.URL+"/api/v1/targets/nope/retention", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	require.Contains(t, string(body), `no target named \"nope\"`)
}
