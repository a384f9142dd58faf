package jobs

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// DeliverAsOwner makes one attempt at delivery id as the job that owns it,
// as that job's Work does but outside River (the job is left as it is):
// two calls at once are a job rescued while its first run still sends.
func (r *Runner) DeliverAsOwner(ctx context.Context, id int64) error {
	var owner int64
	err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		_, owner, err = tx.DeliveryLock(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	return r.deliver(ctx, id, owner, 1, DeliveryMaxAttempts, func(context.Context, *store.Tx) error { return nil })
}

// QueueRunEnd queues the finished-run event of run id to its webhooks, as
// the report stage's transaction does.
func (r *Runner) QueueRunEnd(ctx context.Context, id int64) error {
	return r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		run, err := tx.RunGet(ctx, id)
		if err != nil {
			return err
		}
		return r.enqueueRunEndTx(ctx, tx, run)
	})
}
