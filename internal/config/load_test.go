package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"
)

// Two public X25519 recipients (their identities were thrown away).
const (
	recipientA = "age18tam85hzuj4z8ymgm3pnpydyytmv4mgp7gky75qaxwha23nmqe4qagz0nf"
	recipientB = "age1muk5xwjfm7valclzyth5tvn6pgnngxchms84emmjvnqystahv9aq53h2my"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// writeIdentity writes a fresh age identity file to dir/name.
func writeIdentity(t *testing.T, dir, name string) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	writeFile(t, dir, name, "# created: test\n"+id.String()+"\n")
	return id
}

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// errorLines splits a joined error into its problems.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	return strings.Split(err.Error(), "\n")
}

const fullConfig = `
database_url: ${LIFEBOAT_DATABASE_URL}
listen: 127.0.0.1:9090
base_url: https://lifeboat.example.com
restore:
  database_url: postgres://postgres@127.0.0.1:5432/postgres
  spool_dir: ./spool
encryption:
  age_identity_file: ./keys/age.key
  age_recipients: [` + recipientA + `]
storages:
  - name: main
    kind: s3
    bucket: backups
    prefix: lifeboat/
    endpoint: http://127.0.0.1:9000
    access_key_id: ${S3_ACCESS_KEY_ID}
    secret_access_key: ${S3_SECRET_ACCESS_KEY}
  - name: local
    kind: fs
    path: ./backups
outbound:
  allow: [10.20.0.0/16, "fd00::/8"]
notifiers:
  - {name: ops-chat, kind: slack, url: "${SLACK_WEBHOOK_URL}"}
  - {name: snitch, kind: heartbeat, url_file: secrets/snitch-url}
  - {name: ci, kind: webhook, url: https://example.com/hook, secret: "${HOOK_SECRET}"}
targets:
  - name: app
    database_url: ${APP_DATABASE_URL}
    schedule: "0 3 * * *"
    storage: main
    notify: [ops-chat, snitch]
    checks:
      - {name: users exist, sql: "SELECT count(*) FROM users", expect: ">= 1"}
      - name: fresh orders
        sql: "SELECT max(created_at) > now() - interval '2 days' FROM orders"
        expect: true
        timeout: 90s
  - name: billing_2
    database_url_file: secrets/billing-url
    schedule: "@daily"
    timezone: Europe/Berlin
    row_counts: estimate
    stage_timeout: 90m
    lock_timeout: 2m
    storage: local
`

var fullEnv = map[string]string{
	"LIFEBOAT_DATABASE_URL": "postgres://lifeboat:pw@db:5432/lifeboat",
	"S3_ACCESS_KEY_ID":      "AKIA123",
	"S3_SECRET_ACCESS_KEY":  "s3-secret",
	"SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T/B/X",
	"HOOK_SECRET":           "hook-secret",
	"APP_DATABASE_URL":      "postgresql://app:app-pw@db:5432/app?sslmode=disable",
}

func TestParseFullConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := writeIdentity(t, dir, "keys/age.key")
	writeFile(t, dir, "secrets/snitch-url", "  https://nosnch.in/abc123\n")
	billingURL := writeFile(t, dir, "secrets/billing-url", "postgres://billing:b-pw@db/billing\n")

	cfg, err := Parse([]byte(fullConfig), dir, envOf(fullEnv))
	require.NoError(t, err)

	require.Equal(t, "postgres://lifeboat:pw@db:5432/lifeboat", cfg.DatabaseURL)
	require.Equal(t, "127.0.0.1:9090", cfg.Listen)
	require.Equal(t, "https://lifeboat.example.com", cfg.BaseURL)
	require.Equal(t, Restore{
		Mode:        RestoreServer, // database_url given
		DatabaseURL: "postgres://postgres@127.0.0.1:5432/postgres",
		Jobs:        DefaultJobs(),
		SpoolDir:    filepath.Join(dir, "spool"),
	}, cfg.Restore)
	require.Equal(t, Encryption{
		AgeIdentityFile: filepath.Join(dir, "keys", "age.key"),
		AgeRecipients:   []string{recipientA},
	}, cfg.Encryption)
	require.Equal(t, []Storage{
		{
			Name: "main", Kind: "s3", Bucket: "backups", Prefix: "lifeboat/",
			Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
			AccessKeyID: "AKIA123", SecretAccessKey: "s3-secret", PartSizeMB: 16,
		},
		{Name: "local", Kind: "fs", Path: filepath.Join(dir, "backups")},
	}, cfg.Storages)
	require.Equal(t, []string{"10.20.0.0/16", "fd00::/8"}, cfg.Outbound.Allow)
	require.Equal(t, []Notifier{
		{Name: "ops-chat", Kind: "slack", URL: "https://hooks.slack.com/services/T/B/X"},
		{Name: "snitch", Kind: "heartbeat", URL: "https://nosnch.in/abc123", URLFile: filepath.Join(dir, "secrets", "snitch-url"), Style: "plain"},
		{Name: "ci", Kind: "webhook", URL: "https://example.com/hook", Secret: "hook-secret"},
	}, cfg.Notifiers)
	require.Equal(t, []Target{
		{
			Name:        "app",
			DatabaseURL: "postgresql://app:app-pw@db:5432/app?sslmode=disable",
			Schedule:    "0 3 * * *", Timezone: "UTC", Storage: "main",
			Notify: []string{"ops-chat", "snitch"}, RowCounts: "exact",
			StageTimeout: 6 * time.Hour, LockTimeout: 30 * time.Second, Overlap: "skip", Retention: defaultRetention,
			Checks: []Check{
				{Name: "users exist", SQL: "SELECT count(*) FROM users", Expect: ">= 1", Timeout: 60 * time.Second},
				{Name: "fresh orders", SQL: "SELECT max(created_at) > now() - interval '2 days' FROM orders", Expect: "true", Timeout: 90 * time.Second},
			},
		},
		{
			Name:            "billing_2",
			DatabaseURL:     "postgres://billing:b-pw@db/billing",
			DatabaseURLFile: billingURL,
			Schedule:        "@daily", Timezone: "Europe/Berlin", Storage: "local",
			RowCounts: "estimate", StageTimeout: 90 * time.Minute, LockTimeout: 2 * time.Minute, Overlap: "skip", Retention: defaultRetention,
		},
	}, cfg.Targets)

	target, ok := cfg.Target("billing_2")
	require.True(t, ok)
	require.Equal(t, "local", target.Storage)
	target.Storage = "main" // a pointer into the config, not a copy
	require.Equal(t, "main", cfg.Targets[1].Storage)
	_, ok = cfg.Target("nope")
	require.False(t, ok)

	storage, ok := cfg.Storage("local")
	require.True(t, ok)
	require.Equal(t, "fs", storage.Kind)
	_, ok = cfg.Storage("main2")
	require.False(t, ok)

	notifier, ok := cfg.Notifier("ci")
	require.True(t, ok)
	require.Equal(t, "hook-secret", notifier.Secret)
	_, ok = cfg.Notifier("")
	require.False(t, ok)

	recipients, names, err := cfg.Recipients()
	require.NoError(t, err)
	require.Equal(t, []string{id.Recipient().String(), recipientA}, names)
	require.Len(t, recipients, 2)

	ids, err := cfg.Identities()
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Equal(t, id.String(), ids[0].(*age.X25519Identity).String())
}

func TestLoadResolvesPathsAgainstConfigDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeIdentity(t, dir, "conf/age.key")
	writeFile(t, dir, "conf/db-url", "postgres://u:p@h/db")
	path := writeFile(t, dir, "conf/lifeboat.yaml", `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption: {age_identity_file: age.key}
storages: [{name: local, kind: fs, path: ../backups}]
targets: [{name: app, database_url_file: db-url, storage: local}]
`)
	cfg, err := Load(path, envOf(nil))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "conf", "age.key"), cfg.Encryption.AgeIdentityFile)
	require.Equal(t, filepath.Join(dir, "backups"), cfg.Storages[0].Path)
	require.Equal(t, filepath.Join(dir, "conf", "db-url"), cfg.Targets[0].DatabaseURLFile)
	require.Equal(t, "postgres://u:p@h/db", cfg.Targets[0].DatabaseURL)

	_, err = Load(filepath.Join(dir, "missing.yaml"), envOf(nil))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// minimal is a valid config the error cases below start from.
const minimal = `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption: {age_recipients: [` + recipientA + `]}
`

