package crypt_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
)

type testBundle struct {
	id  *age.X25519Identity
	rcp []age.Recipient
}

func setup(t testing.TB) testBundle {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return testBundle{id: id, rcp: []age.Recipient{id.Recipient()}}
}

// sample returns n bytes mixing incompressible random blocks and repetitive
// text, roughly like a custom-format dump of a database with some bytea.
func sample(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; buf.Len() < n; i++ {
		if i%200 == 0 {
			b := make([]byte, 4<<10)
			_, _ = rand.Read(b)
			buf.Write(b)
			continue
		}
		fmt.Fprintf(&buf, "%d\tcustomer-%d\tsomeone%d@example.com\t2024-01-%02d 10:00:00+00\tactive\n",
			i, rng.IntN(100000), rng.IntN(1000), 1+rng.IntN(28))
	}
	return buf.Bytes()[:n]
}

// seal returns the stored form of plain plus the hash/size a backup records.
func seal(t testing.TB, b testBundle, plain []byte) (stored []byte, sum string) {
	t.Helper()
	var out bytes.Buffer
	hw := crypt.NewHashingWriter(&out)
	s, err := crypt.NewSealer(hw, b.rcp)
	require.NoError(t, err)
	// Odd-sized writes, like a pipe delivers them.
	for rest := plain; len(rest) > 0; {
		n := min(len(rest), 12345)
		w, err := s.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, w)
		rest = rest[n:]
	}
	require.NoError(t, s.Close())
	require.Equal(t, int64(len(plain)), s.RawBytes())
	require.Equal(t, int64(out.Len()), hw.Size())
	h := sha256.Sum256(out.Bytes())
	require.Equal(t, hex.EncodeToString(h[:]), hw.SHA256())
	return out.Bytes(), hw.SHA256()
}

func open(t testing.TB, src io.Reader, ids ...age.Identity) ([]byte, error) {
	t.Helper()
	r, err := crypt.NewOpener(src, ids...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, size := range []int{0, 1, 64<<10 - 1, 64 << 10, 6 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			plain := sample(t, size)
			stored, sum := seal(t, b, plain)

			got, err := open(t, crypt.VerifyingReader(bytes.NewReader(stored), sum, int64(len(stored))), b.id)
			require.NoError(t, err)
			require.True(t, bytes.Equal(plain, got), "round trip differs")

			if size >= 1<<20 {
				require.Less(t, len(stored), len(plain), "compressible data did not shrink")
				// Neither the text nor a random block appears in the stored bytes.
				require.False(t, bytes.Contains(stored, []byte("@example.com")))
				require.False(t, bytes.Contains(stored, plain[:64]))
			}
		})
	}
}

func TestHashingReader(t *testing.T) {
	t.Parallel()
	data := sample(t, 300_000)
	hr := crypt.NewHashingReader(bytes.NewReader(data))
	got, err := io.ReadAll(hr)
	require.NoError(t, err)
	require.Equal(t, data, got)
	h := sha256.Sum256(data)
	require.Equal(t, hex.EncodeToString(h[:]), hr.SHA256())
	require.Equal(t, int64(len(data)), hr.Size())
}

