// Package sandbox runs the throw-away PostgreSQL cluster a run restores and
// verifies in: version-matched, unprivileged, tuned for speed, reachable only
// over a Unix socket in a private directory, and removed afterwards. A dump
// is untrusted code and a check is user SQL: inside the sandbox, pg_restore
// connects as a role that owns the scratch database and nothing else, and
// counts and checks read as a role that can read all data and do nothing
// else. Only lifeboat's own setup uses the bootstrap superuser.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// Role and database names inside every sandbox.
const (
	adminRole   = "lifeboat_admin"
	RestoreRole = "lifeboat_restore"
	ReaderRole  = "lifeboat_reader"
	Database    = "scratch"
	port        = "5432" // names the socket file; nothing listens on TCP
	// workPrefix starts each process's work directory under the sandbox root.
	workPrefix = "w-"
	// maxSocketPath is the longest Unix socket path Linux takes (108 with NUL).
	maxSocketPath = 107
)

// Options configures a Manager.
type Options struct {
	// Dir is the sandbox root: templates, and one work directory per process.
	Dir string
	// User is the OS user PostgreSQL runs as when lifeboat runs as root
	// (PostgreSQL refuses root, and should). Default "postgres".
	User string
	// Jobs is pg_restore's -j: connections and parallel maintenance workers.
	Jobs int
	// MaintenanceWorkMem is the sandbox's maintenance_work_mem (index builds),
	// e.g. "512MB"; "" picks one from the machine's memory.
	MaintenanceWorkMem string
	// Max bounds the sandboxes alive at once (a process's --concurrency);
	// Start waits for a free one. 0: no bound.
	Max int
	// Servers lists the installed PostgreSQL servers (pgtool.Servers).
	Servers func(context.Context) []Server
	Log     *slog.Logger
}

// Manager starts and removes the sandboxes of one lifeboat process.
type Manager struct {
	opts Options
	work *Workdir
	cred *syscall.Credential // nil when lifeboat is not root
	uid  int
	gid  int

	tmplMu    sync.Mutex
	templates map[string]string // server bin dir → template data dir

	mu    sync.Mutex
	boxes map[int64]*Sandbox
	slots chan struct{} // one token per live sandbox when Options.Max > 0
}