func TestParseEnvExpansion(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"A": "alpha", "B": "beta", "DOLLAR": "$B"})
	tests := []struct {
		name, sql, want string
	}{
		{name: "whole value", sql: "${A}", want: "alpha"},
		{name: "inside text", sql: "pre-${A}-post", want: "pre-alpha-post"},
		{name: "adjacent", sql: "${A}${B}", want: "alphabeta"},
		{name: "escaped dollar", sql: "$${A}", want: "${A}"},
		{name: "double escape", sql: "$$$${A}", want: "$${A}"},
		{name: "escape then variable", sql: "$$${A}", want: "$alpha"},
		{name: "other dollar forms are literal", sql: "$A $1 a$ $(x)", want: "$A $1 a$ $(x)"},
		{name: "value is not expanded again", sql: "${DOLLAR}", want: "$B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yml := minimal + `
storages: [{name: local, kind: fs, path: /b}]
targets:
  - name: app
    database_url: postgres://h/app
    storage: local
    checks: [{name: c, expect: "true", sql: '` + tt.sql + `'}]
`
			cfg, err := Parse([]byte(yml), t.TempDir(), env)
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg.Targets[0].Checks[0].SQL)
		})
	}
}

func TestParseNilGetenvIsEmptyEnvironment(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("database_url: ${X}\n"), t.TempDir(), nil)
	require.Contains(t, errorLines(t, err), "database_url: environment variable X is not set")
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // exactly the problems reported, in any order
	}{
		{
			name: "unset and empty variables",
			yaml: `
database_url: ${LIFEBOAT_DATABASE_URL}
restore: {database_url: postgres://h/postgres}
encryption: {age_recipients: [` + recipientA + `]}
storages: [{name: local, kind: fs, path: /b}]
targets: [{name: app, database_url: "${APP_DATABASE_URL}", storage: local}]
`,
			env: map[string]string{"LIFEBOAT_DATABASE_URL": ""},
			want: []string{
				"database_url: environment variable LIFEBOAT_DATABASE_URL is not set",
				"targets[0].database_url: environment variable APP_DATABASE_URL is not set",
			},
		},
		{
			name: "malformed variable references",
			yaml: minimal + `
base_url: "https://${HOST"
listen: "${1X}:80"
`,
			want: []string{
				"base_url: unterminated ${ (write $$ for a literal $)",
				`listen: invalid environment variable name "1X" in ${...} (write $$ for a literal $)`,
			},
		},
		{
			name: "unknown keys at several depths",
			yaml: `
database_url: postgres://h/lifeboat
databse_url: postgres://h/x
restore: {database_url: postgres://h/postgres, jbos: 3}
encryption: {age_recipients: [` + recipientA + `]}
storages: [{name: local, kind: fs, path: /b, bukket: x}]
targets:
  - name: app
    database_url: postgres://h/app
    storage: local
  - name: app2
    database_url: postgres://h/app
    storage: local
    checks:
      - {name: c, sql: "SELECT true", expct: "true"}
`,
			want: []string{
				"databse_url: unknown key",
				"restore.jbos: unknown key",
				"storages[0].bukket: unknown key",
				"targets[1].checks[0].expct: unknown key",
				"targets[1].checks[0].expect: required: want true, false, non-empty, or one of = != > >= < <= followed by a number",
			},
		},
		{
			name: "duplicate key",
			yaml: minimal + "database_url: postgres://h/again\n",
			want: []string{"database_url: duplicate key"},
		},
		{
			name: "wrong shapes and types",
			yaml: minimal + `
storages: {name: local}
notifiers: [[a]]
outbound: [10.0.0.0/8]
targets:
  - name: [app]
    database_url: postgres://h/app
    storage: local
    stage_timeout: 6 hours
    checks: [{name: c, sql: "SELECT 1", expect: "= 1", timeout: 60}]
`,
			want: []string{
				"storages: want a list, got a mapping",
				"notifiers[0]: want a mapping, got a list",
				"outbound: want a mapping, got a list",
				"targets[0].name: want a single value, got a list",
				`targets[0].stage_timeout: want a duration such as 90s, 15m or 6h, got "6 hours"`,
				`targets[0].checks[0].timeout: want a duration such as 90s, 15m or 6h, got "60"`,
			},
		},
		{
			name: "integers",
			yaml: `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres, jobs: two}
encryption: {age_recipients: [` + recipientA + `]}
storages: [{name: s, kind: s3, bucket: b, part_size_mb: 4}, {name: t, kind: s3, bucket: b, part_size_mb: 513}]
`,
			want: []string{
				`restore.jobs: want an integer, got "two"`,
				"storages[0].part_size_mb: must be between 5 and 512, got 4",
				"storages[1].part_size_mb: must be between 5 and 512, got 513",
			},
		},
		{
			name: "required top level fields",
			yaml: "listen: nonsense\nbase_url: ftp://x\n",
			want: []string{
				"database_url: required",
				"listen: want host:port, such as 127.0.0.1:8080",
				"base_url: want an http:// or https:// URL",
				"encryption: set age_identity_file, age_recipients, or both",
			},
		},
		{
			name: "non-postgres URLs",
			yaml: `
database_url: mysql://h/lifeboat
restore: {database_url: "host=localhost dbname=postgres"}
encryption: {age_recipients: [` + recipientA + `]}
storages: [{name: local, kind: fs, path: /b}]
targets: [{name: app, database_url: "postgres:opaque", storage: local}]
`,
			want: []string{
				"database_url: want a postgres:// or postgresql:// URL",
				"restore.database_url: want a postgres:// or postgresql:// URL",
				"targets[0].database_url: want a postgres:// or postgresql:// URL",
			},
		},
		{
			name: "missing storage and notifier references",
			yaml: minimal + `
storages: [{name: main, kind: fs, path: /b}]
notifiers: [{name: chat, kind: slack, url: "https://hooks.example.com/x"}]
targets:
  - {name: app, database_url: "postgres://h/app", storage: s4, notify: [chat, pager, chat]}
  - {name: other, database_url: "postgres://h/app"}
`,
			want: []string{
				`targets[0].storage: no storage named "s4"`,
				`targets[0].notify[1]: no notifier named "pager"`,
				`targets[0].notify[2]: "chat" is listed twice`,
				"targets[1].storage: required",
			},
		},
		{
			name: "schedules",
			yaml: minimal + `
storages: [{name: main, kind: fs, path: /b}]
targets:
  - {name: a, database_url: "postgres://h/a", storage: main, schedule: "0 3 * *"}
  - {name: b, database_url: "postgres://h/b", storage: main, schedule: "0 0 3 * * *"}
  - {name: c, database_url: "postgres://h/c", storage: main, schedule: "61 3 * * *"}
  - {name: d, database_url: "postgres://h/d", storage: main, schedule: "@sometimes"}
  - {name: e, database_url: "postgres://h/e", storage: main, schedule: "TZ=Europe/Paris 0 3 * * *"}
  - {name: f, database_url: "postgres://h/f", storage: main, schedule: "*/15 1-5 * * MON-FRI"}
  - {name: g, database_url: "postgres://h/g", storage: main, schedule: "@every 1h30m"}
`,
			want: []string{
				"targets[0].schedule: expected 5 cron fields, got 4",
				"targets[1].schedule: expected 5 cron fields, got 6",
				"targets[2].schedule: invalid cron expression: end of range (61) above maximum (59): 61",
				"targets[3].schedule: invalid cron expression: unrecognized descriptor: @sometimes",
				"targets[4].schedule: set the time zone with the target's timezone, not in the schedule",
				`targets[6].schedule: @every is not supported: use a cron expression such as "*/30 * * * *"`,
			},
		},
		{
			name: "checks",
			yaml: minimal + `
storages: [{name: main, kind: fs, path: /b}]
targets:
  - name: app
    database_url: postgres://h/app
    storage: main
    checks:
      - {name: ok, sql: "SELECT 1", expect: "= 1"}
      - {name: tilde, sql: "SELECT 1", expect: "~ 3"}
      - {name: ok, sql: "  ", expect: ">= x"}
      - {sql: "SELECT 1", expect: "non-empty"}
      - {name: neg, sql: "SELECT 1", expect: "true", timeout: -1s}
`,
			want: []string{
				`targets[0].checks[1].expect: unknown expect form "~ 3": want true, false, non-empty, or one of = != > >= < <= followed by a number`,
				`targets[0].checks[2].name: duplicate check name "ok"`,
				"targets[0].checks[2].sql: required",
				`targets[0].checks[2].expect: expect form ">= x": "x" is not a number (want an integer or decimal such as 10, -3 or 0.5)`,
				"targets[0].checks[3].name: required",
				"targets[0].checks[4].timeout: must be positive",
			},
		},
		{
			name: "duplicate and invalid names",
			yaml: minimal + `
storages:
  - {name: main, kind: fs, path: /a}
  - {name: main, kind: fs, path: /b}
  - {name: Main, kind: fs, path: /c}
  - {kind: fs, path: /d}
notifiers:
  - {name: chat, kind: slack, url: "https://h/x"}
  - {name: chat, kind: heartbeat, url: "https://h/y"}
  - {name: "-chat", kind: heartbeat, url: "https://h/y"}
targets:
  - {name: app, database_url: "postgres://h/a", storage: main}
  - {name: app, database_url: "postgres://h/a", storage: main}
  - {name: "` + strings.Repeat("a", 64) + `", database_url: "postgres://h/a", storage: main}
`,
			want: []string{
				`storages[1].name: duplicate name "main"`,
				`storages[2].name: "Main" must be lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)`,
				"storages[3].name: required",
				`notifiers[1].name: duplicate name "chat"`,
				`notifiers[2].name: "-chat" must be lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)`,
				`targets[1].name: duplicate name "app"`,
				`targets[2].name: "` + strings.Repeat("a", 64) + `" must be lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)`,
			},
		},
		{
			name: "storages",
			yaml: minimal + `
