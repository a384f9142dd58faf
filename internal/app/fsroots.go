package app

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// checkFSRoot refuses an fs storage made through the API outside the
// config file's outbound.fs_roots: an API client must not have lifeboat
// write (its storage test included) into /etc or its own data. With no
// roots, fs storages come from the config file only.
func checkFSRoot(roots []string, path string) error {
	if len(roots) == 0 {
		return lifeboat.Errorf(lifeboat.EINVALID,
			"body.path: fs storages come from the config file only (its outbound.fs_roots names no folder for the API's)")
	}
	p := resolvePath(path)
	for _, root := range roots {
		r := resolvePath(root)
		if p == r || strings.HasPrefix(p, r+string(os.PathSeparator)) {
			return nil
		}
	}
	return lifeboat.Errorf(lifeboat.EINVALID, "body.path: %q is not inside a folder of outbound.fs_roots (%s)",
		path, strings.Join(roots, ", "))
}

// resolvePath cleans path and follows the symbolic links of its longest
// existing part, so neither "..", nor a link inside a root, leads out of it.
func resolvePath(path string) string {
	p, rest := filepath.Clean(path), ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
