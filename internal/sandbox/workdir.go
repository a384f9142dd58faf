package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Workdir is a directory owned by one live lifeboat process: it holds an
// exclusive flock on <parent>/<prefix><id>.lock for as long as it lives. The
// kernel drops the lock when the process dies, however it dies (kill -9
// included), so any process can tell a dead owner's leftovers from a live
// sibling's and remove them.
type Workdir struct {
	ID   string // random, also names this process's sandbox queue
	Path string
	lock *os.File
}

// ClaimWorkdir creates and locks a fresh work directory under parent.
func ClaimWorkdir(parent, prefix string) (*Workdir, error) {
	if err := os.MkdirAll(parent, 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	lockPath := filepath.Join(parent, prefix+id+".lock")
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	dir := filepath.Join(parent, prefix+id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		f.Close()
		os.Remove(lockPath)
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return &Workdir{ID: id, Path: dir, lock: f}, nil
}

// Release removes the directory and drops the lock.
func (w *Workdir) Release() error {
	err := os.RemoveAll(w.Path)
	_ = os.Remove(w.lock.Name())
	_ = w.lock.Close()
	return err
}

// SweepWorkdirs removes the work directories under parent whose owner is
// gone (its lock can be taken), calling beforeRemove on each first (to stop
// what still runs inside). It returns the paths it removed.
func SweepWorkdirs(parent, prefix string, beforeRemove func(dir string)) ([]string, error) {
	entries, err := os.ReadDir(parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, prefix) || strings.HasSuffix(name, ".lock") {
			continue
		}
		dir := filepath.Join(parent, name)
		lockPath := dir + ".lock"
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err == nil {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				f.Close()
				continue // a live process owns it
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		// Owner dead (or its lock file already gone): ours to remove. The
		// lock, when we hold it, keeps two sweepers from racing.
		if beforeRemove != nil {
			beforeRemove(dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		} else {
			removed = append(removed, dir)
		}
		if f != nil {
			_ = os.Remove(lockPath)
			f.Close()
		}
	}
	return removed, errors.Join(errs...)
}
