package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// TriggerFromHook starts a run for a signed inbound request (Standard
// Webhooks: HMAC-SHA256 over id.timestamp.body, timestamp within 5 minutes)
// from systems that cannot hold an API token. A replayed message id is
// refused. The error does not say whether the target exists, so the
// endpoint cannot be used to list targets.
func (r *Runner) TriggerFromHook(ctx context.Context, target string, header http.Header, body []byte) (lifeboat.Run, error) {
	unauthorized := &lifeboat.Error{Code: lifeboat.EUNAUTHORIZED, Message: "signature not valid for this target"}
	t, ok := r.conf().Target(target)
	if !ok || t.TriggerSecret == "" {
		return lifeboat.Run{}, unauthorized
	}
	var secrets [][]byte
	for _, s := range strings.Fields(t.TriggerSecret) {
		if b, err := notify.ParseSecret(s); err == nil {
			secrets = append(secrets, b)
		}
	}
	now := r.deps.Now()
	if err := notify.Verify(secrets, header, body, now, notify.DefaultTolerance); err != nil {
		r.deps.Logger.Warn("inbound trigger refused", "target", target, "err", err)
		return lifeboat.Run{}, &lifeboat.Error{Code: lifeboat.EUNAUTHORIZED, Message: strings.TrimPrefix(err.Error(), notify.ErrUnverified.Error()+": "), Err: err}
	}
	id := header.Get("webhook-id")
	fresh, err := r.deps.Store.HookClaim(ctx, target, id, now, now.Add(-2*notify.DefaultTolerance))
	if err != nil {
		return lifeboat.Run{}, err
	}
	if !fresh {
		return lifeboat.Run{}, lifeboat.Errorf(lifeboat.ECONFLICT, "webhook-id %q was already used: replay refused", id)
	}
	run, err := r.StartRun(ctx, target, lifeboat.TriggerWebhook)
	if err != nil {
		if rerr := r.deps.Store.HookRelease(context.WithoutCancel(ctx), target, id); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return run, err
	}
	if err := r.deps.Store.HookRun(ctx, target, id, run.ID); err != nil {
		return run, fmt.Errorf("run %d started, but: %w", run.ID, err)
	}
	return run, nil
}
