package pgtool_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
)

// A client tool inherits only an allowlist of lifeboat's environment: no
// secret of lifeboat's and no PG* variable that would change where it
// connects.
func TestRunPassesOnlyAllowedEnvironment(t *testing.T) {
	t.Setenv("LIFEBOAT_TEST_LEAK", "s3cret-value")
	t.Setenv("PGHOST", "/nonexistent")
	t.Setenv("PGOPTIONS", "-c statement_timeout=1")
	var out bytes.Buffer
	err := pgtool.Run(context.Background(), pgtool.Command{Bin: pgtool.Binary{Path: "/usr/bin/env"},
		Env: []string{"PGPASSWORD=given"}, Stdout: &out})
	require.NoError(t, err)
	env := out.String()
	require.NotContains(t, env, "s3cret-value")
	require.NotContains(t, env, "PGHOST")
	require.NotContains(t, env, "PGOPTIONS")
	require.Contains(t, env, "PGPASSWORD=given")
	require.Contains(t, env, "PATH=")
}

// Cancelling a tool kills its whole process group: what it forked dies
// with it (pg_restore -j forks its workers).
func TestRunCancelKillsProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- pgtool.Run(ctx, pgtool.Command{Bin: pgtool.Binary{Path: "/bin/sh"},
			Args: []string{"-c", "sleep 300 & echo $!; wait"}, Stdout: &out})
	}()
	require.Eventually(t, func() bool { return strings.TrimSpace(out.String()) != "" }, 10*time.Second, 10*time.Millisecond)
	child, err := strconv.Atoi(strings.TrimSpace(out.String()))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(child, 0), "the forked child runs")
	cancel()
	require.Error(t, <-done)
	require.Eventually(t, func() bool {
		// Gone, or a zombie waiting for init to reap it.
		return syscall.Kill(child, 0) != nil || isZombie(child)
	}, 10*time.Second, 20*time.Millisecond, "the forked child died with the group")
}
