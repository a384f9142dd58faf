package views

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// StaticPrefix is where StaticHandler is mounted: the router sends every
// path under it there, without a login (the login page needs the CSS).
const StaticPrefix = "/static/"

//go:embed static
var staticFiles embed.FS

// Static holds the dashboard's stylesheet, script and icon (served by
// lifeboat itself: the machines it runs on often have no internet).
var Static fs.FS = mustSub(staticFiles, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

type staticAsset struct {
	name string // app.css
	body []byte
}

// staticAssets are the embedded files by versioned name (app.3f2a91c0.css):
// the name changes when the content does, so browsers may cache forever.
var staticAssets, staticNames = loadStatic()

func loadStatic() (map[string]staticAsset, map[string]string) {
	byVersioned, names := map[string]staticAsset{}, map[string]string{}
	err := fs.WalkDir(Static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(Static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(p)
		v := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:4]) + ext
		byVersioned[v] = staticAsset{name: p, body: body}
		names[p] = v
		return nil
	})
	if err != nil {
		panic(err)
	}
	return byVersioned, names
}

// StaticURL is the versioned URL of an embedded file ("app.css" →
// "/static/app.3f2a91c0.css"). It panics on a name that is not embedded:
// that is a bug in a template, caught by any test that renders it.
func StaticURL(name string) string {
	v, ok := staticNames[name]
	if !ok {
		panic("views: no static file " + name)
	}
	return StaticPrefix + v
}

// StaticHandler serves the embedded files at StaticPrefix under their
// versioned names, cacheable for a year. An unversioned or stale name is
// a 404: pages always link the current version.
func StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		a, ok := staticAssets[strings.TrimPrefix(r.URL.Path, StaticPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		ct := mime.TypeByExtension(path.Ext(a.name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}
