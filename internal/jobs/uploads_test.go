package jobs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
)

// A backup attempt killed mid-upload leaves its multipart upload open (its
// parts stored and billed); the next attempt at the same object aborts it
// before it begins its own, instead of leaving it to the janitor's
// hours-later pass.
func TestBackupAttemptAbortsEarlierAttemptsUpload(t *testing.T) {
	t.Parallel()
	b := setup(t, options{storage: storageS3, noStart: true})
	run, err := b.runner.StartRun(t.Context(), "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	// What a process killed during the first attempt's upload leaves.
	bucket := b.cfg.Storages[0].Bucket
	client := s3Client(t)
	key := blob.ObjectKey("app", run.ID, run.CreatedAt)
	startUpload(t, client, bucket, "lb/"+key)
	require.Equal(t, []string{"lb/" + key}, openUploads(t, client, bucket))

	startRunner(t, b.runner)
	run = waitEnd(t, b.runner, run.ID)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	require.Empty(t, openUploads(t, client, bucket), "no upload is left open")
	require.Contains(t, b.logText(t, run.ID), "aborted 1 multipart upload(s) of "+key+" left by an earlier attempt")
	// The object stored is this attempt's whole backup.
	m, err := blob.GetManifest(t.Context(), b.blobs, key)
	require.NoError(t, err)
	require.Equal(t, run.Artifact.SHA256, m.SHA256)
}