func TestVerifyingReader(t *testing.T) {
	t.Parallel()
	data := sample(t, 200_000)
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])

	t.Run("match", func(t *testing.T) {
		t.Parallel()
		got, err := io.ReadAll(crypt.VerifyingReader(bytes.NewReader(data), sum, int64(len(data))))
		require.NoError(t, err)
		require.Equal(t, data, got)
	})
	t.Run("unknown size", func(t *testing.T) {
		t.Parallel()
		_, err := io.ReadAll(crypt.VerifyingReader(bytes.NewReader(data), sum, -1))
		require.NoError(t, err)
	})
	t.Run("flipped byte", func(t *testing.T) {
		t.Parallel()
		bad := bytes.Clone(data)
		bad[len(bad)/2] ^= 0x01
		r := crypt.VerifyingReader(bytes.NewReader(bad), sum, int64(len(bad)))
		_, err := io.Copy(io.Discard, r)
		require.ErrorContains(t, err, "checksum mismatch: expected "+sum+" got ")
		require.True(t, lifeboat.IsPermanent(err))
		// The error sticks.
		_, err2 := r.Read(make([]byte, 10))
		require.Equal(t, err, err2)
	})
	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		_, err := io.ReadAll(crypt.VerifyingReader(bytes.NewReader(data[:len(data)-1]), sum, int64(len(data))))
		require.ErrorContains(t, err, "checksum mismatch")
		require.ErrorContains(t, err, fmt.Sprintf("got %d bytes", len(data)-1))
		require.True(t, lifeboat.IsPermanent(err))
	})
	t.Run("too long", func(t *testing.T) {
		t.Parallel()
		long := append(bytes.Clone(data), 'x')
		_, err := io.ReadAll(crypt.VerifyingReader(bytes.NewReader(long), sum, int64(len(data))))
		require.ErrorContains(t, err, "checksum mismatch")
		require.True(t, lifeboat.IsPermanent(err))
	})
	t.Run("source error passes through", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("connection reset")
		r := io.MultiReader(bytes.NewReader(data[:1000]), iotestErrReader{boom})
		_, err := io.ReadAll(crypt.VerifyingReader(r, sum, int64(len(data))))
		require.ErrorIs(t, err, boom)
		require.False(t, lifeboat.IsPermanent(err))
	})
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestTampered(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := sample(t, 3<<20)
	stored, sum := seal(t, b, plain)

	// Flip one byte at the start of the payload, in the middle and in the
	// last chunk; each must fail both the hash check and age's
	// authentication, never yield short or altered output.
	for _, pos := range []int{60, 200, len(stored) / 2, len(stored) - 5} {
		t.Run(fmt.Sprint(pos), func(t *testing.T) {
			t.Parallel()
			bad := bytes.Clone(stored)
			bad[pos] ^= 0x40

			_, err := io.Copy(io.Discard, crypt.VerifyingReader(bytes.NewReader(bad), sum, int64(len(bad))))
			require.ErrorContains(t, err, "checksum mismatch")

			got, err := open(t, bytes.NewReader(bad), b.id)
			require.Error(t, err)
			require.True(t, lifeboat.IsPermanent(err), "tampering is permanent: %v", err)
			require.Less(t, len(got), len(plain))

			// Through the verifier (as the restore stage reads): still an error.
			_, err = open(t, crypt.VerifyingReader(bytes.NewReader(bad), sum, int64(len(bad))), b.id)
			require.Error(t, err)
		})
	}
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := sample(t, 1<<20)
	stored, _ := seal(t, b, plain)
	// The payload starts after the header's "--- MAC" line and a 16-byte
	// nonce; each full chunk is 64 KiB + a 16-byte tag. Cut inside the
	// header, exactly on a chunk boundary, and inside a chunk.
	mac := bytes.Index(stored, []byte("\n--- "))
	require.Positive(t, mac)
	payload := mac + 1 + bytes.IndexByte(stored[mac+1:], '\n') + 1 + 16
	boundary := payload + 2*(64<<10+16)
	require.Less(t, boundary, len(stored))
	for _, n := range []int{0, 50, payload, boundary, boundary + 1, len(stored) - 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			_, err := open(t, bytes.NewReader(stored[:n]), b.id)
			require.Error(t, err)
			require.True(t, lifeboat.IsPermanent(err), "%v", err)
		})
	}
}

func TestTrailingData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stored, _ := seal(t, b, sample(t, 100_000))
	_, err := open(t, bytes.NewReader(append(bytes.Clone(stored), 0)), b.id)
	require.Error(t, err)
}

