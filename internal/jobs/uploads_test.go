package jobs_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
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

// A run whose backup failed for good (here at once: the source refuses the
// password, before the attempt reaches its storage) has its report abort
// what an earlier attempt left open: nothing can write it any more.
func TestFailedBackupsUploadAbortedByReport(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.CreateDB(t, "lbsrc_"))
	require.NoError(t, err)
	u.User = url.UserPassword("postgres", "wrong-password")
	b := setup(t, options{storage: storageS3, noStart: true, sourceURL: u.String()})
	run, err := b.runner.StartRun(t.Context(), "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	bucket := b.cfg.Storages[0].Bucket
	client := s3Client(t)
	key := blob.ObjectKey("app", run.ID, run.CreatedAt)
	startUpload(t, client, bucket, "lb/"+key)

	startRunner(t, b.runner)
	run = waitEnd(t, b.runner, run.ID)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	require.Empty(t, openUploads(t, client, bucket), "no upload is left open")
	require.Contains(t, b.logText(t, run.ID), "aborted 1 multipart upload(s) of "+key+" left by the failed backup")
}
