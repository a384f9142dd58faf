package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

const testPartSize = 5 << 20

// Every behaviour of the Store contract runs against each of these.
var storeKinds = []string{"fs", "s3-http", "s3-tls"}

type testBundle struct {
	store  Store
	s3     *S3    // nil for fs
	fsRoot string // "" for s3
	bucket string
	env    testenv.S3
}

// setup returns an empty store of the given kind: a fresh folder, or a
// fresh bucket (removed with its contents when the test ends) used under
// the prefix "lb/".
func setup(t testing.TB, kind string) testBundle {
	t.Helper()
	switch kind {
	case "fs":
		root := filepath.Join(t.TempDir(), "store")
		s, err := NewFS(root)
		require.NoError(t, err)
		return testBundle{store: s, fsRoot: root}
	case "s3-http", "s3-tls":
		env := testenv.S3HTTP(t)
		if kind == "s3-tls" {
			env = testenv.S3TLS(t)
		}
		bucket := testenv.RandomName("lb-")
		s := newS3(t, env, bucket, "lb/")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, s.EnsureBucket(ctx))
		t.Cleanup(func() { dropBucket(t, env, bucket) })
		return testBundle{store: s, s3: s, bucket: bucket, env: env}
	}
	t.Fatalf("unknown store kind %q", kind)
	return testBundle{}
}

func newS3(t testing.TB, env testenv.S3, bucket, prefix string) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), S3Options{
		Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket, Prefix: prefix,
		AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, CAFile: env.CAFile,
		PartSize: testPartSize, Concurrency: 2, Allow: loopback,
	})
	require.NoError(t, err)
	return s
}

// dropBucket empties and deletes a test bucket, whatever prefix was used.
func dropBucket(t testing.TB, env testenv.S3, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	raw := newS3(t, env, bucket, "")
	if _, err := raw.AbortStaleUploads(ctx, -time.Hour); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	objs, err := raw.List(ctx, "")
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, o := range objs {
		if err := raw.Delete(ctx, o.Key); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	if _, err := raw.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Errorf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// eachStore runs fn as a parallel subtest per store kind.
func eachStore(t *testing.T, fn func(t *testing.T, b testBundle)) {
	t.Helper()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, setup(t, kind))
		})
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randomData(n int) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(b)
	return b
}

// pipeFrom streams data through an io.Pipe in uneven writes, as the backup
// stage does. after(n) is called once n bytes have been accepted, with
// n = stopAt; it returns the error to close the pipe with (nil: keep going).
// The writer's final error, if any, is sent on the returned channel.
func pipeFrom(data []byte, stopAt int, after func() error) (*io.PipeReader, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		written := 0
		for written < len(data) {
			if after != nil && written >= stopAt {
				if err := after(); err != nil {
					pw.CloseWithError(err)
					done <- err
					return
				}
				after = nil
			}
			n := min(len(data)-written, 100_003)
			if after != nil {
				n = min(n, stopAt-written)
			}
			if _, err := pw.Write(data[written : written+n]); err != nil {
				done <- err
				return
			}
			written += n
		}
		done <- pw.Close()
	}()
	return pr, done
}

