package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// intoFlags are the three ways to name the database `lifeboat restore`
// writes to. Its URL usually carries a password, and argv is readable by
// every user of the host (ps, /proc) and lands in shell history, so
// --into-env and --into-file keep it out of argv.
type intoFlags struct {
	url, env, file *string
}

func addIntoFlags(fs *flag.FlagSet) intoFlags {
	return intoFlags{
		url: fs.String("into", "", "URL of an existing, empty database to restore into (a password here is visible "+
			"in ps and shell history: prefer --into-env or --into-file)"),
		env:  fs.String("into-env", "", "name of an environment variable holding the --into URL (keeps the password out of argv)"),
		file: fs.String("into-file", "", "file whose first line is the --into URL (keeps the password out of argv)"),
	}
}

// resolve returns the database URL, and warns on stderr when one given in
// argv carries a password.
func (f intoFlags) resolve(getenv func(string) string, stderr io.Writer) (string, error) {
	given := 0
	for _, v := range []string{*f.url, *f.env, *f.file} {
		if v != "" {
			given++
		}
	}
	switch {
	case given == 0:
		return "", errors.New("--into: required (or --into-env VAR, or --into-file FILE)")
	case given > 1:
		return "", errors.New("--into, --into-env and --into-file: give only one")
	case *f.env != "":
		u := strings.TrimSpace(getenv(*f.env))
		if u == "" {
			return "", fmt.Errorf("--into-env: environment variable %s is not set or empty", *f.env)
		}
		return u, nil
	case *f.file != "":
		b, err := os.ReadFile(*f.file)
		if err != nil {
			return "", fmt.Errorf("--into-file: %w", err)
		}
		u, _, _ := strings.Cut(string(b), "\n")
		if u = strings.TrimSpace(u); u == "" {
			return "", fmt.Errorf("--into-file: %s is empty", *f.file)
		}
		return u, nil
	}
	if hasPassword(*f.url) {
		fmt.Fprintln(stderr, "lifeboat: warning: --into carries a password in argv, where other users of this host "+
			"(ps, /proc) and your shell history can read it; use --into-env VAR or --into-file FILE instead")
	}
	return *f.url, nil
}

// hasPassword reports whether a postgres URL or key=value connection
// string holds a password.
func hasPassword(conn string) bool {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		_, ok := u.User.Password()
		return ok || u.Query().Get("password") != ""
	}
	for _, field := range strings.Fields(conn) {
		if k, _, ok := strings.Cut(field, "="); ok && strings.TrimSpace(k) == "password" {
			return true
		}
	}
	return false
}
