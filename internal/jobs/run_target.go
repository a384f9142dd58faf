package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// A run works from one snapshot of its target: the settings read when the
// run was created are recorded on its row (runs.target_config), and every
// stage, on any process and after any restart, reads them back from there.
// A catalog edit mid-run therefore cannot change which checks run or which
// notifiers hear about it. Secrets are not recorded (the row is not
// encrypted): the source's address is read from the current catalog when
// the backup stage needs it, and a notifier's address is its sender's.

// pinTargetTx records t as the settings run id works from, in the
// transaction that creates the run.
func pinTargetTx(ctx context.Context, tx *store.Tx, id int64, t *config.Target) error {
	pinned := *t
	pinned.DatabaseURL, pinned.DatabaseURLFile = "", ""
	pinned.TriggerSecret, pinned.TriggerSecretFile = "", ""
	raw, err := json.Marshal(pinned)
	if err != nil {
		return fmt.Errorf("run %d: %w", id, err)
	}
	return tx.RunTargetSet(ctx, id, raw)
}

// runTarget returns the target settings run works from: those recorded
// when it was created, with the source address from the current catalog.
// ok is false when the run cannot go on: its target is gone and it has no
// recorded settings, or needSource and the target is gone.
func (r *Runner) runTarget(ctx context.Context, run lifeboat.Run, needSource bool) (*config.Target, bool, error) {
	raw, err := r.deps.Store.RunTarget(ctx, run.ID)
	if err != nil {
		return nil, false, err
	}
	return r.runTargetFrom(raw, run, needSource)
}

// runTargetTx is runTarget in tx.
func (r *Runner) runTargetTx(ctx context.Context, tx *store.Tx, run lifeboat.Run) (*config.Target, bool, error) {
	raw, err := tx.RunTarget(ctx, run.ID)
	if err != nil {
		return nil, false, err
	}
	return r.runTargetFrom(raw, run, false)
}

func (r *Runner) runTargetFrom(raw []byte, run lifeboat.Run, needSource bool) (*config.Target, bool, error) {
	current, found := r.conf().Target(run.Target)
	if raw == nil { // a run older than recorded settings
		return current, found, nil
	}
	var t config.Target
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, false, lifeboat.Permanent(fmt.Errorf("target settings of run %d: %w", run.ID, err))
	}
	if found {
		t.DatabaseURL = current.DatabaseURL
	}
	return &t, found || !needSource, nil
}
