package views

import (
	"net/url"
	"regexp"
	"strings"
)

// Masked is what a secret is shown as.
const Masked = "••••••"

// Redacted is a value made safe to show. Its only constructors remove
// secrets, so a view model cannot carry a connection string's password or
// a webhook's secret path to a page by mistake.
type Redacted struct{ s string }

// String is the safe text.
func (r Redacted) String() string { return r.s }

// sensitiveParam matches query parameters and key=value settings that hold
// secrets (password, sslpassword, secret, token, api_key, sig, …).
var sensitiveParam = regexp.MustCompile(`(?i)(pass|secret|token|key|sig|auth|credential)`)

// kvSetting is one key=value pair of a libpq keyword/value connection string.
var kvSetting = regexp.MustCompile(`(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// RedactURL shows a connection string or URL with its secrets masked: the
// password in user:password@, and every sensitive query parameter or
// keyword=value setting. What cannot be parsed is masked whole.
func RedactURL(raw string) Redacted {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Redacted{}
	}
	if !strings.Contains(raw, "://") {
		if !kvSetting.MatchString(raw) {
			return Redacted{Masked}
		}
		return Redacted{kvSetting.ReplaceAllStringFunc(raw, func(m string) string {
			kv := kvSetting.FindStringSubmatch(m)
			if sensitiveParam.MatchString(kv[1]) {
				return kv[1] + "=" + Masked
			}
			return m
		})}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return Redacted{Masked}
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(url.PathEscape(u.User.Username()))
		if _, set := u.User.Password(); set {
			b.WriteString(":" + Masked)
		}
		b.WriteString("@")
	}
	b.WriteString(u.Host)
	b.WriteString(u.EscapedPath())
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			if key, err := url.QueryUnescape(k); err != nil || sensitiveParam.MatchString(key) {
				parts[i] = k + "=" + Masked
			}
		}
		b.WriteString("?" + strings.Join(parts, "&"))
	}
	// A fragment is dropped: nothing a reader needs, and it may hold a token.
	return Redacted{b.String()}
}

// RedactToHost shows only a URL's scheme and host: chat webhooks and
// heartbeat URLs carry their secret in the path.
func RedactToHost(raw string) Redacted {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		if raw == "" {
			return Redacted{}
		}
		return Redacted{Masked}
	}
	s := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/" + Masked
	}
	return Redacted{s}
}
