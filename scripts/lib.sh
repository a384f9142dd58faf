# shellcheck shell=bash
# Shared helpers for scripts/test.sh, scripts/demo.sh and scripts/bench.sh:
# install missing tools, pick free loopback ports, start and stop a private
# PostgreSQL cluster and versitygw (the S3-compatible server).
# Source it; every name it defines starts with lb_ / LB_.

LB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LB_STATE="$LB_ROOT/.lifeboat"
LB_VERSITYGW_VERSION="v1.8.0"
LB_VERSITYGW="$LB_STATE/bin/versitygw"
LB_USED_PORTS=" "
LB_APT_UPDATED=""

lb_log() { printf '%s lifeboat: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
lb_die() { lb_log "error: $*"; exit 1; }

# lb_as_root CMD... runs CMD as root (directly, or through sudo).
lb_as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		lb_die "need root to run: $*"
	fi
}

# lb_apt_install PKG... installs Debian packages, running apt-get update once.
# apt's output goes to a log file, shown only when it fails.
lb_apt_install() {
	[ "$#" -gt 0 ] || return 0
	command -v apt-get >/dev/null 2>&1 || lb_die "apt-get not found; install by hand: $*"
	lb_log "installing Debian packages: $*"
	local log
	log="$(mktemp "${TMPDIR:-/tmp}/lifeboat-apt.XXXXXX")"
	if [ -z "$LB_APT_UPDATED" ]; then
		if ! lb_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1; then
			cat "$log" >&2
			rm -f "$log"
			lb_die "apt-get update failed"
		fi
		LB_APT_UPDATED=1
	fi
	if ! lb_as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		lb_die "apt-get install $* failed"
	fi
	rm -f "$log"
}

# lb_pg_bin_dir prints the newest /usr/lib/postgresql/N/bin holding a server.
lb_pg_bin_dir() {
	local d best=""
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && best="$d"
	done
	[ -n "$best" ] || return 1
	printf '%s\n' "$best"
}

# lb_ensure_go puts Go on PATH (CI may not have /usr/local/go/bin there).
lb_ensure_go() {
	# go needs HOME (or GOCACHE) for its caches; some CI environments lack it.
	if [ -z "${HOME:-}" ]; then
		HOME="$(getent passwd "$(id -u)" | cut -d: -f6)"
		export HOME
	fi
	command -v go >/dev/null 2>&1 && return 0
	[ -x /usr/local/go/bin/go ] || lb_die "go not found (expected on PATH or at /usr/local/go/bin/go)"
	export PATH="/usr/local/go/bin:$PATH"
}

# lb_ensure_tools [CMD...] installs what is missing among PostgreSQL (server,
# client, contrib), CA certificates and the commands named (each from the
# Debian package of the same name: openssl, curl, docker-compose, jq,
# chromium).
lb_ensure_tools() {
	local need=() c
	if ! lb_pg_bin_dir >/dev/null || ! command -v psql >/dev/null 2>&1; then
		need+=(postgresql postgresql-contrib)
	fi
	[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || need+=("$c")
	done
	if [ "${#need[@]}" -gt 0 ]; then
		lb_apt_install "${need[@]}"
	fi
	lb_pg_bin_dir >/dev/null || lb_die "no PostgreSQL server found in /usr/lib/postgresql/*/bin"
	lb_ensure_go
}

# lb_ensure_versitygw builds versitygw into .lifeboat/bin once. A lock keeps
# two scripts started together from building it twice.
lb_ensure_versitygw() {
	[ -x "$LB_VERSITYGW" ] && return 0
	lb_ensure_go
	mkdir -p "$LB_STATE/bin"
	(
		flock 9
		if [ ! -x "$LB_VERSITYGW" ]; then
			lb_log "building versitygw $LB_VERSITYGW_VERSION (about 2 minutes, once)"
			# "go: downloading" lines go to a log, shown if the build fails.
			GOBIN="$LB_STATE/bin" go install "github.com/versity/versitygw/cmd/versitygw@$LB_VERSITYGW_VERSION" \
				>"$LB_STATE/bin/versitygw-build.log" 2>&1 || cat "$LB_STATE/bin/versitygw-build.log" >&2
		fi
	) 9>"$LB_STATE/bin/.versitygw.lock"
	[ -x "$LB_VERSITYGW" ] || lb_die "versitygw build failed"
}

# lb_port_free PORT succeeds when nothing accepts connections on 127.0.0.1:PORT.
lb_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lb_free_port prints a free loopback port in 20000-60000 not handed out
# before by this shell. Call it as `p=$(lb_free_port)` then `lb_claim_port $p`,
# or use lb_pick_port VAR, which does both.
lb_free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12700)) # below the kernel's ephemeral range (32768+), so no outgoing connection holds it
		case "$LB_USED_PORTS" in *" $p "*) continue ;; esac
		if lb_port_free "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
	done
	lb_die "no free port found"
}

