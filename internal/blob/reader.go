package blob

import (
	"context"
	"io"
)

// putReader is what both stores read a Put's body through: it counts bytes
// and stops at ctx's end even when the source never checks ctx. It
// deliberately implements neither io.Seeker nor io.ReaderAt, so the S3
// uploader buffers part by part instead of trying to seek.
type putReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (p *putReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// closeOnDone makes a blocked read return when ctx ends: if r can be closed
// with an error (an *io.PipeReader), it is, so its writer learns of the
// cancellation too. The returned func stops the watch.
func closeOnDone(ctx context.Context, r io.Reader) (stop func() bool) {
	c, ok := r.(interface{ CloseWithError(error) error })
	if !ok {
		return func() bool { return true }
	}
	return context.AfterFunc(ctx, func() { _ = c.CloseWithError(ctx.Err()) })
}