func readAll(t *testing.T, s Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(testCtx(t), key)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// requireNothingLeft checks that a failed Put left no trace: no object, no
// listing, no open multipart upload, no partial file.
func requireNothingLeft(t *testing.T, b testBundle, key string) {
	t.Helper()
	ctx := testCtx(t)
	_, err := b.store.Stat(ctx, key)
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
	_, err = b.store.Get(ctx, key)
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
	objs, err := b.store.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, objs)
	if b.s3 != nil {
		ups, err := b.s3.Uploads(ctx)
		require.NoError(t, err)
		require.Empty(t, ups, "multipart uploads left open")
	}
	if b.fsRoot != "" {
		var files []string
		require.NoError(t, filepath.WalkDir(b.fsRoot, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		}))
		require.Empty(t, files, "files left in the folder")
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		for _, size := range []int{0, 1, testPartSize, 40 << 20} {
			data := randomData(size)
			key := "app/2024/05/06/" + strings.Repeat("9", 1+size%7) + ObjectSuffix
			pr, done := pipeFrom(data, 0, nil)
			n, err := b.store.Put(testCtx(t), key, pr)
			require.NoError(t, err, "size %d", size)
			require.NoError(t, <-done)
			require.Equal(t, int64(size), n)

			got := readAll(t, b.store, key)
			require.Equal(t, sha256.Sum256(data), sha256.Sum256(got), "size %d", size)

			info, err := b.store.Stat(testCtx(t), key)
			require.NoError(t, err)
			require.Equal(t, key, info.Key)
			require.Equal(t, int64(size), info.Size)
			require.WithinDuration(t, time.Now(), info.Modified, time.Minute)

			if b.s3 != nil && size > testPartSize {
				// Stored as a multipart upload: the ETag says how many parts.
				head, err := b.s3.client.HeadObject(testCtx(t), &s3.HeadObjectInput{
					Bucket: aws.String(b.bucket), Key: aws.String("lb/" + key)})
				require.NoError(t, err)
				require.Contains(t, aws.ToString(head.ETag), "-8")
			}
			require.NoError(t, b.store.Delete(testCtx(t), key))
		}
	})
}

func TestPutOverwrites(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		_, err := b.store.Put(ctx, "k", strings.NewReader("first, longer"))
		require.NoError(t, err)
		_, err = b.store.Put(ctx, "k", strings.NewReader("second"))
		require.NoError(t, err)
		require.Equal(t, "second", string(readAll(t, b.store, "k")))
	})
}

func TestPutReaderFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("pg_dump exited with status 1")
	// Failing inside the first part (before any multipart upload exists) and
	// after several parts have been uploaded.
	for _, failAt := range []int{1 << 20, 17 << 20} {
		t.Run(byteSize(failAt), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b testBundle) {
				key := "app/2024/05/06/1" + ObjectSuffix
				pr, done := pipeFrom(randomData(40<<20), failAt, func() error { return boom })
				n, err := b.store.Put(testCtx(t), key, pr)
				require.ErrorIs(t, err, boom)
				require.Zero(t, n)
				require.ErrorIs(t, <-done, boom)
				requireNothingLeft(t, b, key)
			})
		})
	}
}

func TestPutCanceled(t *testing.T) {
	t.Parallel()
	for _, cancelAt := range []int{1 << 20, 17 << 20} {
		t.Run(byteSize(cancelAt), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b testBundle) {
				key := "app/2024/05/06/2" + ObjectSuffix
				ctx, cancel := context.WithCancel(testCtx(t))
				// The writer cancels and then keeps writing: the Put must
				// still stop, and the writer must learn why.
				pr, done := pipeFrom(randomData(40<<20), cancelAt, func() error { cancel(); return nil })
				n, err := b.store.Put(ctx, key, pr)
				require.ErrorIs(t, err, context.Canceled)
				require.Zero(t, n)
				require.ErrorIs(t, <-done, context.Canceled)
				requireNothingLeft(t, b, key)
			})
		})
	}
}

func byteSize(n int) string { return fmt.Sprintf("%dMiB", n>>20) }

