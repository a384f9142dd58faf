package views_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func TestBackupUsageCommands(t *testing.T) {
	u := views.BackupUsage{Storage: "main", Key: "lb/app/2026/11/25/42.dump.zst.age", IdentityFile: "/etc/lifeboat/age.key"}
	require.Equal(t, `lifeboat restore --config "$LIFEBOAT_CONFIG" --storage main --object lb/app/2026/11/25/42.dump.zst.age --into "$DATABASE_URL"`,
		u.CLICommand())
	require.Equal(t, `age -d -i /etc/lifeboat/age.key app-42.dump.zst.age | zstd -d -c | pg_restore --no-owner --no-privileges --exit-on-error -d "$DATABASE_URL"`,
		u.PipeCommand("app"))

	// Anything a shell would read differently is quoted.
	odd := views.BackupUsage{Storage: "my store", Key: "it's/$HOME 1.dump.zst.age"}
	require.Equal(t, `lifeboat restore --config "$LIFEBOAT_CONFIG" --storage 'my store' --object 'it'\''s/$HOME 1.dump.zst.age' --into "$DATABASE_URL"`,
		odd.CLICommand())
	require.Contains(t, odd.PipeCommand("t"), `-i age.key 't-$HOME 1.dump.zst.age'`, "no identity configured: a placeholder")
}
