// Package crypt holds the streaming stages of the backup pipeline:
//
//	backup : raw dump ─► Sealer (zstd ─► age) ─► HashingWriter ─► storage
//	restore: storage ─► VerifyingReader ─► Opener (age ─► zstd -d) ─► pg_restore
//
// Everything streams with small, bounded buffers; nothing is held whole in
// memory or spooled to disk.
package crypt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/lifeboat-dev/lifeboat"
)

// Compression settings. SpeedFastest keeps up with pg_dump on one core; a
// single synchronous encoder with an 8 MiB window bounds memory to a few
// window-sized buffers whatever the dump size (see BenchmarkSealer).
const (
	windowSize         = 8 << 20
	encoderConcurrency = 1
	// maxDecoderWindow leaves headroom should the encoder window ever grow,
	// while still refusing a stream that would need absurd memory.
	maxDecoderWindow = 64 << 20
)

// Sealer compresses then encrypts what is written to it. Close must be
// called to flush both layers; the output is incomplete until it returns nil.
type Sealer struct {
	zw  *zstd.Encoder
	aw  io.WriteCloser
	raw int64
	err error
}

// NewSealer returns a Sealer writing the age-encrypted zstd stream of its
// input to dst. At least one recipient is required.
func NewSealer(dst io.Writer, recipients []age.Recipient) (*Sealer, error) {
	if len(recipients) == 0 {
		return nil, lifeboat.Permanent(errors.New("seal: no age recipients"))
	}
	aw, err := age.Encrypt(dst, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal: age: %w", err)
	}
	zw, err := zstd.NewWriter(aw,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(encoderConcurrency),
		zstd.WithWindowSize(windowSize),
	)
	if err != nil {
		return nil, fmt.Errorf("seal: zstd: %w", err)
	}
	return &Sealer{zw: zw, aw: aw}, nil
}

// Write compresses and encrypts p.
func (s *Sealer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.zw.Write(p)
	s.raw += int64(n)
	if err != nil {
		s.err = fmt.Errorf("seal: %w", err)
		return n, s.err
	}
	return n, nil
}

// Close flushes the compressor, then the encryptor (which writes the final
// authenticated chunk). It does not close the destination.
func (s *Sealer) Close() error {
	if s.err != nil {
		if errors.Is(s.err, errClosed) {
			return nil
		}
		_ = s.zw.Close()
		return s.err
	}
	if err := s.zw.Close(); err != nil {
		s.err = fmt.Errorf("seal: close zstd: %w", err)
		return s.err
	}
	if err := s.aw.Close(); err != nil {
		s.err = fmt.Errorf("seal: close age: %w", err)
		return s.err
	}
	s.err = errClosed
	return nil
}

// RawBytes returns how many bytes were written in (before compression).
func (s *Sealer) RawBytes() int64 { return s.raw }

var errClosed = errors.New("seal: write after close")

// RecipientStrings returns the public form of each recipient (for the
// manifest); recipients without a textual form are listed by their type.
func RecipientStrings(rs []age.Recipient) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		if s, ok := r.(fmt.Stringer); ok {
			out = append(out, s.String())
		} else {
			out = append(out, fmt.Sprintf("%T", r))
		}
	}
	return out
}

// NewOpener decrypts and decompresses a stream made by a Sealer. The header
// is read and the file key unwrapped before it returns, so a wrong identity
// fails here. Later corruption or truncation surfaces as a Read error, never
// as silently short output. Errors caused by the bytes themselves (wrong
// key, tampering, truncation) are marked permanent; errors from src are
// passed through as they are, so a network fault stays retryable and a
// VerifyingReader's mismatch keeps its code.
func NewOpener(src io.Reader, identities ...age.Identity) (io.ReadCloser, error) {
	if len(identities) == 0 {
		return nil, lifeboat.Permanent(errors.New("open: no age identities"))
	}
	rec := &errRecorder{r: src}
	ar, err := age.Decrypt(rec, identities...)
	if err != nil {
		return nil, classify(rec, fmt.Errorf("open: age: %w", err))
	}
	// zstd reads an error from its source at a frame boundary as the end of
	// the stream (a payload truncated right after the age header decodes as
	// empty), so age's errors are recorded here and checked at the end.
	plain := &errRecorder{r: ar}
	zr, err := zstd.NewReader(plain,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxDecoderWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("open: zstd: %w", err)
	}
	return &opener{zr: zr, rec: rec, plain: plain}, nil
}

type opener struct {
	zr     *zstd.Decoder
	rec    *errRecorder // the stored bytes
	plain  *errRecorder // age's output, zstd's input
	err    error
	closed bool
}

func (o *opener) Read(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if o.closed {
		return 0, errors.New("open: read after close")
	}
	n, err := o.zr.Read(p)
	if err == io.EOF {
		err = o.atEOF()
	}
	if err != nil && err != io.EOF {
		err = classify(o.rec, fmt.Errorf("open: %w", err))
	}
	o.err = err
	return n, err
}

// atEOF confirms that zstd's end is also age's authenticated end.
func (o *opener) atEOF() error {
	if o.plain.err != nil {
		return o.plain.err
	}
	n, err := o.plain.Read(make([]byte, 1))
	switch {
	case n > 0:
		return errors.New("data after the end of the zstd stream")
	case err == io.EOF:
		return io.EOF
	case err == nil:
		return errors.New("age stream did not end with the zstd stream")
	default:
		return err
	}
}