func TestMissing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		_, err := b.store.Get(ctx, "nope/1"+ObjectSuffix)
		require.ErrorIs(t, err, lifeboat.ErrNotFound)
		require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))
		_, err = b.store.Stat(ctx, "nope/1"+ObjectSuffix)
		require.ErrorIs(t, err, lifeboat.ErrNotFound)
		require.NoError(t, b.store.Delete(ctx, "nope/1"+ObjectSuffix))
		objs, err := b.store.List(ctx, "nope/")
		require.NoError(t, err)
		require.Empty(t, objs)
		_, err = GetManifest(ctx, b.store, "nope/1"+ObjectSuffix)
		require.ErrorIs(t, err, lifeboat.ErrNotFound)
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		keys := []string{"a/2", "a/10", "a/1", "a-b/1", "b/x/y/z", "ab"}
		for i, k := range keys {
			_, err := b.store.Put(ctx, k, bytes.NewReader(make([]byte, i)))
			require.NoError(t, err)
		}
		list := func(prefix string) []string {
			objs, err := b.store.List(ctx, prefix)
			require.NoError(t, err)
			var out []string
			for _, o := range objs {
				out = append(out, o.Key)
				require.Equal(t, int64(indexOf(keys, o.Key)), o.Size, o.Key)
			}
			return out
		}
		require.Equal(t, []string{"a-b/1", "a/1", "a/10", "a/2", "ab", "b/x/y/z"}, list(""))
		require.Equal(t, []string{"a/1", "a/10", "a/2"}, list("a/"))
		require.Equal(t, []string{"a/1", "a/10"}, list("a/1"))
		require.Equal(t, []string{"a-b/1", "a/1", "a/10", "a/2", "ab"}, list("a"))
		require.Equal(t, []string{"b/x/y/z"}, list("b/x/"))
		require.Empty(t, list("c/"))
		require.Empty(t, list("b/x/y/z/"))

		if b.s3 != nil {
			// The prefix is the store's own: a store without one sees it.
			raw := newS3(t, b.env, b.bucket, "")
			objs, err := raw.List(ctx, "")
			require.NoError(t, err)
			require.Len(t, objs, len(keys))
			for _, o := range objs {
				require.True(t, strings.HasPrefix(o.Key, "lb/"), o.Key)
			}
		}
	})
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestManifestRoundTrip(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		key := ObjectKey("app", 42, time.Date(2024, 5, 6, 3, 0, 0, 0, time.UTC))
		m := Manifest{
			FormatVersion: 1, Target: "app", RunID: 42,
			CreatedAt:     time.Date(2024, 5, 6, 3, 0, 1, 123456789, time.UTC),
			ServerVersion: "17.2", PgDumpVersion: "17.2", DumpFormat: "custom",
			Compression: "zstd", Encryption: "age", Recipients: []string{"age1xyz"},
			RawBytes: 1000, StoredBytes: 600, SHA256: strings.Repeat("ab", 32),
			Source: lifeboat.SourceSnapshot{RowCountsMethod: "exact",
				Tables:  []lifeboat.TableCount{{Schema: "public", Name: "users", Rows: 3}},
				Objects: []string{"view public.v"}},
		}
		require.NoError(t, PutManifest(ctx, b.store, key, m))
		got, err := GetManifest(ctx, b.store, key)
		require.NoError(t, err)
		require.Equal(t, m, got)

		raw := string(readAll(t, b.store, ManifestKey(key)))
		require.True(t, strings.HasPrefix(raw, "{\n  \"format_version\": 1,\n"), raw)

		_, err = b.store.Put(ctx, ManifestKey("broken"), strings.NewReader("{not json"))
		require.NoError(t, err)
		_, err = GetManifest(ctx, b.store, "broken")
		require.ErrorContains(t, err, "decode manifest")
	})
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := testCtx(t)
		for _, k := range []string{"", "/abs", "../up", "a/../../up", "a//b", "a/./b", "a/", `a\b`} {
			_, err := b.store.Put(ctx, k, strings.NewReader("x"))
			require.Error(t, err, "key %q", k)
			require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "key %q", k)
			_, err = b.store.Get(ctx, k)
			require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "key %q", k)
		}
		if b.fsRoot != "" {
			_, err := os.Stat(filepath.Join(filepath.Dir(b.fsRoot), "up"))
			require.ErrorIs(t, err, fs.ErrNotExist)
		}
	})
}