storages:
  - {name: a, kind: s4}
  - {name: b}
  - {name: c, kind: s3}
  - {name: d, kind: s3, bucket: x, access_key_id: AKIA}
  - {name: e, kind: s3, bucket: x, secret_access_key: shh, endpoint: "ftp://h"}
  - {name: f, kind: fs}
  - {name: g, kind: s3, bucket: x, ca_file: /nonexistent/ca.pem}
`,
			want: []string{
				`storages[0].kind: unknown kind "s4": want s3 or fs`,
				"storages[1].kind: required: want s3 or fs",
				"storages[2].bucket: required for kind s3",
				"storages[3].secret_access_key: required when access_key_id is set",
				"storages[4].access_key_id: required when secret_access_key is set",
				"storages[4].endpoint: want an http:// or https:// URL",
				"storages[5].path: required for kind fs",
				"storages[6].ca_file: open /nonexistent/ca.pem: no such file or directory",
			},
		},
		{
			name: "notifiers",
			yaml: minimal + `
notifiers:
  - {name: a, kind: email, url: "https://h/x"}
  - {name: b, kind: slack}
  - {name: c, kind: heartbeat, url: "hooks.example.com/x"}
  - {name: d, kind: webhook, url: "https://h/x"}
  - {name: e, url: "https://h/x"}