// NewManager removes the leftovers of dead processes under opts.Dir, then
// claims this process's work directory.
func NewManager(opts Options) (*Manager, error) {
	if opts.Dir == "" {
		return nil, errors.New("sandbox: Dir is required")
	}
	if opts.Servers == nil {
		return nil, errors.New("sandbox: Servers is required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Jobs = max(opts.Jobs, 1)
	m := &Manager{opts: opts, templates: map[string]string{}, boxes: map[int64]*Sandbox{},
		uid: os.Geteuid(), gid: os.Getegid()}
	if opts.Max > 0 {
		m.slots = make(chan struct{}, opts.Max)
	}
	if os.Geteuid() == 0 {
		name := opts.User
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("lifeboat runs as root, and the sandbox must run PostgreSQL as an unprivileged user: "+
				"user %q not found (create it, or set restore.sandbox_user)", name)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 {
			return nil, fmt.Errorf("restore.sandbox_user %q is root: the sandbox never runs PostgreSQL as root", name)
		}
		m.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
		m.uid, m.gid = uid, gid
	}
	if removed, err := Sweep(opts.Dir); err != nil {
		opts.Log.Warn("sandbox: removing leftovers: " + err.Error())
	} else if len(removed) > 0 {
		opts.Log.Info(fmt.Sprintf("sandbox: removed %d leftover sandbox director(ies) of stopped processes", len(removed)))
	}
	if err := os.MkdirAll(opts.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("sandbox dir: %w", err)
	}
	w, err := ClaimWorkdir(opts.Dir, workPrefix)
	if err != nil {
		return nil, err
	}
	if err := m.give(w.Path); err != nil {
		w.Release()
		return nil, err
	}
	m.work = w
	return m, nil
}

// ID names this process's sandboxes (and its verify queue).
func (m *Manager) ID() string { return m.work.ID }

// Sweep removes the work directories of dead lifeboat processes under dir,
// killing any PostgreSQL still running from them first.
func Sweep(dir string) ([]string, error) {
	return SweepWorkdirs(dir, workPrefix, killClusters)
}

// killClusters kills the process group of every postmaster whose data
// directory lies under dir. Each sandbox's postmaster leads its own process
// group, and its backends inherit it.
func killClusters(dir string) {
	pidFiles, _ := filepath.Glob(filepath.Join(dir, "*", "data", "postmaster.pid"))
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		if err != nil || pid <= 1 {
			continue
		}
		// Only a postmaster of this very data directory: the pid may have
		// been reused since.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), filepath.Dir(f)) {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Close stops every sandbox of this process and removes its work directory.
func (m *Manager) Close() error {
	m.mu.Lock()
	boxes := m.boxes
	m.boxes = map[int64]*Sandbox{}
	m.mu.Unlock()
	for _, b := range boxes {
		b.stop()
	}
	return m.work.Release()
}

// Get returns the live sandbox of run id.
func (m *Manager) Get(id int64) (*Sandbox, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.boxes[id]
	return b, ok
}

// Release stops run id's sandbox and removes its directory (no-op when
// there is none).
func (m *Manager) Release(id int64) {
	m.mu.Lock()
	b, ok := m.boxes[id]
	delete(m.boxes, id)
	m.mu.Unlock()
	if ok {
		b.stop()
	}
}

// Sandbox is one running throw-away cluster.
type Sandbox struct {
	Server Server
	Dir    string
	// Took is how long starting it took (template copy, start, setup).
	Took time.Duration
	sock string
	cmd  *exec.Cmd
	done chan struct{} // closed when the postmaster exited
	pw   map[string]string
	once sync.Once
	// slots is its Manager's: a token is given back when it stops.
	slots chan struct{}
}

// RestoreURL is how pg_restore connects: as the role that owns the scratch
// database and nothing else. The password travels in the URL to pgtool,
// which hands it to the tool through the environment, never argv.
func (s *Sandbox) RestoreURL() string { return s.url(RestoreRole) }

// ReaderURL is how counts and checks connect: read-all-data, nothing else.
func (s *Sandbox) ReaderURL() string { return s.url(ReaderRole) }

func (s *Sandbox) url(role string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, s.pw[role]), Host: "", Path: "/" + Database}
	u.RawQuery = url.Values{"host": {s.sock}, "port": {port}, "sslmode": {"disable"}}.Encode()
	return u.String()
}

// Start starts a sandbox for run id able to restore a dump made by pg_dump
// of major dumpMajor, after checking there is room for about rawBytes of
// restored data. A sandbox the run already had is replaced.
func (m *Manager) Start(ctx context.Context, id int64, dumpMajor int, rawBytes int64) (*Sandbox, error) {
	srv, err := Choose(m.opts.Servers(ctx), dumpMajor)
	if err != nil {
		return nil, lifeboat.Permanent(err)
	}
	if err := CheckSpace(m.opts.Dir, need(rawBytes)); err != nil {
		return nil, lifeboat.Permanent(err)
	}
	tmpl, err := m.template(ctx, srv)
	if err != nil {
		return nil, err
	}
	m.Release(id)
	if m.slots != nil {
		// A restore waits while verifies hold every sandbox allowed.
		select {
		case m.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	dir := filepath.Join(m.work.Path, fmt.Sprintf("r%d-%s", id, randomHex(3)))
	if len(filepath.Join(dir, "s", ".s.PGSQL."+port)) > maxSocketPath {
		return nil, lifeboat.Permanent(fmt.Errorf("restore.sandbox_dir %q is too deep for a Unix socket path (at most %d bytes): choose a shorter one",
			m.opts.Dir, maxSocketPath))
	}
	b := &Sandbox{Server: srv, Dir: dir, sock: filepath.Join(dir, "s"), done: make(chan struct{}), slots: m.slots,
		pw: map[string]string{adminRole: randomHex(24), RestoreRole: randomHex(24), ReaderRole: randomHex(24)}}
	start := time.Now()
	if err := b.start(ctx, m, tmpl); err != nil {
		b.stop()
		return nil, err
	}
	b.Took = time.Since(start)
	m.mu.Lock()
	m.boxes[id] = b
	m.mu.Unlock()
	return b, nil
}

func (b *Sandbox) start(ctx context.Context, m *Manager, tmpl string) error {
	if err := os.Mkdir(b.Dir, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := m.give(b.Dir); err != nil {
		return err
	}
	data := filepath.Join(b.Dir, "data")
	// cp -a keeps modes; run as the sandbox user, the copy is theirs.
	if out, err := m.command(ctx, "cp", "-a", tmpl, data).CombinedOutput(); err != nil {
		return fmt.Errorf("sandbox: copy template: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Mkdir(b.sock, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if err := m.give(b.sock); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(b.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer logFile.Close()
	args := append([]string{"-D", data}, m.settings(b.sock)...)
	cmd := exec.Command(filepath.Join(b.Server.BinDir, "postgres"), args...)
	cmd.Dir = b.Dir
	cmd.Env = m.childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group (its backends inherit it: killed as one), and
	// an immediate shutdown when lifeboat dies, however it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: m.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sandbox: start postgres: %w", err)
	}
	b.cmd = cmd
	go func() { _ = cmd.Wait(); close(b.done) }()
	conn, err := b.waitReady(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return b.setup(ctx, conn)
}

// waitReady connects as the bootstrap superuser (trusted over the private
// socket until setup ends) once the server accepts connections.
func (b *Sandbox) waitReady(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s user=%s dbname=postgres sslmode=disable", b.sock, port, adminRole))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("sandbox: postgres %s exited at start: %s", b.Server.Version, b.logTail())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("sandbox: postgres did not accept connections within a minute: %s", b.logTail())
		}
	}
}

// setup creates the two roles and the scratch database, then switches
// every connection to password authentication.
func (b *Sandbox) setup(ctx context.Context, conn *pgx.Conn) error {
	lit := func(s string) string { return "'" + s + "'" } // hex passwords: no quoting needed
	stmts := []string{
		"CREATE ROLE " + RestoreRole + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD " + lit(b.pw[RestoreRole]),
		"CREATE ROLE " + ReaderRole + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS PASSWORD " + lit(b.pw[ReaderRole]),
		"GRANT pg_read_all_data TO " + ReaderRole,
		"ALTER ROLE " + ReaderRole + " SET default_transaction_read_only = on",
		"CREATE DATABASE " + Database + " OWNER " + RestoreRole + " TEMPLATE template0 ENCODING 'UTF8'",
		"ALTER ROLE " + adminRole + " PASSWORD " + lit(b.pw[adminRole]),
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("sandbox setup: %w", err)
		}
	}
	hba := "# lifeboat sandbox: Unix socket only, passwords only\nlocal all all scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(b.Dir, "data", "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("sandbox setup: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("sandbox setup: %w", err)
	}
	return nil
}

// Exited reports whether the postmaster has stopped.
func (b *Sandbox) Exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// stop shuts the cluster down at once (nothing in it is worth a
// checkpoint), kills what is left of its process group, and removes its
// directory.
func (b *Sandbox) stop() {
	b.once.Do(func() {
		if b.cmd != nil && b.cmd.Process != nil {
			pid := b.cmd.Process.Pid
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			select {
			case <-b.done:
			case <-time.After(5 * time.Second):
			}
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-b.done
		}
		_ = os.RemoveAll(b.Dir)
		if b.slots != nil {
			<-b.slots
		}
	})
}

func (b *Sandbox) logTail() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "postgres.log"))
	if tail := lastLines(string(data), 5); tail != "" {
		return tail
	}
	return "no output"
}

