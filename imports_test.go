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
// may import ("" is the root package). It is exact both ways: a package
// missing here fails the test, so a new package must take its place in the
// picture, and so does an entry no file uses any more (stale).
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
	"internal/outbound":  {}, // the one guard on user-supplied addresses: notifiers' and storages'
	"internal/views":     {""},
	"internal/schedule":  {},
	"internal/retention": {""},
	"internal/auth":      {""},
	"internal/config":    {"internal/verify", "internal/schedule"},
	"internal/store":     {"", "migrations"},
	"internal/pipeline":  {"", "internal/pgtool", "internal/sandbox", "internal/blob", "internal/crypt", "internal/verify", "internal/notify"},
	"internal/jobs": {"", "internal/pipeline", "internal/store", "internal/config", "internal/blob", "internal/notify",
		"internal/pgtool", "internal/sandbox", "internal/verify", "internal/schedule", "internal/retention"},
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

// thirdParty is DESIGN.md's third-party boundaries for non-test files: the
// only packages that may import a path under each prefix ("cmd/" is every
// command), or the packages that may not. Each package named in only must
// use it (else the entry is stale), except the "cmd/" wildcard.
var thirdParty = []struct {
	name     string
	prefixes []string
	only     []string // the only packages that may import it (nil: anywhere but notIn)
	notIn    []string
}{
	{name: "River", prefixes: []string{"github.com/riverqueue/", "riverqueue.com/"},
		only: []string{"internal/jobs", "internal/store", "cmd/"}},
	{name: "pgx", prefixes: []string{"github.com/jackc/pgx/"},
		only: []string{"internal/store", "internal/pgtool", "internal/sandbox", "internal/verify",
			// test support and benchmark scaffolding
			"internal/testenv", "internal/lbtest", "internal/benchseed", "cmd/"}},
	{name: "templ", prefixes: []string{"github.com/a-h/templ"},
		only: []string{"internal/views", "internal/api"}},
	// senders live in notify, storage in blob, inbound HTTP in api
	{name: "net/http", prefixes: []string{"net/http"}, notIn: []string{"internal/jobs", "internal/pipeline"}},
}

// knownBreaks are today's exceptions to thirdParty, each to be removed by
// issue 13's restructure; an entry that no longer happens fails the test
// (so it is deleted when its code moves).
var knownBreaks = map[[2]string]string{
	{"internal/api", "River"}:     "riverui.go builds River's UI (belongs in cmd/server)",
	{"internal/api", "pgx"}:       "riverui.go names river.Client[pgx.Tx] (belongs in cmd/server)",
	{"internal/jobs", "pgx"}:      "pgx.Tx as River's client and JobCompleteTx type parameter",
	{"internal/jobs", "net/http"}: "hooks.go checks inbound hooks' HMAC from an http.Header (belongs in api)",
	{"internal/pipeline", "pgx"}:  "restore_into.go's checkEmpty runs SQL on the restore target (belongs in pgtool)",
}

// packageImports reads every non-test .go file and returns, per package
// directory ("" is the root), the set of paths its files import.
func packageImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	imports := map[string]map[string]bool{}
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
			imports[dir][p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestImportDirections(t *testing.T) {
	imports := packageImports(t)
	for _, dir := range sortedKeys(imports) {
		mod := map[string]bool{} // module imports of dir, by directory
		for p := range imports[dir] {
			if dir == "" && strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Errorf("%s imports %q: the vocabulary package imports only the standard library", nameOf(dir), p)
			}
			if p == module {
				mod[""] = true
			} else if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				mod[rest] = true
			}
		}
		allowed, known := allowedImports[dir]
		if !known {
			t.Errorf("package %q is not in allowedImports: add it with the imports DESIGN.md allows", nameOf(dir))
			continue
		}
		if dir == "cmd/server" {
			continue
		}
		ok := map[string]bool{}
		for _, a := range allowed {
			ok[a] = true
			if !mod[a] {
				t.Errorf("allowedImports[%q] lists %q, which it no longer imports: remove the stale entry (and from DESIGN.md)", dir, a)
			}
		}
		for imp := range mod {
			if !ok[imp] {
				t.Errorf("package %q imports %q, which breaks the import directions", nameOf(dir), nameOf(imp))
			}
		}
	}
	for _, dir := range sortedKeys(allowedImports) {
		if imports[dir] == nil {
			t.Errorf("allowedImports lists package %q, which does not exist (or has no non-test file): remove it", dir)
		}
	}
}

func TestThirdPartyBoundaries(t *testing.T) {
	imports := packageImports(t)
	in := func(dir string, dirs []string) bool {
		for _, d := range dirs {
			if dir == d || strings.HasSuffix(d, "/") && strings.HasPrefix(dir, d) {
				return true
			}
		}
		return false
	}
	seenBreak := map[[2]string]bool{}
	for _, rule := range thirdParty {
		uses := func(dir string) []string {
			var hits []string
			for p := range imports[dir] {
				for _, pre := range rule.prefixes {
					if p == pre || strings.HasPrefix(p, strings.TrimSuffix(pre, "/")+"/") {
						hits = append(hits, p)
						break
					}
				}
			}
			sort.Strings(hits)
			return hits
		}
		for _, dir := range sortedKeys(imports) {
			hits := uses(dir)
			if len(hits) == 0 {
				continue
			}
			bad := rule.only != nil && !in(dir, rule.only) || in(dir, rule.notIn)
			if !bad {
				continue
			}
			if _, ok := knownBreaks[[2]string{dir, rule.name}]; ok {
				seenBreak[[2]string{dir, rule.name}] = true
				continue
			}
			t.Errorf("package %q imports %s (%s): DESIGN.md keeps %s out of it", nameOf(dir), rule.name,
				strings.Join(hits, ", "), rule.name)
		}
		for _, dir := range rule.only {
			if !strings.HasSuffix(dir, "/") && len(uses(dir)) == 0 {
				t.Errorf("%s is allowed in %q, which no longer imports it: remove the stale entry (and from DESIGN.md)", rule.name, dir)
			}
		}
	}
	for k, why := range knownBreaks {
		if !seenBreak[k] {
			t.Errorf("knownBreaks lists %q importing %s (%s), which it no longer does: remove the entry", k[0], k[1], why)
		}
	}
}

func nameOf(dir string) string {
	if dir == "" {
		return module
	}
	return module + "/" + dir
}
