package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestCancelAfterStageWork cancels a run when its backup's work is done but
// its result not yet written: the run goes no further and is reported
// canceled, and the stored backup stays known to it (retention prunes it
// as unverified) rather than becoming an orphan in storage.
func TestCancelAfterStageWork(t *testing.T) {
	t.Parallel()
	canceled := make(chan lifeboat.Run, 1)
	b := setup(t, options{afterStage: func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != lifeboat.StageBackup {
			return nil
		}
		run, err := b.runner.CancelRun(context.WithoutCancel(ctx), runID)
		canceled <- run
		return err
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)

	at := <-canceled
	require.Equal(t, lifeboat.RunCanceled, at.Status)
	require.Equal(t, "canceled by api", at.Error)
	st := stageStatus(at)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StagePending, st[lifeboat.StageReport])

	// A second cancel is a conflict: the first one decided.
	_, err = b.runner.CancelRun(ctx, run.ID)
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err), "err: %v", err)

	for {
		run, err = b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		if run.FinishedAt != nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %d was never reported: %+v", run.ID, run)
		case <-time.After(100 * time.Millisecond):
		}
	}
	logs := b.logText(t, run.ID)
	require.Equal(t, lifeboat.RunCanceled, run.Status, "logs:\n%s", logs)
	st = stageStatus(run)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageBackup])
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, "canceled", backup.Error)
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	require.Contains(t, logs, "its result is recorded, the run goes no further")

	require.NotNil(t, run.Artifact, "the stored backup is recorded")
	_, err = blob.GetManifest(ctx, b.blobs, run.Artifact.Key)
	require.NoError(t, err)
	require.EqualValues(t, 0, testenv.QueryInt(t, b.stateURL,
		"SELECT count(*) FROM river_job WHERE kind IN ('lifeboat.restore', 'lifeboat.verify')"), "no stage after the cancel")
	require.EqualValues(t, 1, testenv.QueryInt(t, b.stateURL,
		"SELECT count(*) FROM river_job WHERE kind = 'lifeboat.report' AND state = 'completed'"))

	chat := b.chat.received()
	require.Len(t, chat, 1)
	require.True(t, strings.Contains(chat[0], "canceled"), "chat: %s", chat[0])
	b.requireScratchGone(t, run.ID)
}