// template returns a data directory made by srv's initdb, built once per
// server and shared by every process on the host (copying it is far faster
// than initdb).
func (m *Manager) template(ctx context.Context, srv Server) (string, error) {
	m.tmplMu.Lock()
	defer m.tmplMu.Unlock()
	if d, ok := m.templates[srv.BinDir]; ok {
		return d, nil
	}
	root := filepath.Join(m.opts.Dir, "templates")
	if err := os.MkdirAll(root, 0o711); err != nil {
		return "", fmt.Errorf("sandbox templates: %w", err)
	}
	name := fmt.Sprintf("pg%s-%s", srv.Version, shortHash(srv.BinDir))
	final := filepath.Join(root, name)
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("sandbox templates: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("sandbox templates: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	data := filepath.Join(final, "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		m.templates[srv.BinDir] = data
		return data, nil
	}
	_ = os.RemoveAll(final)
	tmp := final + ".tmp-" + randomHex(3)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", fmt.Errorf("sandbox templates: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := m.give(tmp); err != nil {
		return "", err
	}
	start := time.Now()
	cmd := m.command(ctx, filepath.Join(srv.BinDir, "initdb"), "-D", filepath.Join(tmp, "data"), "-U", adminRole,
		"--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("sandbox: initdb %s: %v: %s", srv.Version, err, lastLines(string(out), 3))
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("sandbox templates: %w", err)
	}
	m.opts.Log.Info(fmt.Sprintf("sandbox: made a PostgreSQL %s template in %.1fs", srv.Version, time.Since(start).Seconds()))
	m.templates[srv.BinDir] = data
	return data, nil
}

// settings are the postmaster's settings: a throw-away cluster that needs
// no durability, replication or autovacuum, reachable only over its socket.
func (m *Manager) settings(sock string) []string {
	jobs := m.opts.Jobs
	mwm := m.opts.MaintenanceWorkMem
	if mwm == "" {
		mwm = defaultMaintenanceWorkMem(jobs)
	}
	set := []string{
		"listen_addresses=",
		"unix_socket_directories=" + sock,
		"unix_socket_permissions=0700",
		"port=" + port,
		"fsync=off",
		"full_page_writes=off",
		"synchronous_commit=off",
		"wal_level=minimal",
		"max_wal_senders=0",
		"archive_mode=off",
		"autovacuum=off",
		"max_wal_size=16GB",
		"checkpoint_timeout=1h",
		"maintenance_work_mem=" + mwm,
		"max_parallel_maintenance_workers=" + strconv.Itoa(max(jobs, 2)),
		"max_connections=" + strconv.Itoa(jobs+10),
		"shared_buffers=256MB",
		// A container's small /dev/shm must not fail a parallel query.
		"dynamic_shared_memory_type=mmap",
		"jit=off",
		"log_min_messages=warning",
		"log_connections=off",
		"log_disconnections=off",
	}
	out := make([]string, 0, 2*len(set))
	for _, s := range set {
		out = append(out, "-c", s)
	}
	return out
}

// defaultMaintenanceWorkMem gives each of jobs parallel index builds an
// eighth of the machine's memory between them, from 64 MB to 2 GB each.
func defaultMaintenanceWorkMem(jobs int) string {
	total := memTotal()
	mb := int64(256)
	if total > 0 {
		mb = total / 8 / int64(max(jobs, 1)) >> 20
	}
	mb = min(max(mb, 64), 2048)
	return strconv.FormatInt(mb, 10) + "MB"
}

func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// command runs a tool as the sandbox user, in its own process group, and
// dies with lifeboat.
func (m *Manager) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = m.opts.Dir
	cmd.Env = m.childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: m.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// childEnv is the sandbox's whole environment: nothing of lifeboat's own
// (secrets, PG* variables) reaches PostgreSQL.
func (m *Manager) childEnv() []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C.UTF-8", "TZ=UTC"}
}

// give hands path to the sandbox user (no-op unless lifeboat is root).
func (m *Manager) give(path string) error {
	if m.cred == nil {
		return nil
	}
	if err := os.Chown(path, m.uid, m.gid); err != nil {
		return fmt.Errorf("sandbox: hand %s to the sandbox user: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func shortHash(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}
