// Package pgtool runs PostgreSQL's client tools (pg_dump, pg_restore) and
// the small SQL chores around them (versions, snapshots, scratch
// databases). Secrets reach the tools through the environment, never argv.
package pgtool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Binary is one PostgreSQL client tool with its version.
type Binary struct {
	Path    string
	Version string // e.g. "15.18"
	Major   int
}

var versionRe = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// Candidates lists where a tool may live, in the order DESIGN.md gives:
// $PG_BIN_DIR, then /usr/lib/postgresql/*/bin (newest first), then $PATH.
func Candidates(name string, getenv func(string) string) []string {
	var out []string
	if d := getenv("PG_BIN_DIR"); d != "" {
		out = append(out, filepath.Join(d, name))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return dirMajor(dirs[i]) > dirMajor(dirs[j]) })
	for _, d := range dirs {
		out = append(out, filepath.Join(d, name))
	}
	if p, err := exec.LookPath(name); err == nil {
		out = append(out, p)
	}
	return out
}

func dirMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Find returns the first tool called name, in candidate order, whose major
// version is at least minMajor. The error names both versions when only
// older tools exist.
func Find(ctx context.Context, name string, minMajor int, getenv func(string) string) (Binary, error) {
	var seen []string
	for _, path := range Candidates(name, getenv) {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		b, err := Version(ctx, path)
		if err != nil {
			continue
		}
		if b.Major >= minMajor {
			return b, nil
		}
		seen = append(seen, fmt.Sprintf("%s %s", path, b.Version))
	}
	if len(seen) == 0 {
		return Binary{}, fmt.Errorf("no %s found (looked in $PG_BIN_DIR, /usr/lib/postgresql/*/bin and $PATH); install the PostgreSQL client tools", name)
	}
	return Binary{}, fmt.Errorf("%s major version %d or newer is needed for a PostgreSQL %d server, found only %s",
		name, minMajor, minMajor, strings.Join(seen, ", "))
}

// Version runs "path --version".
func Version(ctx context.Context, path string) (Binary, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return Binary{}, fmt.Errorf("%s --version: %w", path, err)
	}
	m := versionRe.FindStringSubmatch(string(out))
	if m == nil {
		return Binary{}, fmt.Errorf("%s --version: unexpected output %q", path, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(m[1])
	v := m[1]
	if m[2] != "" {
		v += "." + m[2]
	}
	return Binary{Path: path, Version: v, Major: major}, nil
}

// Servers lists the installed PostgreSQL servers, one per directory where
// initdb and postgres sit side by side, found where Find looks for the
// client tools. Each Binary is that directory's postgres.
func Servers(ctx context.Context, getenv func(string) string) []Binary {
	var out []Binary
	seen := map[string]bool{}
	for _, initdb := range Candidates("initdb", getenv) {
		real, err := filepath.EvalSymlinks(initdb)
		if err != nil {
			continue
		}
		dir := filepath.Dir(real)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		b, err := Version(ctx, filepath.Join(dir, "postgres"))
		if err != nil {
			continue
		}
		out = append(out, b)
	}
	return out
}
