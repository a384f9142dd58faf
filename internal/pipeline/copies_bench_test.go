package pipeline

import (
	"context"
	"crypto/rand"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// BenchmarkSecondCopy compares the two ways of writing a second copy of an
// encrypted stream (random bytes: what age output looks like) to a second
// S3 server: teeing the stream into both uploads at once, as the backup
// stage does, or copying the first upload after it completed. The dump is
// the same either way, so the storage side is all that differs.
//
//	make test ARGS='-run XXX -bench BenchmarkSecondCopy -benchtime 3x ./internal/pipeline/'
func BenchmarkSecondCopy(b *testing.B) {
	const size = 256 << 20
	ctx := context.Background()
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	mk := func(env testenv.S3) blob.Store {
		s, err := blob.NewS3(ctx, blob.S3Options{Endpoint: env.Endpoint, Region: env.Region, Bucket: testenv.RandomName("lb-bench-"),
			AccessKeyID: env.AccessKey, SecretAccessKey: env.SecretKey, CAFile: env.CAFile, Allow: loop})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.EnsureBucket(ctx); err != nil {
			b.Fatal(err)
		}
		return s
	}
	a, c := mk(testenv.S3HTTP(b)), mk(testenv.S3TLS(b))
	src := make([]byte, size)
	_, _ = rand.Read(src)
	source := func() io.Reader { return &chunked{b: src} }

	b.Run("one copy", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if _, err := a.Put(ctx, "one", source()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tee", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			u := startCopies(ctx, []CopyStore{{Name: "c", Store: c}}, "tee")
			pr, pw := io.Pipe()
			h := crypt.NewHashingWriter(u.writer(pw))
			go func() {
				_, err := io.Copy(h, source())
				pw.CloseWithError(err)
				u.close(err)
			}()
			if _, err := a.Put(ctx, "tee", pr); err != nil {
				b.Fatal(err)
			}
			if errs := u.wait(h.Size()); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
	})
	b.Run("copy after upload", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if _, err := a.Put(ctx, "after", source()); err != nil {
				b.Fatal(err)
			}
			rc, err := a.Get(ctx, "after")
			if err != nil {
				b.Fatal(err)
			}
			_, err = c.Put(ctx, "after", rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read back", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			rc, err := c.Get(ctx, "tee")
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds(), "s/readback")
		}
	})
}

// chunked hands out b in 64 KiB reads, as the sealer writes.
type chunked struct {
	b []byte
	i int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.i >= len(c.b) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], c.b[c.i:])
	c.i += n
	return n, nil
}
