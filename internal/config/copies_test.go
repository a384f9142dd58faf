package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTargetStoragesAndObjectLock: a target may list several storages (the
// first is the primary, also in Storage); a single storage keeps working;
// object_lock is checked per storage, each error naming its field.
func TestTargetStoragesAndObjectLock(t *testing.T) {
	t.Parallel()
	base := minimal + `storages:
  - {name: main, kind: s3, bucket: b1, object_lock: {mode: compliance, days: 30}}
  - {name: offsite, kind: s3, bucket: b2, endpoint: "https://s3.example.net"}
  - {name: local, kind: fs, path: ./backups}
`
	c, err := Parse([]byte(base+`targets:
  - {name: app, database_url: "postgres://h/app", storages: [main, offsite, local]}
  - {name: one, database_url: "postgres://h/one", storage: local}
`), t.TempDir(), nil)
	require.NoError(t, err)
	app, _ := c.Target("app")
	require.Equal(t, []string{"main", "offsite", "local"}, app.StorageNames())
	require.Equal(t, "main", app.Storage, "the primary")
	one, _ := c.Target("one")
	require.Equal(t, []string{"local"}, one.StorageNames())
	main, _ := c.Storage("main")
	require.Equal(t, ObjectLock{Mode: "compliance", Days: 30}, main.ObjectLock)
	off, _ := c.Storage("offsite")
	require.False(t, off.ObjectLock.Enabled())

	_, err = Parse([]byte(minimal+`storages:
  - {name: main, kind: s3, bucket: b1, object_lock: {mode: forever, days: 0}}
  - {name: local, kind: fs, path: ./backups, object_lock: {mode: governance, days: 1}}
targets:
  - {name: app, database_url: "postgres://h/app", storages: [main, nope, main]}
  - {name: both, database_url: "postgres://h/app", storage: main, storages: [local]}
`), t.TempDir(), nil)
	lines := errorLines(t, err)
	for _, want := range []string{
		"storages[0].object_lock.mode: unknown mode \"forever\": want governance or compliance",
		"storages[0].object_lock.days: must be between 1 and 36500, got 0",
		"storages[1].object_lock: only s3 storages have Object Lock",
		"targets[0].storages[1]: no storage named \"nope\"",
		"targets[0].storages[2]: \"main\" is listed twice",
		"targets[1].storages: storage is also set; use one or the other (the first of storages is the primary)",
	} {
		require.Contains(t, lines, want)
	}
}
