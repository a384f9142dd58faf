package pgtool

import (
	"fmt"
	"net/url"
	"strings"
)

// ConnArgs splits a postgres:// URL into what is safe for argv (the URL
// without its password) and the environment that carries the password.
// The error never contains the URL.
func ConnArgs(rawURL string) (dbname string, env []string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("database URL is not a postgres:// URL")
	}
	var password string
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			password = p
			u.User = url.User(u.User.Username())
		}
	}
	q := u.Query()
	if p := q.Get("password"); p != "" {
		password = p
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	env = []string{"PGAPPNAME=lifeboat"}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return u.String(), env, nil
}

// WithDatabase returns rawURL pointing at database db.
func WithDatabase(rawURL, db string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL is not a postgres:// URL")
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

// Redact hides a URL's password for messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	s := u.Redacted()
	return strings.ReplaceAll(s, "%2A%2A%2A%2A%2A", "xxxxx")
}
