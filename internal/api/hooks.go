package api

import (
	"context"
	"io"
	"net/http"

	"github.com/lifeboat-dev/lifeboat"
)

// HookTrigger starts runs from signed inbound requests (jobs.Runner).
type HookTrigger interface {
	TriggerFromHook(ctx context.Context, target string, header http.Header, body []byte) (lifeboat.Run, error)
}

// maxHookBody caps an inbound trigger's body; the signature covers it all.
const maxHookBody = 64 << 10

// TriggerRunFromHook starts a run from a signed request; jobs checks the
// signature over the whole body.
func (s *Server) TriggerRunFromHook(ctx context.Context, in TriggerRunFromHookRequestObject) (TriggerRunFromHookResponseObject, error) {
	var body []byte
	if in.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(in.Body, maxHookBody+1))
		if err != nil {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "body: %v", err)
		}
		if len(body) > maxHookBody {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "body: larger than %d bytes", maxHookBody)
		}
	}
	run, err := s.Hooks.TriggerFromHook(ctx, in.Name, requestOf(ctx).Header, body)
	if err != nil {
		return nil, err
	}
	return TriggerRunFromHook202JSONResponse{Body: run, Headers: TriggerRunFromHook202ResponseHeaders{Location: runURL(run.ID)}}, nil
}