lb_claim_port() { LB_USED_PORTS="$LB_USED_PORTS$1 "; }

# lb_pick_port VAR sets VAR to a fresh free port.
lb_pick_port() {
	local _lb_port
	_lb_port="$(lb_free_port)"
	lb_claim_port "$_lb_port"
	printf -v "$1" '%s' "$_lb_port"
}

# lb_random_hex N prints N random bytes as hex.
lb_random_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# --- PostgreSQL -------------------------------------------------------------
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# "postgres" system user (created by Debian's package) and its tools run as it.

lb_pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# lb_pg_give DIR|FILE... hands paths to the cluster's owner (no-op unless root).
lb_pg_give() {
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || lb_die "user postgres missing (Debian's postgresql package creates it)"
		chown -R postgres:postgres "$@"
	fi
}

# lb_pg_init BINDIR DATADIR PASSWORD [SETTING...] creates a cluster whose
# superuser "postgres" has PASSWORD: scram over TCP, peer over the socket.
# SETTINGs (name=value) are appended to postgresql.conf, followed by an
# include of lifeboat.conf, which lb_pg_start rewrites (port, socket dir).
lb_pg_init() {
	local bin="$1" data="$2" pass="$3" pwfile s
	shift 3
	mkdir -p "$data"
	chmod 700 "$data"
	pwfile="$(dirname "$data")/.pgpass.init.$$"
	(umask 077 && printf '%s\n' "$pass" >"$pwfile")
	lb_pg_give "$data" "$pwfile"
	if [ "$(id -u)" = 0 ]; then
		lb_pg_as_owner test -w "$data" ||
			lb_die "user postgres cannot reach $data: make its parent folders traversable (chmod o+x)"
	fi
	lb_pg_as_owner "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
		--auth-host=scram-sha-256 --auth-local=peer \
		-E UTF8 --no-locale >"$data.initdb.log" 2>&1 || {
		rm -f "$pwfile"
		cat "$data.initdb.log" >&2
		lb_die "initdb failed"
	}
	rm -f "$pwfile" "$data.initdb.log"
	{
		echo
		echo "# added by lifeboat's scripts/lib.sh"
		echo "listen_addresses = '127.0.0.1'"
		for s in "$@"; do echo "$s"; done
		echo "include_if_exists = 'lifeboat.conf'"
	} >>"$data/postgresql.conf"
}

# lb_pg_start BINDIR DATADIR PORT SOCKETDIR LOGFILE starts the cluster and
# waits until pg_isready answers. SOCKETDIR may be empty (TCP only).
lb_pg_start() {
	local bin="$1" data="$2" port="$3" sock="$4" log="$5"
	{
		echo "# written by lifeboat's scripts/lib.sh at each start"
		echo "port = $port"
		echo "unix_socket_directories = '${sock//\'/\'\'}'"
	} >"$data/lifeboat.conf"
	[ -z "$sock" ] || mkdir -p "$sock"
	touch "$log"
	lb_pg_give "$data/lifeboat.conf" "$log" ${sock:+"$sock"}
	lb_pg_as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 120 start >/dev/null || {
		lb_pg_tail_log "$log"
		lb_die "PostgreSQL did not start"
	}
	for _ in $(seq 1 60); do
		"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 && return 0
		sleep 0.5
	done
	lb_pg_tail_log "$log"
	lb_die "PostgreSQL on port $port does not answer pg_isready"
}

# lb_pg_running BINDIR DATADIR succeeds when the cluster's postmaster runs.
lb_pg_running() {
	[ -f "$2/postmaster.pid" ] || return 1
	lb_pg_as_owner "$1/pg_ctl" -D "$2" status >/dev/null 2>&1
}

