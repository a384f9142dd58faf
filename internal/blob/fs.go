package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/lifeboat-dev/lifeboat"
)

// FS stores objects as files under a folder. A Put writes
// ".<name>.partial-<random>" beside the final name, fsyncs it and renames
// it into place, so readers see a whole object or none.
type FS struct {
	root string
}

var _ Store = (*FS)(nil)

// partialName matches the temporary files of Puts in progress (or of a
// process that died mid-Put); List skips them and keys may not look like them.
var partialName = regexp.MustCompile(`^\..*\.partial-[0-9]+$`)

// NewFS returns a store rooted at dir, creating the folder if needed.
func NewFS(dir string) (*FS, error) {
	if dir == "" {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "fs storage: empty path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fs storage %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("fs storage: %w", err)
	}
	return &FS{root: abs}, nil
}

// Root returns the store's folder.
func (s *FS) Root() string { return s.root }

func (s *FS) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if partialName.MatchString(key[strings.LastIndexByte(key, '/')+1:]) {
		return "", lifeboat.Errorf(lifeboat.EINVALID, "key %q: reserved for partial files", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (s *FS) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	final, err := s.path(key)
	if err != nil {
		return 0, err
	}
	stop := closeOnDone(ctx, r)
	defer stop()
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	pr := &putReader{ctx: ctx, r: r}
	err = func() error {
		if _, err := io.Copy(f, pr); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		// A cancellation that arrived after the last read still wins: the
		// caller has been told nothing is stored.
		if err := ctx.Err(); err != nil {
			return err
		}
		return os.Rename(tmp, final)
	}()
	if err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return pr.n, nil
}

// Get implements Store.
func (s *FS) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fsErr("get", key, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, fsErr("get", key, err)
	}
	return f, nil
}

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err == nil && !st.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return Info{}, fsErr("stat", key, err)
	}
	return Info{Key: key, Size: st.Size(), Modified: st.ModTime()}, nil
}

// Delete implements Store.
func (s *FS) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List implements Store. Partial files of Puts in progress are not listed.
func (s *FS) List(ctx context.Context, prefix string) ([]Info, error) {
	// Walk only the deepest folder the prefix names.
	start := s.root
	if i := strings.LastIndexByte(prefix, '/'); i > 0 {
		if err := checkKey(prefix[:i]); err != nil {
			return nil, err
		}
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	out := []Info{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || isNotDir(err)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || partialName.MatchString(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walked
		} else if err != nil {
			return err
		}
		out = append(out, Info{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func fsErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || isNotDir(err) {
		return fmt.Errorf("%s %s: %w", op, key, lifeboat.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// isNotDir reports ENOTDIR: a key whose parent "folder" is a file.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
