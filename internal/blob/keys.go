package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// ObjectSuffix ends every backup object's key: a custom-format dump,
// zstd-compressed, age-encrypted.
const ObjectSuffix = ".dump.zst.age"

// ObjectKey names the backup object of one run:
// <target>/<YYYY>/<MM>/<DD>/<run-id>.dump.zst.age, dated in UTC. The store
// adds its own prefix (S3) or folder (fs).
func ObjectKey(target string, runID int64, t time.Time) string {
	return fmt.Sprintf("%s/%s/%d%s", target, t.UTC().Format("2006/01/02"), runID, ObjectSuffix)
}

// ManifestKey names the manifest written beside objectKey.
func ManifestKey(objectKey string) string { return objectKey + ManifestSuffix }

// maxManifestSize bounds what GetManifest reads: a manifest with thousands
// of tables is still far below it.
const maxManifestSize = 64 << 20

// PutManifest writes m as indented JSON at ManifestKey(objectKey). Call it
// only after the object itself is stored: a manifest vouches for it.
func PutManifest(ctx context.Context, s Store, objectKey string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	b = append(b, '\n')
	if _, err := s.Put(ctx, ManifestKey(objectKey), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("put manifest: %w", err)
	}
	return nil
}

// GetManifest reads the manifest of objectKey. A missing manifest returns an
// error wrapping lifeboat.ErrNotFound.
func GetManifest(ctx context.Context, s Store, objectKey string) (Manifest, error) {
	key := ManifestKey(objectKey)
	rc, err := s.Get(ctx, key)
	if err != nil {
		return Manifest{}, fmt.Errorf("get manifest: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest %s: %w", key, err)
	}
	if len(b) > maxManifestSize {
		return Manifest{}, fmt.Errorf("manifest %s is larger than %d bytes", key, maxManifestSize)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("decode manifest %s: %w", key, err)
	}
	return m, nil
}

// checkKey rejects keys that could escape the store's folder or prefix or
// that name no object: empty, absolute, with empty, "." or ".." segments, or
// with a backslash or NUL.
func checkKey(key string) error {
	if key == "" {
		return lifeboat.Errorf(lifeboat.EINVALID, "empty key")
	}
	if strings.ContainsAny(key, "\\\x00") {
		return lifeboat.Errorf(lifeboat.EINVALID, "key %q: backslash or NUL", key)
	}
	if strings.HasPrefix(key, "/") {
		return lifeboat.Errorf(lifeboat.EINVALID, "key %q: absolute", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return lifeboat.Errorf(lifeboat.EINVALID, "key %q: empty, \".\" or \"..\" segment", key)
		}
	}
	return nil
}