func TestObjectKey(t *testing.T) {
	t.Parallel()
	// 01:00 at +05:00 on 1 March is still 29 February in UTC.
	at := time.Date(2024, 3, 1, 1, 0, 0, 0, time.FixedZone("+05", 5*3600))
	key := ObjectKey("app", 42, at)
	require.Equal(t, "app/2024/02/29/42.dump.zst.age", key)
	require.Equal(t, "app/2024/02/29/42.dump.zst.age.manifest.json", ManifestKey(key))
}

func TestFSIgnoresPartialFiles(t *testing.T) {
	t.Parallel()
	b := setup(t, "fs")
	ctx := testCtx(t)
	_, err := b.store.Put(ctx, "app/1"+ObjectSuffix, strings.NewReader("whole"))
	require.NoError(t, err)
	// What a crashed Put leaves behind.
	partial := filepath.Join(b.fsRoot, "app", ".2"+ObjectSuffix+".partial-123456")
	require.NoError(t, os.WriteFile(partial, []byte("half"), 0o600))
	objs, err := b.store.List(ctx, "")
	require.NoError(t, err)
	require.Len(t, objs, 1)
	require.Equal(t, "app/1"+ObjectSuffix, objs[0].Key)
	// Nor can a key be made to look like one.
	_, err = b.store.Put(ctx, "app/.2"+ObjectSuffix+".partial-1", strings.NewReader("x"))
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
	// A folder is not an object.
	_, err = b.store.Get(ctx, "app")
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
	_, err = b.store.Stat(ctx, "app/1"+ObjectSuffix+"/below")
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
}

func TestS3AbortStaleUploads(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"s3-http", "s3-tls"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := setup(t, kind)
			ctx := testCtx(t)
			// As a process that died mid-Put leaves it.
			_, err := b.s3.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
				Bucket: aws.String(b.bucket), Key: aws.String("lb/app/2024/01/01/7" + ObjectSuffix)})
			require.NoError(t, err)
			ups, err := b.s3.Uploads(ctx)
			require.NoError(t, err)
			require.Len(t, ups, 1)
			require.Equal(t, "app/2024/01/01/7"+ObjectSuffix, ups[0].Key)

			n, err := b.s3.AbortStaleUploads(ctx, time.Hour)
			require.NoError(t, err)
			require.Zero(t, n, "a fresh upload is not stale")
			n, err = b.s3.AbortStaleUploads(ctx, -time.Minute)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			ups, err = b.s3.Uploads(ctx)
			require.NoError(t, err)
			require.Empty(t, ups)
		})
	}
}

func TestS3EnsureBucketIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, "s3-http")
	require.NoError(t, b.s3.EnsureBucket(testCtx(t)))
}

func TestS3TLSNeedsTheCA(t *testing.T) {
	t.Parallel()
	env := testenv.S3TLS(t)
	env.CAFile = ""
	s := newS3(t, env, testenv.RandomName("lb-"), "")
	err := s.EnsureBucket(testCtx(t))
	require.ErrorContains(t, err, "certificate")
}

func TestS3Options(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	for _, o := range []S3Options{
		{},
		{Bucket: "b", PartSize: 1 << 20},
		{Bucket: "b", AccessKeyID: "only-id"},
		{Bucket: "b", Concurrency: -1},
		{Bucket: "b", CAFile: "/nonexistent/ca.pem"},
	} {
		_, err := NewS3(ctx, o)
		require.Error(t, err, "%+v", o)
	}
}

// BenchmarkPut streams 64 MiB through a pipe into each store; B/op shows
// what one Put allocates (for S3 a few part buffers, not the object).
func BenchmarkPut(b *testing.B) {
	data := randomData(64 << 20)
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			bundle := setup(b, kind)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				pr, done := pipeFrom(data, 0, nil)
				_, err := bundle.store.Put(context.Background(), "bench/1"+ObjectSuffix, pr)
				require.NoError(b, err)
				require.NoError(b, <-done)
			}
		})
	}
}