func TestMismatchSurvivesOpener(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := sample(t, 500_000)
	stored, _ := seal(t, b, plain)
	// The stored bytes are intact but the recorded hash is wrong (for
	// example, the manifest belongs to another object): age succeeds, and the
	// verifier's error must reach the caller with its code intact.
	wrong := strings.Repeat("0", 64)
	_, err := open(t, crypt.VerifyingReader(bytes.NewReader(stored), wrong, int64(len(stored))), b.id)
	require.ErrorContains(t, err, "checksum mismatch: expected "+wrong)
	require.True(t, lifeboat.IsPermanent(err))
}

func TestSourceErrorNotPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stored, _ := seal(t, b, sample(t, 500_000))
	boom := errors.New("connection reset by peer")
	src := io.MultiReader(bytes.NewReader(stored[:len(stored)/2]), iotestErrReader{boom})
	_, err := open(t, src, b.id)
	require.ErrorIs(t, err, boom)
	require.False(t, lifeboat.IsPermanent(err), "a network fault must stay retryable: %v", err)
}

func TestWrongIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)
	stored, _ := seal(t, b, sample(t, 10_000))
	_, err := crypt.NewOpener(bytes.NewReader(stored), other.id)
	var noMatch *age.NoIdentityMatchError
	require.ErrorAs(t, err, &noMatch)
	require.True(t, lifeboat.IsPermanent(err))
}

func TestMultipleRecipients(t *testing.T) {
	t.Parallel()
	a, c := setup(t), setup(t)
	plain := sample(t, 100_000)
	stored, _ := seal(t, testBundle{rcp: append(a.rcp, c.rcp...)}, plain)
	for _, id := range []age.Identity{a.id, c.id} {
		got, err := open(t, bytes.NewReader(stored), id)
		require.NoError(t, err)
		require.Equal(t, plain, got)
	}
	require.Equal(t, []string{a.id.Recipient().String(), c.id.Recipient().String()},
		crypt.RecipientStrings(append(a.rcp, c.rcp...)))
}

func TestNoRecipients(t *testing.T) {
	t.Parallel()
	_, err := crypt.NewSealer(io.Discard, nil)
	require.Error(t, err)
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestSealerDestinationFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s, err := crypt.NewSealer(&failWriter{after: 100_000}, b.rcp)
	require.NoError(t, err)
	plain := sample(t, 4<<20)
	_, err = io.Copy(s, bytes.NewReader(plain))
	if err == nil {
		err = s.Close()
	}
	require.ErrorContains(t, err, "disk full")
}

// TestSealerMemoryBounded checks that sealing allocates a fixed budget (the
// zstd window and age's chunk buffer), not something proportional to the
// input. Not parallel: it reads process-wide allocation counters, and
// top-level sequential tests finish before parallel ones resume.
func TestSealerMemoryBounded(t *testing.T) {
	b := setup(t)
	chunk := sample(t, 1<<20)
	const total = 96 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s, err := crypt.NewSealer(io.Discard, b.rcp)
	require.NoError(t, err)
	for range total / len(chunk) {
		_, err := s.Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("sealing %d MiB allocated %.1f MiB", total>>20, float64(alloc)/(1<<20))
	require.Less(t, alloc, uint64(32<<20))
}

// BenchmarkSealer measures seal throughput in MB/s of raw input; B/op is
// the memory one seal allocates, whatever the input size.
func BenchmarkSealer(b *testing.B) {
	bundle := setup(b)
	chunk := sample(b, 64<<20)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		s, err := crypt.NewSealer(io.Discard, bundle.rcp)
		require.NoError(b, err)
		for rest := chunk; len(rest) > 0; rest = rest[min(len(rest), 32<<10):] {
			_, err := s.Write(rest[:min(len(rest), 32<<10)])
			require.NoError(b, err)
		}
		require.NoError(b, s.Close())
	}
}

// BenchmarkOpener measures restore-side throughput.
func BenchmarkOpener(b *testing.B) {
	bundle := setup(b)
	plain := sample(b, 64<<20)
	stored, _ := seal(b, bundle, plain)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := crypt.NewOpener(bytes.NewReader(stored), bundle.id)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, r)
		require.NoError(b, err)
		require.Equal(b, int64(len(plain)), n)
		require.NoError(b, r.Close())
	}
}