# lb_pg_stop BINDIR DATADIR stops the cluster (fast, then immediate, then kill).
lb_pg_stop() {
	local bin="$1" data="$2" pid
	[ -f "$data/postmaster.pid" ] || return 0
	lb_pg_as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 && return 0
	lb_pg_as_owner "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1 && return 0
	pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)"
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		lb_log "killing postmaster $pid"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

lb_pg_tail_log() {
	[ -f "$1" ] || return 0
	echo "----- last lines of $1 -----" >&2
	tail -n "${2:-40}" "$1" >&2 || true
}

# lb_pg_url PASSWORD PORT DB prints a superuser URL over TCP.
lb_pg_url() {
	printf 'postgres://postgres:%s@127.0.0.1:%s/%s?sslmode=disable\n' "$1" "$2" "$3"
}

# --- versitygw --------------------------------------------------------------

# lb_make_cert DIR writes DIR/cert.pem and DIR/key.pem: a self-signed
# certificate for 127.0.0.1 and localhost (the cert is its own CA file).
lb_make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-days 30 -subj "/CN=lifeboat test S3" \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		-keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1 ||
		lb_die "openssl could not make a certificate"
	chmod 600 "$1/key.pem"
}

# lb_s3_start PORT DATADIR LOGFILE PIDFILE ACCESS SECRET [CERT KEY] starts
# versitygw (posix backend over DATADIR) in its own session, writes its pid,
# and waits for GET /health. With CERT and KEY it serves HTTPS.
lb_s3_start() {
	local port="$1" data="$2" log="$3" pidfile="$4" access="$5" secret="$6"
	local cert="${7:-}" key="${8:-}" pid scheme=http curlca=()
	local tls=()
	if [ -n "$cert" ]; then
		tls=(--cert "$cert" --key "$key")
		scheme=https
		curlca=(--cacert "$cert")
	fi
	mkdir -p "$data"
	# Keys go through the environment, never argv (visible in ps).
	ROOT_ACCESS_KEY="$access" ROOT_SECRET_KEY="$secret" \
		setsid "$LB_VERSITYGW" --port "127.0.0.1:$port" "${tls[@]}" \
		--health /health -q posix "$data" </dev/null >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$pidfile"
	for _ in $(seq 1 120); do
		if curl -fsS -o /dev/null --max-time 2 "${curlca[@]}" "$scheme://127.0.0.1:$port/health" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	lb_pg_tail_log "$log"
	lb_die "versitygw on port $port did not become healthy"
}

# lb_pid_alive PIDFILE NAME succeeds when PIDFILE names a live process
# whose command is NAME.
lb_pid_alive() {
	local pid
	[ -f "$1" ] || return 1
	pid="$(cat "$1" 2>/dev/null)"
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

# lb_stop_pid PIDFILE NAME stops the process in PIDFILE (TERM, then KILL
# after 10 s) if it is still NAME, and removes PIDFILE.
lb_stop_pid() {
	local pidfile="$1" name="$2" pid
	if lb_pid_alive "$pidfile" "$name"; then
		pid="$(cat "$pidfile")"
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		if kill -0 "$pid" 2>/dev/null; then
			lb_log "$name ($pid) ignored SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pidfile"
}

# lb_s3_mkbucket ENDPOINT BUCKET ACCESS SECRET [CAFILE] creates a bucket
# through the S3 API (SigV4-signed by curl); an existing bucket is fine.
lb_s3_mkbucket() {
	local endpoint="$1" bucket="$2" access="$3" secret="$4" ca="${5:-}" code
	# The keys reach curl on stdin (-K -), not argv.
	code="$(printf 'user = "%s:%s"\n' "$access" "$secret" |
		curl -sS -K - -o /dev/null -w '%{http_code}' --max-time 10 ${ca:+--cacert "$ca"} \
			--aws-sigv4 "aws:amz:us-east-1:s3" \
			-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
			-X PUT "$endpoint/$bucket")" || return 1
	case "$code" in
	200 | 409) return 0 ;; # 409: BucketAlreadyOwnedByYou
	*)
		lb_log "creating bucket $bucket at $endpoint: HTTP $code"
		return 1
		;;
	esac
}
