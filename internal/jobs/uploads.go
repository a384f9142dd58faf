package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
)

// abortRunUploads aborts the open multipart uploads of run's backup object
// on each of its target's storages, when its backup did not succeed: the
// report runs once no attempt is left (the run failed, e.g. because the
// process writing it died, or was canceled), so nothing can still be
// writing them. The janitor would otherwise find them on its next pass.
func (r *Runner) abortRunUploads(ctx context.Context, run lifeboat.Run, t *config.Target, log *slog.Logger) {
	if b, ok := run.StageByName(lifeboat.StageBackup); !ok || b.Status == lifeboat.StageSucceeded || b.Attempt == 0 {
		return
	}
	key := blob.ObjectKey(run.Target, run.ID, run.CreatedAt)
	for _, name := range t.StorageNames() {
		a, ok := r.catalog().Stores[name].(blob.UploadAborter)
		if !ok {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := a.AbortUploads(actx, key, time.Now().Add(time.Hour))
		cancel()
		if n > 0 {
			log.Info(fmt.Sprintf("aborted %d multipart upload(s) of %s left by the failed backup", n, key), "storage", name)
		}
		if err != nil {
			log.Warn("could not abort the failed backup's uploads: "+err.Error(), "storage", name)
		}
	}
}