func (o *opener) Close() error {
	if !o.closed {
		o.closed = true
		o.zr.Close()
	}
	return nil
}

// classify marks err permanent unless the source itself failed: then the
// source's error is what matters and it is kept in the chain.
func classify(rec *errRecorder, err error) error {
	if rec.err != nil {
		if errors.Is(err, rec.err) {
			return err
		}
		return fmt.Errorf("%w (source: %w)", err, rec.err)
	}
	return lifeboat.Permanent(err)
}

// errRecorder remembers the first non-EOF error its reader returned.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// HashingWriter passes bytes through to w while computing their sha256 and
// count.
type HashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

// NewHashingWriter returns a HashingWriter writing to w.
func NewHashingWriter(w io.Writer) *HashingWriter {
	return &HashingWriter{w: w, h: sha256.New()}
}

// Write writes p to the underlying writer; only bytes it accepted are hashed.
func (w *HashingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// SHA256 returns the lowercase hex sha256 of the bytes written so far.
func (w *HashingWriter) SHA256() string { return hex.EncodeToString(w.h.Sum(nil)) }

// Size returns the number of bytes written so far.
func (w *HashingWriter) Size() int64 { return w.n }

// HashingReader passes bytes through from r while computing their sha256
// and count.
type HashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashingReader returns a HashingReader reading from r.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: sha256.New()}
}

func (r *HashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

// SHA256 returns the lowercase hex sha256 of the bytes read so far.
func (r *HashingReader) SHA256() string { return hex.EncodeToString(r.h.Sum(nil)) }

// Size returns the number of bytes read so far.
func (r *HashingReader) Size() int64 { return r.n }

// VerifyingReader passes r's bytes through and, at r's end, returns a
// permanent "checksum mismatch" error instead of io.EOF when the bytes read
// do not have the sha256 (lowercase hex) wantSHA256 and, if wantSize >= 0,
// the length wantSize. A stream longer than wantSize fails as soon as the
// excess is read. The error repeats on every later Read.
func VerifyingReader(r io.Reader, wantSHA256 string, wantSize int64) io.Reader {
	return &verifyingReader{hr: NewHashingReader(r), want: wantSHA256, size: wantSize}
}

type verifyingReader struct {
	hr   *HashingReader
	want string
	size int64
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.hr.Read(p)
	if v.size >= 0 && v.hr.Size() > v.size {
		v.err = mismatch(fmt.Sprintf("%d bytes", v.size), fmt.Sprintf("more than %d bytes", v.size))
		return n, v.err
	}
	if err == io.EOF {
		switch got := v.hr.SHA256(); {
		case v.size >= 0 && v.hr.Size() != v.size:
			v.err = mismatch(fmt.Sprintf("%d bytes", v.size), fmt.Sprintf("%d bytes", v.hr.Size()))
		case got != v.want:
			v.err = mismatch(v.want, got)
		default:
			v.err = io.EOF
		}
		return n, v.err
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func mismatch(want, got string) error {
	return lifeboat.Permanent(fmt.Errorf("checksum mismatch: expected %s got %s", want, got))
}

// SealBytes encrypts a small plaintext (a manifest's inventory) to
// recipients with age, without compression: the result is a plain age file
// that `age --decrypt` opens.
func SealBytes(plain []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, lifeboat.Permanent(errors.New("seal: no age recipients"))
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, fmt.Errorf("seal: age: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: close age: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenBytes decrypts what SealBytes made, reading at most limit bytes of
// plaintext. Every failure is permanent: the bytes are what they are.
func OpenBytes(sealed []byte, limit int64, identities ...age.Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, lifeboat.Permanent(errors.New("open: no age identities"))
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), identities...)
	if err != nil {
		return nil, lifeboat.Permanent(fmt.Errorf("open: age: %w", err))
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, lifeboat.Permanent(fmt.Errorf("open: %w", err))
	}
	if int64(len(b)) > limit {
		return nil, lifeboat.Permanent(fmt.Errorf("open: more than %d bytes", limit))
	}
	return b, nil
}

// IdentityRecipients returns the recipient (age1…) of each X25519 identity,
// and whether every identity had one: other kinds (plugins, passphrases)
// cannot be matched against a manifest's recipients before trying them.
func IdentityRecipients(identities []age.Identity) (recipients []string, complete bool) {
	complete = true
	for _, id := range identities {
		x, ok := id.(*age.X25519Identity)
		if !ok {
			complete = false
			continue
		}
		recipients = append(recipients, x.Recipient().String())
	}
	return recipients, complete
}

// CheckRecipients returns an error naming recipients (a backup's, from its
// manifest) when none of identities decrypts for any of them, so a restore
// can stop before it starts. It returns nil when it cannot tell (no
// recipients listed, or an identity that is not X25519).
func CheckRecipients(recipients []string, identities []age.Identity) error {
	if len(recipients) == 0 {
		return nil
	}
	have, complete := IdentityRecipients(identities)
	if !complete {
		return nil
	}
	for _, r := range recipients {
		if slices.Contains(have, r) {
			return nil
		}
	}
	return &NoIdentityError{Recipients: recipients}
}

// NoIdentityError says that no loaded identity matches a backup's
// recipients; callers name the backup in front of it ("backup 42 was
// encrypted to age1…; no loaded identity matches").
type NoIdentityError struct{ Recipients []string }

func (e *NoIdentityError) Error() string {
	return "was encrypted to " + strings.Join(e.Recipients, ", ") + "; no loaded identity matches"
}
