package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

// gateRun inserts a finished run of app with a snapshot of one table of
// rows rows; from is the run whose backup it reuses (0: its own).
func gateRun(t *testing.T, st *Store, status lifeboat.RunStatus, rows int64, from int64) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	snap := lifeboat.SourceSnapshot{RowCountsMethod: "exact", Tables: []lifeboat.TableCount{{Schema: "public", Name: "t", Rows: rows}}}
	require.NoError(t, st.InTx(ctx, func(tx *Tx) error {
		var err error
		if id, err = tx.RunCreate(ctx, "app", lifeboat.TriggerAPI); err != nil {
			return err
		}
		if err := tx.ArtifactSet(ctx, id, lifeboat.Artifact{Storage: "main", Key: "k", StoredBytes: rows * 10, SHA256: "00"}, "", "", snap); err != nil {
			return err
		}
		_, err = tx.tx.Exec(ctx, `UPDATE runs SET status = $2, finished_at = now(), artifact_from_run = nullif($3, 0::bigint) WHERE id = $1`,
			id, string(status), from)
		return err
	}))
	return id
}

func TestGateBaseline(t *testing.T) {
	t.Parallel()
	_, st := migratedDB(t)
	ctx := context.Background()

	first := gateRun(t, st, lifeboat.RunSucceeded, 1000, 0)
	b, err := st.GateBaseline(ctx, "app", first, first)
	require.NoError(t, err)
	require.Nil(t, b, "nothing before the first run")

	dropped := gateRun(t, st, lifeboat.RunFailed, 10, 0)
	b, err = st.GateBaseline(ctx, "app", dropped, dropped)
	require.NoError(t, err)
	require.Equal(t, first, b.RunID, "the previous verified run")
	require.Equal(t, int64(1000), b.Snapshot.Tables[0].Rows)
	require.Equal(t, int64(10000), b.StoredBytes)
	require.False(t, b.Accepted)

	// A failed run that nobody accepted is never a baseline.
	next := gateRun(t, st, lifeboat.RunFailed, 10, 0)
	b, err = st.GateBaseline(ctx, "app", next, next)
	require.NoError(t, err)
	require.Equal(t, first, b.RunID)

	// Only a finished run whose gates tripped can be accepted.
	_, err = st.BaselineAccept(ctx, dropped, "token ci", time.Now())
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err))
	require.ErrorContains(t, err, "no anomaly gate tripped")
	require.NoError(t, st.InTx(ctx, func(tx *Tx) error {
		return tx.ChecksSave(ctx, dropped, []lifeboat.CheckResult{{Name: "gate: rows public.t", Builtin: true, Observed: "public.t: 1 000 → 10 rows"}})
	}))
	at := time.Now().Truncate(time.Microsecond)
	run, err := st.BaselineAccept(ctx, dropped, "token ci", at)
	require.NoError(t, err)
	require.Equal(t, &lifeboat.BaselineAcceptance{By: "token ci", At: at}, normalized(run.Baseline))
	again, err := st.BaselineAccept(ctx, dropped, "admin", at.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, "token ci", again.Baseline.By, "the first acceptance stands")

	b, err = st.GateBaseline(ctx, "app", next, next)
	require.NoError(t, err)
	require.Equal(t, dropped, b.RunID, "the accepted run")
	require.True(t, b.Accepted)

	// A retry reusing the accepted run's backup compares with that run
	// itself; one reusing the first backup ignores everything newer than it.
	retry := gateRun(t, st, lifeboat.RunFailed, 10, dropped)
	b, err = st.GateBaseline(ctx, "app", retry+1, dropped)
	require.NoError(t, err)
	require.Equal(t, dropped, b.RunID)
	b, err = st.GateBaseline(ctx, "app", retry+1, first)
	require.NoError(t, err)
	require.Equal(t, first, b.RunID, "the same backup, verified; not the newer accepted one")

	_, err = st.BaselineAccept(ctx, 1<<50, "admin", at)
	require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))
}

func normalized(b *lifeboat.BaselineAcceptance) *lifeboat.BaselineAcceptance {
	if b == nil {
		return nil
	}
	return &lifeboat.BaselineAcceptance{By: b.By, At: b.At.Local()}
}