`,
			want: []string{
				`notifiers[0].kind: unknown kind "email": want slack, heartbeat or webhook`,
				"notifiers[1].url: required",
				"notifiers[2].url: want an http:// or https:// URL",
				"notifiers[3].secret: required for kind webhook",
				"notifiers[4].kind: required: want slack, heartbeat or webhook",
			},
		},
		{
			name: "outbound and encryption",
			yaml: `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres}
encryption: {age_identity_file: /nonexistent/age.key, age_recipients: [` + recipientA + `, age1nope, AGE-SECRET-KEY-1XYZ]}
outbound: {allow: [10.0.0.0/8, 10.0.0.1, "::1/129"]}
`,
			want: []string{
				"encryption.age_identity_file: open /nonexistent/age.key: no such file or directory",
				"encryption.age_recipients[1]: not an X25519 age recipient (age1…)",
				"encryption.age_recipients[2]: not an X25519 age recipient (age1…)",
				`outbound.allow[1]: "10.0.0.1" is not a CIDR prefix such as 10.20.0.0/16`,
				`outbound.allow[2]: "::1/129" is not a CIDR prefix such as 10.20.0.0/16`,
			},
		},
		{
			name: "target fields",
			yaml: minimal + `
storages: [{name: main, kind: fs, path: /b}]
targets:
  - {name: app, database_url: "postgres://h/a", storage: main, timezone: Mars/Olympus, row_counts: guess, stage_timeout: -5m, lock_timeout: 10us}
`,
			want: []string{
				`targets[0].timezone: unknown time zone "Mars/Olympus": want an IANA name such as UTC or Europe/Berlin`,
				`targets[0].row_counts: unknown mode "guess": want exact or estimate`,
				"targets[0].stage_timeout: must be positive",
				"targets[0].lock_timeout: must be at least 1ms",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tt.yaml), t.TempDir(), envOf(tt.env))
			require.Nil(t, cfg)
			require.ElementsMatch(t, tt.want, errorLines(t, err))

			// Every problem is a *FieldError that names its path.
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.NotEmpty(t, fe.Path)
		})
	}
}

func TestParseNegativeRestoreJobs(t *testing.T) {
	t.Parallel()
	yml := `
