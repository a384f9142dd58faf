package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// gates compares the run's source snapshot (snap) and stored size with the
// target's baseline: its previous verified backup, or a run whose snapshot
// a user accepted. The verify stage counts a tripped gate as a failed check.
func (r *Runner) gates(ctx context.Context, run lifeboat.Run, t *config.Target, snap lifeboat.SourceSnapshot, log *slog.Logger) ([]lifeboat.CheckResult, error) {
	backupOf, stored := run.ID, int64(0)
	if a := run.Artifact; a != nil {
		stored = a.StoredBytes
		if a.ReusedFromRun != 0 {
			backupOf = a.ReusedFromRun
		}
	}
	b, err := r.deps.Store.GateBaseline(ctx, run.Target, run.ID, backupOf)
	if err != nil {
		return nil, err
	}
	var base *verify.Baseline
	if b != nil {
		base = &verify.Baseline{RunID: b.RunID, Snapshot: b.Snapshot, StoredBytes: b.StoredBytes, Accepted: b.Accepted}
		log.Info(fmt.Sprintf("anomaly gates compare with run #%d", b.RunID))
	} else {
		log.Info("anomaly gates: no verified backup of " + run.Target + " yet to compare with")
	}
	return verify.CheckGates(t.Gates.Resolve(), base, snap, stored), nil
}

// AcceptBaseline makes run's snapshot and stored size its target's
// baseline for the anomaly gates, recording who (by) and when.
func (r *Runner) AcceptBaseline(ctx context.Context, runID int64, by string) (lifeboat.Run, error) {
	return r.deps.Store.BaselineAccept(ctx, runID, by, r.deps.Now())
}
