package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/blob"
)

// abortDeadUploads aborts the multipart uploads of key left by earlier
// attempts at this backup (a process killed mid-upload), on every store the
// attempt writes to, before it begins its own: only one attempt of a run
// works at a time, so any upload of its key that is open now is dead. The
// margin covers a storage server whose clock runs ahead of ours. Failing
// to abort only leaves them to the janitor.
func abortDeadUploads(ctx context.Context, in BackupInput, key string, log *slog.Logger) {
	stores := []blob.Store{in.Store}
	for _, c := range in.Copies {
		stores = append(stores, c.Store)
	}
	before := time.Now().Add(time.Minute)
	for _, s := range stores {
		a, ok := s.(blob.UploadAborter)
		if !ok {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := a.AbortUploads(actx, key, before)
		cancel()
		if n > 0 {
			log.Info(fmt.Sprintf("aborted %d multipart upload(s) of %s left by an earlier attempt", n, key))
		}
		if err != nil {
			log.Warn("could not abort the uploads of an earlier attempt: " + err.Error())
		}
	}
}
