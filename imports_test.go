package lifeboat_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/lifeboat-dev/lifeboat"

// allowedImports is DESIGN.md's "imports flow one way, downwards", as data:
// for each package of this module, the module packages its non-test files
// may import. A package missing here fails the test, so a new package must
// take its place in the picture.
var allowedImports = map[string][]string{
	"":                 {},
	"migrations":       {},
	"internal/testenv": {},
	// test support only, imported by _test files
	"internal/lbtest":    {"internal/app", "internal/config", "internal/jobs", "internal/store", "internal/testenv"},
	"internal/verify":    {""},
	"internal/pgtool":    {""},
	"internal/sandbox":   {""},
	"internal/blob":      {"", "internal/outbound"},
	"internal/crypt":     {""},
	"internal/notify":    {"", "internal/outbound"},
	"internal/outbound":  {""}, // the one guard on user-supplied addresses: notifiers' and storages'
	"internal/views":     {""},
	"internal/schedule":  {},
	"internal/retention": {""},
	"internal/auth":      {""},
	"internal/config":    {"", "internal/verify", "internal/schedule"},
	"internal/store":     {"", "migrations"},
	"internal/pipeline":  {"", "internal/pgtool", "internal/sandbox", "internal/blob", "internal/crypt", "internal/verify", "internal/notify"},
	"internal/jobs": {"", "internal/pipeline", "internal/store", "internal/config", "internal/blob", "internal/notify",
		"internal/pgtool", "internal/sandbox", "internal/verify", "internal/schedule", "internal/retention"},
	// views: app.Dashboard hands the pages the configuration through views' redactors
	// app adapts the config to the API's and the pages' views of it (api,
	// views): the wiring both cmd/server and the API tests use.
	"internal/app": {"", "internal/config", "internal/blob", "internal/notify", "internal/jobs", "internal/store", "internal/views",
		"internal/api", "internal/outbound"},
	"internal/api": {"", "internal/views"},
	// benchmark scaffolding: a synthetic history (bulk SQL) and the API load tool over it
	"internal/benchseed": {""},
	"cmd/benchapi":       {"internal/benchseed", "internal/store"},
	"cmd/server":         nil, // wiring: anything
}

func TestImportDirections(t *testing.T) {
	imports := map[string]map[string]bool{} // package dir → module imports
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "." {
			dir = ""
		}
		if imports[dir] == nil {
			imports[dir] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dir == "" && strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Errorf("%s imports %q: the vocabulary package imports only the standard library", path, p)
			}
			if p == module {
				imports[dir][""] = true
			} else if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				imports[dir][rest] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, 0, len(imports))
	for d := range imports {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		allowed, known := allowedImports[dir]
		if !known {
			t.Errorf("package %q is not in allowedImports: add it with the imports DESIGN.md allows", dir)
			continue
		}
		if dir == "cmd/server" {
			continue
		}
		ok := map[string]bool{}
		for _, a := range allowed {
			ok[a] = true
		}
		for imp := range imports[dir] {
			if !ok[imp] {
				t.Errorf("package %q imports %q, which breaks the import directions", nameOf(dir), nameOf(imp))
			}
		}
	}
}

func nameOf(dir string) string {
	if dir == "" {
		return module
	}
	return module + "/" + dir
}
