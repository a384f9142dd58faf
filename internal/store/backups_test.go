package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// seedBackups inserts n runs of target with an artifact (ids ascending),
// every third one verified and every fifth one pruned, plus a run without
// an artifact between each, and returns the backups' ids.
func seedBackups(t *testing.T, b *testBundle, target string, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := 0; i < n; i++ {
		id := b.newRun(t, target)
		ids = append(ids, id)
		pruned := "NULL"
		if i%5 == 4 {
			pruned = "now()"
		}
		testenv.Exec(t, b.url, fmt.Sprintf(`UPDATE runs SET storage = 'main', artifact_key = '%s/2026/01/01/%d.dump.zst.age',
			stored_bytes = %d, raw_bytes = %d, sha256 = '%064x', pruned_at = %s,
			pruned_reason = CASE WHEN %s IS NULL THEN NULL ELSE 'keep_last' END WHERE id = %d`,
			target, id, 1000+i, 5000+i, i, pruned, pruned, id))
		if i%3 == 0 {
			testenv.Exec(t, b.url, fmt.Sprintf(`UPDATE run_stages SET status = 'succeeded' WHERE run_id = %d AND stage = 'verify'`, id))
		}
		b.newRun(t, target) // no artifact: never listed
	}
	return ids
}

// listAll follows next pages until the end and returns every id listed.
func listAll(t *testing.T, st *store.Store, f lifeboat.BackupFilter) (ids []int64, pages int) {
	t.Helper()
	for {
		page, more, err := st.BackupList(context.Background(), f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), f.Limit)
		pages++
		for _, bk := range page {
			ids = append(ids, bk.ID)
		}
		if !more {
			return ids, pages
		}
		require.Len(t, page, f.Limit, "a page followed by more is full")
		f.BeforeID = page[len(page)-1].ID
	}
}

func TestBackupList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := seedBackups(t, b, "app", 23)
	seedBackups(t, b, "other", 4)

	var unpruned []int64
	for i := len(ids) - 1; i >= 0; i-- {
		if i%5 != 4 {
			unpruned = append(unpruned, ids[i])
		}
	}
	got, pages := listAll(t, b.store, lifeboat.BackupFilter{Target: "app", Limit: 5})
	require.Equal(t, unpruned, got, "newest first, pruned ones left out, no other target, no run without artifact")
	require.Equal(t, 4, pages) // 19 backups by 5

	var all []int64
	for i := len(ids) - 1; i >= 0; i-- {
		all = append(all, ids[i])
	}
	got, _ = listAll(t, b.store, lifeboat.BackupFilter{Target: "app", Limit: 7, IncludePruned: true})
	require.Equal(t, all, got, "include_pruned lists every backup")

	// An exact page: no "more" when nothing follows.
	page, more, err := b.store.BackupList(ctx, lifeboat.BackupFilter{Target: "other", Limit: 4})
	require.NoError(t, err)
	require.Len(t, page, 4)
	require.False(t, more)

	// Fields, verified and pruned.
	page, _, err = b.store.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: 200, IncludePruned: true})
	require.NoError(t, err)
	byID := map[int64]lifeboat.Backup{}
	for _, bk := range page {
		byID[bk.ID] = bk
	}
	first := byID[ids[0]]
	require.Equal(t, ids[0], first.RunID)
	require.Equal(t, "app", first.Target)
	require.Equal(t, "main", first.Storage)
	require.Equal(t, fmt.Sprintf("app/2026/01/01/%d.dump.zst.age", ids[0]), first.Key)
	require.EqualValues(t, 1000, first.StoredBytes)
	require.EqualValues(t, 5000, first.RawBytes)
	require.Len(t, first.SHA256, 64)
	require.True(t, first.Verified)
	require.False(t, byID[ids[1]].Verified)
	require.Nil(t, first.PrunedAt)
	require.NotNil(t, byID[ids[4]].PrunedAt)
	require.Equal(t, "keep_last", byID[ids[4]].PrunedReason)
	require.False(t, first.CreatedAt.IsZero())

	one, err := b.store.BackupGet(ctx, ids[3])
	require.NoError(t, err)
	require.Equal(t, byID[ids[3]], one)
	_, err = b.store.BackupGet(ctx, ids[3]+1) // a run without artifact
	require.ErrorIs(t, err, lifeboat.ErrNotFound)

	_, _, err = b.store.BackupList(ctx, lifeboat.BackupFilter{Target: "app"})
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
}

func TestServerKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// Concurrent first uses (several replicas starting) agree on one key.
	keys := make([][]byte, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = b.store.ServerKey(ctx, "download")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, keys[0], 32)
	for _, k := range keys[1:] {
		require.Equal(t, keys[0], k)
	}
	again, err := b.store.ServerKey(ctx, "download")
	require.NoError(t, err)
	require.Equal(t, keys[0], again)
	other, err := b.store.ServerKey(ctx, "else")
	require.NoError(t, err)
	require.False(t, bytes.Equal(keys[0], other), "each name has its own key")
}

func TestRestoreRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ids := seedBackups(t, b, "app", 1)
	bk, err := b.store.BackupGet(ctx, ids[0])
	require.NoError(t, err)

	var id int64
	require.NoError(t, b.store.InTx(ctx, func(tx *store.Tx) error {
		id, err = tx.RestoreCreate(ctx, bk, "postgres://u@h/db", []byte("sealed"), true)
		return err
	}))
	r, err := b.store.RestoreGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RestoreQueued, r.Status)
	require.Equal(t, bk.ID, r.BackupID)
	require.Equal(t, "app", r.Target)
	require.True(t, r.Clean)
	require.Equal(t, "postgres://u@h/db", r.DatabaseURL)

	require.NoError(t, b.store.RestoreStart(ctx, id, 1))
	now := time.Now()
	require.NoError(t, b.store.RestoreLogAppend(ctx, id, now, "info", "one"))
	require.NoError(t, b.store.RestoreLogAppend(ctx, id, now, "error", "two"))
	require.NoError(t, b.store.RestoreLogAppend(ctx, id, now, "info", "three"))
	tail, err := b.store.RestoreLogTail(ctx, id, 2)
	require.NoError(t, err)
	require.Len(t, tail, 2)
	require.Equal(t, "two", tail[0].Message, "the last lines, oldest first")
	require.Equal(t, "three", tail[1].Message)

	sealed, err := b.store.RestoreSealedURL(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []byte("sealed"), sealed)
	checks := []lifeboat.CheckResult{{Name: "rows public.t", Builtin: true, Passed: true, Expected: "3", Observed: "3"}}
	require.NoError(t, b.store.InTx(ctx, func(tx *store.Tx) error {
		return tx.RestoreFinish(ctx, id, lifeboat.RestoreSucceeded, "", map[string]int{"jobs": 2}, checks)
	}))
	sealed, err = b.store.RestoreSealedURL(ctx, id)
	require.NoError(t, err)
	require.Nil(t, sealed, "the sealed URL is erased when the restore ends")
	r, err = b.store.RestoreGet(ctx, id)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RestoreSucceeded, r.Status)
	require.Equal(t, 1, r.Attempt)
	require.NotNil(t, r.StartedAt)
	require.NotNil(t, r.FinishedAt)
	require.Equal(t, checks, r.Checks)
	require.JSONEq(t, `{"jobs": 2}`, string(r.Metrics))

	// An ended restore stays ended.
	err = b.store.InTx(ctx, func(tx *store.Tx) error {
		return tx.RestoreFinish(ctx, id, lifeboat.RestoreFailed, "late", nil, nil)
	})
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err))
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(b.store.RestoreStart(ctx, id, 2)))
	_, err = b.store.RestoreGet(ctx, id+1000)
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
}
