package blob

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func newLockedS3(t *testing.T, env testenv.S3, bucket string, lock *ObjectLock) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), S3Options{
		Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket, Prefix: "lb/",
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, CAFile: env.CAFile,
		PartSize: testPartSize, Concurrency: 2, Lock: lock, Allow: loopback,
	})
	require.NoError(t, err)
	return s
}

// TestObjectLock against versitygw: a bucket created for a locked store has
// Object Lock enabled; every object (multipart too) is written with its
// retain-until date, which the server reports back; deleting it is refused
// with ErrLocked and the object stays. Shortening the retention of a
// compliance-mode object is not something lifeboat ever does, so it is not
// tried here.
func TestObjectLock(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{LockGovernance, LockCompliance} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := testenv.S3HTTP(t)
			bucket := testenv.RandomName("lb-lock-")
			s := newLockedS3(t, env, bucket, &ObjectLock{Mode: mode, Days: 3})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, s.EnsureBucket(ctx))
			require.NoError(t, s.CheckObjectLock(ctx), "a bucket lifeboat created for a locked store has Object Lock")

			start := time.Now()
			small, big := "app/2024/05/06/1.dump.zst.age", "app/2024/05/06/2.dump.zst.age"
			_, err := s.Put(ctx, small, strings.NewReader("sealed bytes"))
			require.NoError(t, err)
			_, err = s.Put(ctx, big, strings.NewReader(strings.Repeat("x", 2*testPartSize+1)))
			require.NoError(t, err, "a multipart upload carries the lock too")
			for _, key := range []string{small, big} {
				r, err := s.Retention(ctx, key)
				require.NoError(t, err)
				require.Equal(t, mode, r.Mode, key)
				want := start.Add(72 * time.Hour)
				require.WithinDuration(t, want, r.Until, time.Minute, key)
				require.True(t, r.Locked(time.Now()))
				require.False(t, r.Locked(r.Until.Add(time.Second)))

				err = s.Delete(ctx, key)
				require.ErrorIs(t, err, ErrLocked, key)
				require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err))
				info, err := s.Stat(ctx, key)
				require.NoError(t, err, "the locked object is still there")
				require.Positive(t, info.Size)
			}
			// Governance objects stay in the bucket; it is left behind (the
			// test server's folder is removed with it).
		})
	}
}

// TestObjectLockMissingOnBucket: a locked store over a bucket made without
// Object Lock says so, naming the bucket and what to do; a plain store
// reports nothing.
func TestObjectLockMissingOnBucket(t *testing.T) {
	t.Parallel()
	env := testenv.S3HTTP(t)
	bucket := testenv.RandomName("lb-nolock-")
	plain := newS3(t, env, bucket, "lb/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, plain.EnsureBucket(ctx))
	t.Cleanup(func() { dropBucket(t, env, bucket) })
	require.NoError(t, plain.CheckObjectLock(ctx))

	locked := newLockedS3(t, env, bucket, &ObjectLock{Mode: LockGovernance, Days: 1})
	err := locked.CheckObjectLock(ctx)
	require.Error(t, err)
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
	require.Contains(t, err.Error(), "bucket "+bucket+" does not have Object Lock enabled, but object_lock is configured")

	// What the server does with a locked write to such a bucket.
	_, perr := locked.Put(ctx, "app/x.dump.zst.age", strings.NewReader("x"))
	require.Error(t, perr, "the server refuses a locked write to a bucket without Object Lock")
	require.Contains(t, perr.Error(), "Bucket is missing ObjectLockConfiguration")
	// versitygw v1.8.0 answers 400 yet leaves the object in place; the
	// backup stage deletes the key after any failed Put, as here.
	require.NoError(t, locked.Delete(ctx, "app/x.dump.zst.age"))
	_, err = plain.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("lb/app/x.dump.zst.age")})
	require.True(t, isNotFound(err), "nothing is left: %v", err)
}