database_url: postgres://h/lifeboat
restore: {database_url: postgres://h/postgres, jobs: -1}
encryption: {age_recipients: [` + recipientA + `]}
`
	_, err := Parse([]byte(yml), t.TempDir(), nil)
	require.Equal(t, []string{"restore.jobs: must be at least 1, got -1"}, errorLines(t, err))
}

func TestParseTopLevel(t *testing.T) {
	t.Parallel()
	for _, yml := range []string{"", "# only a comment\n", "~\n"} {
		_, err := Parse([]byte(yml), t.TempDir(), nil)
		require.ElementsMatch(t, []string{
			"database_url: required",
			"encryption: set age_identity_file, age_recipients, or both",
		}, errorLines(t, err), "input %q", yml)
	}

	_, err := Parse([]byte("- a\n- b\n"), t.TempDir(), nil)
	require.EqualError(t, err, "config: the top level must be a mapping of settings, got a list")

	_, err = Parse([]byte("database_url: [\n"), t.TempDir(), nil)
	require.ErrorContains(t, err, "config: yaml:")
}

func TestParseSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "db", "\n  postgres://u:file-pw@h/app  \n\n")
	writeFile(t, dir, "s3", "s3-file-secret\n")
	writeFile(t, dir, "url", "https://hooks.example.com/from-file\n")
	writeFile(t, dir, "hmac", "hmac-from-file")
	writeFile(t, dir, "blank", " \n\t\n")

	yml := minimal + `
storages: [{name: s, kind: s3, bucket: b, access_key_id: AKIA, secret_access_key_file: s3}]
notifiers: [{name: n, kind: webhook, url_file: url, secret_file: ./hmac}]
targets: [{name: app, database_url_file: db, storage: s}]
`
	cfg, err := Parse([]byte(yml), dir, nil)
	require.NoError(t, err)
	require.Equal(t, "postgres://u:file-pw@h/app", cfg.Targets[0].DatabaseURL)
	require.Equal(t, "s3-file-secret", cfg.Storages[0].SecretAccessKey)
	require.Equal(t, filepath.Join(dir, "s3"), cfg.Storages[0].SecretAccessKeyFile)
	require.Equal(t, "https://hooks.example.com/from-file", cfg.Notifiers[0].URL)
	require.Equal(t, "hmac-from-file", cfg.Notifiers[0].Secret)
	require.Equal(t, filepath.Join(dir, "hmac"), cfg.Notifiers[0].SecretFile)

	bad := minimal + `
storages: [{name: s, kind: s3, bucket: b, access_key_id: AKIA, secret_access_key: x, secret_access_key_file: s3}]
notifiers: [{name: n, kind: webhook, url_file: missing, secret_file: blank}]
targets: [{name: app, database_url: "postgres://h/a", database_url_file: db, storage: s}]
`
	_, err = Parse([]byte(bad), dir, nil)
	require.ElementsMatch(t, []string{
		"storages[0].secret_access_key_file: secret_access_key is also set; use one or the other",
		"notifiers[0].url_file: open " + filepath.Join(dir, "missing") + ": no such file or directory",
		"notifiers[0].secret_file: " + filepath.Join(dir, "blank") + " is empty",
		"targets[0].database_url_file: database_url is also set; use one or the other",
	}, errorLines(t, err))
	require.NotContains(t, err.Error(), "file-pw")
}

func TestParseNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "db", "mysql://app:file-secret-1@h/app")
	// A file that looks like an identity but is malformed: age's own error
	// would quote part of it.
	writeFile(t, dir, "broken.key", "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ!QQQ\n")
	yml := `
database_url: mysql://lifeboat:hunter2-literal@db/lifeboat
restore: {database_url: "postgres://postgres:restore-pw@db:port/postgres"}
encryption: {age_identity_file: broken.key}
storages:
  - {name: main, kind: "${KIND_SECRET}"}
  - {name: s3, kind: s3, bucket: b, endpoint: "ftp://ak:endpoint-pw@h"}
notifiers:
  - {name: n, kind: slack, url: "slack.example.com/services/hook-token-1"}
  - {name: "${NAME_SECRET}", kind: webhook, url: "${HOOK_URL}"}
targets:
  - name: app
    database_url: ${APP_DATABASE_URL}
    database_url_file: db
    storage: main
    schedule: "${SCHEDULE_SECRET}"
    checks: [{name: c, sql: "SELECT 1", expect: "${EXPECT_SECRET}", timeout: "${TIMEOUT_SECRET}"}]
  - name: other
    database_url_file: db
    storage: ${STORAGE_SECRET}
    timezone: ${TZ_SECRET}
`
	secrets := map[string]string{
		"NAME_SECRET":      "Name-Secret-1",
		"KIND_SECRET":      "kind-secret-1",
		"HOOK_URL":         "ftp://hooks.example.com/hook-token-2",
		"APP_DATABASE_URL": "mysql://app:env-secret-1@db/app",
		"SCHEDULE_SECRET":  "schedule-secret 1 2 3 4",
		"EXPECT_SECRET":    "expect-secret-1",
		"TIMEOUT_SECRET":   "timeout-secret-1",
		"STORAGE_SECRET":   "storage-secret-1",
		"TZ_SECRET":        "tz-secret-1",
	}
	_, err := Parse([]byte(yml), dir, envOf(secrets))
	require.Error(t, err)
	msg := err.Error()

	for _, s := range []string{"hunter2-literal", "restore-pw", "endpoint-pw", "hook-token-1", "file-secret-1", "QQQQ"} {
		require.NotContains(t, msg, s)
	}
	for name, value := range secrets {
		require.NotContains(t, msg, value, "value of %s leaked", name)
	}
	// The problems are still reported, by path.
	lines := errorLines(t, err)
	for _, want := range []string{
		"database_url: want a postgres:// or postgresql:// URL",
		"restore.database_url: want a postgres:// or postgresql:// URL",
		"encryption.age_identity_file: line 1: not a valid age identity (AGE-SECRET-KEY-1…)",
		"storages[0].kind: unknown kind (value from the environment): want s3 or fs",
		"storages[1].endpoint: want an http:// or https:// URL",
		"notifiers[0].url: want an http:// or https:// URL",
		"notifiers[1].name: (value from the environment) must be lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)",
		"notifiers[1].url: want an http:// or https:// URL",
		"targets[0].database_url_file: database_url is also set; use one or the other",
		"targets[0].schedule: invalid cron expression (value from the environment)",
		"targets[0].checks[0].expect: not a valid expect form (value from the environment)",
		"targets[0].checks[0].timeout: want a duration such as 90s, 15m or 6h, got (value from the environment)",
		"targets[1].database_url: want a postgres:// or postgresql:// URL",
		"targets[1].storage: no storage named (value from the environment)",
		"targets[1].timezone: unknown time zone (value from the environment): want an IANA name such as UTC or Europe/Berlin",
	} {
		require.Contains(t, lines, want)
	}
}

func TestParseAliasesAndMerges(t *testing.T) {
	t.Parallel()
	yml := minimal + `
storages: [{name: main, kind: fs, path: /b}]
x-defaults: &defaults
  storage: main
  schedule: "0 3 * * *"
  checks: &checks
    - {name: any, sql: "SELECT 1", expect: "= 1"}
targets:
  - <<: *defaults
    name: app
    database_url: postgres://h/app
  - <<: *defaults
    name: other
    database_url: postgres://h/other
    schedule: "0 4 * * *"
    checks: *checks
`
	// x-defaults is not a config key: anchors must live inside known keys.
	_, err := Parse([]byte(yml), t.TempDir(), nil)
	require.Equal(t, []string{"x-defaults: unknown key"}, errorLines(t, err))

	yml = minimal + `
storages: [{name: main, kind: fs, path: /b}]
targets:
  - &app
    name: app
    database_url: postgres://h/app
    storage: main
    schedule: "0 3 * * *"
    checks: [{name: any, sql: "SELECT 1", expect: "= 1"}]
  - <<: *app
    name: other
    schedule: "0 4 * * *"
`
	cfg, err := Parse([]byte(yml), t.TempDir(), nil)
	require.NoError(t, err)
	require.Len(t, cfg.Targets, 2)
	require.Equal(t, "other", cfg.Targets[1].Name)
	require.Equal(t, "0 4 * * *", cfg.Targets[1].Schedule)
	require.Equal(t, "postgres://h/app", cfg.Targets[1].DatabaseURL)
	require.Equal(t, cfg.Targets[0].Checks, cfg.Targets[1].Checks)

	// An alias that contains itself is reported, not followed forever.
	_, err = Parse([]byte(minimal+"outbound: {allow: &x [*x]}\n"), t.TempDir(), nil)
	require.Equal(t, []string{"outbound.allow[0]: want a single value, got a list"}, errorLines(t, err))
}

func TestParseAliasBomb(t *testing.T) {
	t.Parallel()
	// 300 aliases of a target with 400 checks: a small file that expands
	// to far more values than any real config has.
	yml := minimal + "targets:\n  - &t\n    checks:\n" +
		strings.Repeat("      - {name: c, sql: s, expect: \"true\"}\n", 400) +
		strings.Repeat("  - *t\n", 300)
	_, err := Parse([]byte(yml), t.TempDir(), nil)
	lines := errorLines(t, err)
	require.Len(t, lines, 1)
	require.Contains(t, lines[0], ": document too large (more than 100000 values after expanding aliases)")
	require.True(t, strings.HasPrefix(lines[0], "targets["), lines[0])
}

func TestIdentitiesAndRecipients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := writeIdentity(t, dir, "age.key")

	var noIdentity Config
	noIdentity.Encryption.AgeRecipients = []string{recipientA, recipientB, recipientA}
	_, err := noIdentity.Identities()
	require.EqualError(t, err, "encryption.age_identity_file: required to restore")
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "encryption.age_identity_file", fe.Path)

	recipients, names, err := noIdentity.Recipients()
	require.NoError(t, err)
	require.Equal(t, []string{recipientA, recipientB}, names)
	require.Len(t, recipients, 2)

	var empty Config
	_, _, err = empty.Recipients()
	require.EqualError(t, err, "encryption: no age recipients: set age_identity_file, age_recipients, or both")

	withIdentity := Config{Encryption: Encryption{
		AgeIdentityFile: filepath.Join(dir, "age.key"),
		AgeRecipients:   []string{id.Recipient().String()},
	}}
	_, names, err = withIdentity.Recipients()
	require.NoError(t, err)
	require.Equal(t, []string{id.Recipient().String()}, names)

	// Recipients and identities round-trip through age.
	recipients, _, err = withIdentity.Recipients()
	require.NoError(t, err)
	ids, err := withIdentity.Identities()
	require.NoError(t, err)
	var sealed strings.Builder
	w, err := age.Encrypt(&sealed, recipients...)
	require.NoError(t, err)
	_, err = w.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	r, err := age.Decrypt(strings.NewReader(sealed.String()), ids...)
	require.NoError(t, err)
	plain := make([]byte, 5)
	_, err = r.Read(plain)
	require.NoError(t, err)
	require.Equal(t, "hello", string(plain))

	missing := Config{Encryption: Encryption{AgeIdentityFile: filepath.Join(dir, "nope.key")}}
	_, err = missing.Identities()
	require.ErrorIs(t, err, os.ErrNotExist)
	_, _, err = missing.Recipients()
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "encryption.age_identity_file", fe.Path)
}

var defaultRetention = Retention{MinVerified: 1, UnverifiedGrace: 7 * 24 * time.Hour, PartialGrace: 24 * time.Hour}

func TestScheduleRetentionOverlapAndStyleValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "age.key"), []byte(id.String()+"\n"), 0o600))
	yaml := `database_url: postgres://db/lifeboat
restore: {database_url: postgres://db/postgres}
encryption: {age_identity_file: ./age.key}
storages: [{name: main, kind: fs, path: ./b}]
notifiers:
  - {name: chat, kind: slack, url: "https://chat.example/x", style: healthchecks}
  - {name: hb, kind: heartbeat, url: "https://hc.example/x", style: pingdom}
targets:
  - name: app
    database_url: postgres://db/app
    storage: main
    schedule: "@every 1h"
    overlap: sometimes
    max_age: -1h
    retention: {keep_daily: -2, unverified_grace: -1s}
`
	_, err = Parse([]byte(yaml), dir, nil)
	require.Error(t, err)
	for _, want := range []string{
		"notifiers[0].style: only heartbeat notifiers have a style",
		"notifiers[1].style: unknown style",
		"targets[0].schedule: @every is not supported",
		"targets[0].overlap: unknown mode",
		"targets[0].max_age: must be positive",
		"targets[0].retention.keep_daily: must not be negative",
		"targets[0].retention.unverified_grace: must be positive",
	} {
		require.Contains(t, err.Error(), want)
	}
}

func TestParseDashboardAdminPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "pw", "a long enough admin password\n")
	cfg, err := Parse([]byte(minimal+"dashboard: {admin_password_file: pw}\n"), dir, nil)
	require.NoError(t, err)
	require.Equal(t, "a long enough admin password", cfg.Dashboard.AdminPassword)

	_, err = Parse([]byte(minimal+"dashboard: {admin_password: short-pw}\n"), dir, nil)
	require.Equal(t, []string{"dashboard.admin_password: must be at least 12 characters"}, errorLines(t, err))
	require.NotContains(t, err.Error(), "short-pw")
}

func TestRestoreModes(t *testing.T) {
	t.Parallel()
	const head = "database_url: postgres://h/lifeboat\nencryption: {age_recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]}\n"
	cfg, err := Parse([]byte(head), t.TempDir(), envOf(nil))
	require.NoError(t, err)
	require.Equal(t, RestoreSandbox, cfg.Restore.Mode, "no restore server: a sandbox")
	require.True(t, cfg.Restore.Sandboxed())
	require.Equal(t, filepath.Join(os.TempDir(), "lifeboat-sandbox"), cfg.Restore.SandboxDir)

	cfg, err = Parse([]byte(head+"restore: {database_url: postgres://r/postgres, allow_superuser: true}\n"), t.TempDir(), envOf(nil))
	require.NoError(t, err)
	require.Equal(t, RestoreServer, cfg.Restore.Mode)
	require.True(t, cfg.Restore.AllowSuperuser)

	for doc, want := range map[string]string{
		"restore: {mode: sandbox, database_url: postgres://r/postgres}": "restore.database_url: set only with restore.mode: server",
		"restore: {mode: server}":               "restore.database_url: required",
		"restore: {mode: cloud}":                `restore.mode: want sandbox or server, got "cloud"`,
		"restore: {allow_superuser: yes}":       `restore.allow_superuser: want true or false, got "yes"`,
		"restore: {allow_superuser: true}":      "restore.allow_superuser: applies only to restore.mode: server",
		"restore: {maintenance_work_mem: lots}": `restore.maintenance_work_mem: want a size such as 512MB or 2GB, got "lots"`,
		"restore: {mode: server, database_url: postgres://r/postgres, reader_url: nope}": "restore.reader_url:",
	} {
		_, err := Parse([]byte(head+doc+"\n"), t.TempDir(), envOf(nil))
		require.ErrorContains(t, err, want, doc)
	}
}
