package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/crypt"
)

// CopyStore is one more storage a backup is written to.
type CopyStore struct {
	Name  string
	Store blob.Store
}

// copyUploads tees the encrypted stream into one upload per extra copy.
// A copy that fails is dropped from the tee and recorded; it never stops
// the dump or the other copies (the primary's failure does, as before).
type copyUploads struct {
	copies []CopyStore
	key    string
	pipes  []*io.PipeWriter
	mu     sync.Mutex
	failed []error // per copy: why it was dropped (nil: still going)
	n      []int64
	wg     sync.WaitGroup
}

// startCopies starts one Put per copy, each reading its own pipe.
func startCopies(ctx context.Context, copies []CopyStore, key string) *copyUploads {
	u := &copyUploads{copies: copies, key: key, pipes: make([]*io.PipeWriter, len(copies)),
		failed: make([]error, len(copies)), n: make([]int64, len(copies))}
	for i, c := range copies {
		pr, pw := io.Pipe()
		u.pipes[i] = pw
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			n, err := c.Store.Put(ctx, key, pr)
			if err != nil {
				// Unblock the tee's pending write, then drop the copy.
				_ = pr.CloseWithError(err)
				u.fail(i, err)
			}
			u.n[i] = n
		}()
	}
	return u
}

func (u *copyUploads) fail(i int, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failed[i] == nil {
		u.failed[i] = err
	}
}

func (u *copyUploads) failedErr(i int) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.failed[i]
}

// writer returns the tee: primary first (its error is the stream's), then
// every copy still going.
func (u *copyUploads) writer(primary io.Writer) io.Writer {
	if len(u.copies) == 0 {
		return primary
	}
	return teeWriter{u: u, primary: primary}
}

type teeWriter struct {
	u       *copyUploads
	primary io.Writer
}

func (t teeWriter) Write(p []byte) (int, error) {
	n, err := t.primary.Write(p)
	if err != nil {
		return n, err
	}
	// The copies are written one after the other, but each Put drains its
	// pipe in a goroutine of its own: the slowest storage paces the dump.
	for i, pw := range t.u.pipes {
		if t.u.failedErr(i) != nil {
			continue
		}
		if _, err := pw.Write(p); err != nil {
			t.u.fail(i, err)
		}
	}
	return n, nil
}

// close ends every copy's stream: nil completes the uploads, an error
// aborts them.
func (u *copyUploads) close(err error) {
	for _, pw := range u.pipes {
		_ = pw.CloseWithError(err)
	}
}

// wait waits for every upload and returns each copy's error: a failed
// upload, or a size that is not what was sealed.
func (u *copyUploads) wait(sealed int64) []error {
	u.wg.Wait()
	out := make([]error, len(u.copies))
	for i := range u.copies {
		switch err := u.failedErr(i); {
		case err != nil:
			out[i] = fmt.Errorf("upload: %w", err)
		case u.n[i] != sealed:
			out[i] = fmt.Errorf("upload: stored %d bytes but sealed %d", u.n[i], sealed)
		}
	}
	return out
}

// remove deletes every copy's object and manifest (the primary failed: the
// backup is not one anywhere).
func (u *copyUploads) remove(ctx context.Context, log *slog.Logger) {
	for _, c := range u.copies {
		removeObject(ctx, c.Store, u.key, log)
	}
}

// finishCopies completes the backup's copies once the primary is stored
// with its manifest: each extra copy gets its manifest; every copy but the
// one this run's restore will read (proof) is read back whole and must
// match the sha256 and size before it counts; locked copies record the
// retain-until date the server holds. A copy that fails is recorded with
// why, and its leftovers deleted; it does not fail the stage.
func finishCopies(ctx context.Context, in BackupInput, key string, m blob.Manifest, uploadErrs []error) []lifeboat.Copy {
	log := in.Log
	all := append([]CopyStore{{Name: in.Storage, Store: in.Store}}, in.Copies...)
	out := make([]lifeboat.Copy, len(all))
	for i, c := range all {
		cp := lifeboat.Copy{Storage: c.Name, Key: key, StoredBytes: m.StoredBytes, SHA256: m.SHA256, Status: lifeboat.CopyStored}
		err := func() error {
			if i > 0 {
				if err := uploadErrs[i-1]; err != nil {
					return err
				}
				if err := blob.PutManifest(ctx, c.Store, key, m); err != nil {
					return fmt.Errorf("write manifest: %w", err)
				}
			}
			if err := lockOf(ctx, c.Store, key, &cp); err != nil {
				return err
			}
			if i == in.ProofCopy {
				return nil // this run's restore reads it and checks its sha256
			}
			start := time.Now()
			if err := readBack(ctx, c.Store, key, m.SHA256, m.StoredBytes); err != nil {
				return err
			}
			now := time.Now().UTC()
			cp.Status, cp.VerifiedAt = lifeboat.CopyVerified, &now
			log.Info(fmt.Sprintf("copy %s: read back %d bytes, sha256 matches (%.1fs)", c.Name, m.StoredBytes, time.Since(start).Seconds()))
			return nil
		}()
		if err != nil {
			cp.Status, cp.Error = lifeboat.CopyFailed, err.Error()
			log.Error(fmt.Sprintf("copy %s failed: %v", c.Name, err))
			if i > 0 && !errors.Is(err, blob.ErrLocked) {
				removeObject(ctx, c.Store, key, log)
			}
		}
		out[i] = cp
	}
	return out
}

// lockOf records the Object Lock the server holds for a locked store's
// object; a store configured with a lock whose object came back without
// one is an error (the lock is the point).
func lockOf(ctx context.Context, st blob.Store, key string, cp *lifeboat.Copy) error {
	l, ok := st.(interface {
		blob.Locker
		HasLock() bool
	})
	if !ok || !l.HasLock() {
		return nil
	}
	r, err := l.Retention(ctx, key)
	if err != nil {
		return fmt.Errorf("read Object Lock: %w", err)
	}
	if r.Until.IsZero() {
		return errors.New("stored without its Object Lock retention")
	}
	until := r.Until.UTC()
	cp.LockMode, cp.LockedUntil = r.Mode, &until
	return nil
}

// readBack reads key whole and checks its size and sha256.
func readBack(ctx context.Context, st blob.Store, key, sha string, size int64) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, crypt.VerifyingReader(rc, sha, size)); err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	return nil
}

// removeCopies deletes the backup from the primary and every copy: a
// failed stage leaves nothing that looks like a backup anywhere.
func removeCopies(ctx context.Context, in BackupInput, key string) {
	removeObject(ctx, in.Store, key, in.Log)
	for _, c := range in.Copies {
		removeObject(ctx, c.Store, key, in.Log)
	}
}
