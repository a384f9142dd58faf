package sandbox_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/sandbox"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func TestChoose(t *testing.T) {
	t.Parallel()
	servers := []sandbox.Server{
		{BinDir: "/usr/lib/postgresql/17/bin", Version: "17.2", Major: 17},
		{BinDir: "/usr/lib/postgresql/15/bin", Version: "15.18", Major: 15},
		{BinDir: "/usr/lib/postgresql/16/bin", Version: "16.6", Major: 16},
	}
	for _, tc := range []struct {
		dump int
		want int
	}{{15, 15}, {14, 15}, {16, 16}, {17, 17}} {
		got, err := sandbox.Choose(servers, tc.dump)
		require.NoError(t, err)
		require.Equal(t, tc.want, got.Major, "dump %d", tc.dump)
	}
	_, err := sandbox.Choose(servers, 18)
	require.ErrorContains(t, err, "major version 18 or newer")
	require.ErrorContains(t, err, "installed: 15.18 (/usr/lib/postgresql/15/bin), 16.6 (/usr/lib/postgresql/16/bin), 17.2")
	_, err = sandbox.Choose(nil, 15)
	require.ErrorContains(t, err, "none is installed")

	require.Equal(t, "sandbox runs PostgreSQL 15.18", sandbox.Note(15, servers[1]))
	require.Contains(t, sandbox.Note(15, servers[0]), "restored a PostgreSQL 15 dump on 17")
}

func TestCheckSpace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, sandbox.CheckSpace(dir, 1<<20))
	err := sandbox.CheckSpace(dir, 1<<62)
	require.ErrorContains(t, err, "the sandbox needs about 5 EB")
	require.ErrorContains(t, err, "free in "+dir)
}

// pgMajor is the major version of the test cluster's server.
func pgMajor(t *testing.T) int {
	t.Helper()
	return int(testenv.QueryInt(t, testenv.PGURL(t), "SELECT current_setting('server_version_num')::int / 10000"))
}

func newManager(t *testing.T, dir string) *sandbox.Manager {
	t.Helper()
	testenv.PGURL(t) // fail, never skip, without the test command's environment
	m, err := sandbox.NewManager(sandbox.Options{Dir: dir, Jobs: 2, Servers: pipeline.SandboxServers(os.Getenv)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func sandboxDir(t *testing.T) string {
	t.Helper()
	// Short, and reachable by the postgres user when tests run as root.
	dir, err := os.MkdirTemp(testenv.SandboxDir(t), "lbsb-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestSandboxRolesAreUnprivileged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := newManager(t, sandboxDir(t))
	sb, err := m.Start(ctx, 1, pgMajor(t), 1<<20)
	require.NoError(t, err)

	// Socket only, in a private directory.
	fi, err := os.Stat(filepath.Join(sb.Dir, "s"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	restore := connect(t, sb.RestoreURL())
	var listen string
	require.NoError(t, restore.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	require.Equal(t, "", listen)

	var super, createdb, createrole, bypass, owner bool
	require.NoError(t, restore.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,
		(SELECT datdba = r.oid FROM pg_database WHERE datname = current_database())
		FROM pg_roles r WHERE rolname = current_user`).Scan(&super, &createdb, &createrole, &bypass, &owner))
	require.False(t, super || createdb || createrole || bypass)
	require.True(t, owner, "the restore role owns the scratch database")
	for _, role := range []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"} {
		var member bool
		require.NoError(t, restore.QueryRow(ctx, "SELECT pg_has_role(current_user, $1, 'MEMBER')", role).Scan(&member))
		require.False(t, member, role)
	}
	_, err = restore.Exec(ctx, "COPY (SELECT 1) TO PROGRAM 'id'")
	require.ErrorContains(t, err, "SQLSTATE 42501")
	_, err = restore.Exec(ctx, "ALTER ROLE "+sandbox.RestoreRole+" SUPERUSER")
	require.ErrorContains(t, err, "SQLSTATE 42501")
	_, err = restore.Exec(ctx, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)")
	require.NoError(t, err)

	reader := connect(t, sb.ReaderURL())
	var n int
	require.NoError(t, reader.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n))
	require.Equal(t, 10, n)
	_, err = reader.Exec(ctx, "DELETE FROM t")
	require.ErrorContains(t, err, "read-only transaction")
	_, err = reader.Exec(ctx, "SELECT pg_read_file('/etc/passwd')")
	require.ErrorContains(t, err, "SQLSTATE 42501")

	// Passwords are required after setup, even over the private socket.
	bad := strings.Replace(sb.ReaderURL(), "lifeboat_reader:", "lifeboat_reader:wrong", 1)
	_, err = pgx.Connect(ctx, bad)
	require.ErrorContains(t, err, "password authentication failed")

	dir := sb.Dir
	m.Release(1)
	require.NoDirExists(t, dir)
	require.True(t, sb.Exited())
}

// TestLeftoversOfAKilledProcessAreRemoved starts a sandbox in a child
// process, kills that process with SIGKILL, and checks that the next
// manager on the same directory leaves no postgres process and no
// directory behind.
func TestLeftoversOfAKilledProcessAreRemoved(t *testing.T) {
	t.Parallel()
	dir := sandboxDir(t)
	major := pgMajor(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "LIFEBOAT_SANDBOX_HELPER="+dir, fmt.Sprintf("LIFEBOAT_SANDBOX_MAJOR=%d", major))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(out)
	var boxDir string
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "SANDBOX "); ok {
			boxDir = d
			break
		}
	}
	require.NotEmpty(t, boxDir, "the helper printed its sandbox")
	pidData, err := os.ReadFile(filepath.Join(boxDir, "data", "postmaster.pid"))
	require.NoError(t, err)
	var pid int
	fmt.Sscan(string(pidData), &pid)
	require.NoError(t, syscall.Kill(pid, 0), "postmaster runs")

	require.NoError(t, cmd.Process.Kill()) // SIGKILL
	_ = cmd.Wait()

	newManager(t, dir)
	require.NoDirExists(t, boxDir)
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 50*time.Millisecond,
		"the killed process's postmaster is gone")
}

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("LIFEBOAT_SANDBOX_HELPER")
	if dir == "" {
		return // only a helper when started by the test above
	}
	var major int
	fmt.Sscan(os.Getenv("LIFEBOAT_SANDBOX_MAJOR"), &major)
	m, err := sandbox.NewManager(sandbox.Options{Dir: dir, Servers: pipeline.SandboxServers(os.Getenv)})
	require.NoError(t, err)
	sb, err := m.Start(context.Background(), 7, major, 0)
	require.NoError(t, err)
	fmt.Println("SANDBOX " + sb.Dir)
	time.Sleep(time.Minute)
}
