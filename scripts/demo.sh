#!/usr/bin/env bash
# make demo: one command brings lifeboat up with a demo target.
#
#   scripts/demo.sh [up]   install what is missing, start (or reuse) a private
#                          PostgreSQL cluster and versitygw, create the demo_shop
#                          source, write the config, (re)start lifeboat serve,
#                          trigger a run and print its result
#   scripts/demo.sh stop   stop lifeboat, versitygw and the cluster (make demo-stop)
#
# Everything lives under .lifeboat/ (git-ignored) and is reused by the next run:
#   pg/ pg.password pg.port     the cluster (port 54329 unless taken)
#   s3/ s3.env s3.port s3.pid   versitygw's data and keys (port 9009 unless taken)
#   keys/age.key                the age identity backups are encrypted to
#   backups/                    the fs storage (local-fs)
#   demo.env                    the environment deploy/config.yaml is expanded from
#   config.yaml                 copied from deploy/config.yaml at every run
#   lifeboat.pid logs/          the server's pid and every service's log
#
# LIFEBOAT_LISTEN (default 127.0.0.1:8080) moves the server; LIFEBOAT_API_TOKEN,
# when set, is sent as a bearer token.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$LB_ROOT"

S="$LB_STATE"
PG_DATA="$S/pg"
PG_PASS_FILE="$S/pg.password"
PG_PORT_FILE="$S/pg.port"
S3_DATA="$S/s3"
S3_ENV="$S/s3.env"
S3_PORT_FILE="$S/s3.port"
S3_PID="$S/s3.pid"
LB_PID="$S/lifeboat.pid"
LOGS="$S/logs"
AGE_KEY="$S/keys/age.key"
BACKUPS="$S/backups"
CONFIG="$S/config.yaml"
ENV_FILE="$S/demo.env"
LISTEN="${LIFEBOAT_LISTEN:-127.0.0.1:8080}"
BASE_URL="http://$LISTEN"
BUCKET="lifeboat-demo"
TARGET="demo_shop"
RESTORE_DB="demo_restore" # where the printed `lifeboat restore` line restores to
RUN_TIMEOUT=300

# pg_bin prints the bin dir matching the cluster's major (newest for a new one).
pg_bin() {
	local major
	if [ -f "$PG_DATA/PG_VERSION" ]; then
		major="$(cat "$PG_DATA/PG_VERSION")"
		[ -x "/usr/lib/postgresql/$major/bin/postgres" ] ||
			lb_die "$PG_DATA is a PostgreSQL $major cluster but /usr/lib/postgresql/$major/bin is missing"
		echo "/usr/lib/postgresql/$major/bin"
	else
		lb_pg_bin_dir
	fi
}

# choose_port DEFAULT FILE prints the port in FILE if free, else DEFAULT if
# free, else a random free one, and records it in FILE.
choose_port() {
	local p=""
	if [ -f "$2" ] && lb_port_free "$(cat "$2")"; then
		p="$(cat "$2")"
	elif lb_port_free "$1"; then
		p="$1"
	else
		p="$(lb_free_port)"
		lb_log "port $1 is taken; using $p"
	fi
	echo "$p" >"$2"
	echo "$p"
}

demo_stop() {
	lb_stop_pid "$LB_PID" lifeboat
	lb_stop_pid "$S3_PID" versitygw
	if [ -f "$PG_DATA/PG_VERSION" ]; then
		lb_pg_stop "$(pg_bin)" "$PG_DATA"
	fi
	lb_log "demo stopped (state kept in $S; delete it to start from scratch)"
}

# psql_as DB ARGS... runs psql as the cluster's superuser over TCP; the
# password travels in the environment, never in argv.
psql_as() {
	local db="$1"
	shift
	PGPASSWORD="$PG_PASS" "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"
}

# api METHOD PATH prints the response body; fails unless the status is 2xx.
api() {
	local out code
	# The token reaches curl as a header on stdin, never in argv.
	out="$(printf 'Authorization: Bearer %s\n' "${LIFEBOAT_API_TOKEN:-}" |
		curl -sS -X "$1" -H 'Accept: application/json' --max-time 30 -H @- \
			-w '\n%{http_code}' "$BASE_URL$2")" || return 1
	code="${out##*$'\n'}"
	out="${out%$'\n'*}"
	case "$code" in
	2??) printf '%s\n' "$out" ;;
	*)
		lb_log "$1 $2: HTTP $code: $out"
		return 1
		;;
	esac
}

case "${1:-up}" in
up) ;;
stop)
	demo_stop
	exit 0
	;;
*) lb_die "usage: $0 [up|stop]" ;;
esac

lb_ensure_tools curl jq
lb_ensure_versitygw
[ -d cmd/server ] || lb_die "cmd/server does not exist yet: nothing to build"

mkdir -p "$S" "$LOGS" "$S/keys" "$BACKUPS"
chmod 755 "$S" "$LOGS" # the postgres user must reach pg/ and its log

# --- PostgreSQL -------------------------------------------------------------
[ -s "$PG_PASS_FILE" ] || (umask 077 && lb_random_hex 16 >"$PG_PASS_FILE")
PG_PASS="$(cat "$PG_PASS_FILE")"
if [ ! -f "$PG_DATA/PG_VERSION" ]; then
	rm -rf "$PG_DATA" # left by an interrupted first run
	lb_log "creating the demo cluster in $PG_DATA"
	lb_pg_init "$(pg_bin)" "$PG_DATA" "$PG_PASS" "max_connections = 100"
fi
PG_BIN="$(pg_bin)"
if lb_pg_running "$PG_BIN" "$PG_DATA" && [ -f "$PG_PORT_FILE" ] &&
	"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PG_PORT_FILE")"; then
	PG_PORT="$(cat "$PG_PORT_FILE")"
	lb_log "PostgreSQL already running on 127.0.0.1:$PG_PORT"
else
	lb_pg_stop "$PG_BIN" "$PG_DATA"
	PG_PORT="$(choose_port 54329 "$PG_PORT_FILE")"
	lb_log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
	# TCP only: no socket path to outgrow in a deep checkout.
	lb_pg_start "$PG_BIN" "$PG_DATA" "$PG_PORT" "" "$LOGS/postgres.log"
fi

for db in lifeboat "$TARGET" "$RESTORE_DB"; do
	if [ "$(psql_as postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
		lb_log "creating database $db"
		psql_as postgres -c "CREATE DATABASE $db"
	fi
done
if [ "$(psql_as "$TARGET" -tAc "SELECT to_regclass('public.order_totals') IS NOT NULL")" != t ]; then
	lb_log "loading deploy/demo_shop.sql into $TARGET"
	psql_as "$TARGET" -v ON_ERROR_STOP=1 -1 -f deploy/demo_shop.sql >/dev/null
fi

# --- versitygw --------------------------------------------------------------
if [ ! -s "$S3_ENV" ]; then
	(
		umask 077
		printf 'S3_ACCESS_KEY_ID=%s\nS3_SECRET_ACCESS_KEY=%s\n' \
			"LBDEMO$(lb_random_hex 7)" "$(lb_random_hex 20)" >"$S3_ENV"
	)
fi
# shellcheck source=/dev/null
. "$S3_ENV"
if lb_pid_alive "$S3_PID" versitygw && [ -f "$S3_PORT_FILE" ] &&
	curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(cat "$S3_PORT_FILE")/health"; then
	S3_PORT="$(cat "$S3_PORT_FILE")"
	lb_log "versitygw already running on 127.0.0.1:$S3_PORT"
else
	lb_stop_pid "$S3_PID" versitygw
	S3_PORT="$(choose_port 9009 "$S3_PORT_FILE")"
	lb_log "starting versitygw on 127.0.0.1:$S3_PORT (data in $S3_DATA)"
	lb_s3_start "$S3_PORT" "$S3_DATA" "$LOGS/versitygw.log" "$S3_PID" \
		"$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY"
fi
# lifeboat creates missing buckets at start-up too; doing it here as well
# keeps the demo independent of that.
lb_s3_mkbucket "http://127.0.0.1:$S3_PORT" "$BUCKET" "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY" ||
	lb_die "could not create bucket $BUCKET"

# --- key, environment, config -------------------------------------------------
if [ ! -s "$AGE_KEY" ]; then
	lb_log "generating the age identity $AGE_KEY"
	rm -f "$AGE_KEY"
	# go run's "go: downloading" lines and age-keygen's "Public key:" line go
	# to the log: the key file holds the public key too.
	(umask 077 && go run filippo.io/age/cmd/age-keygen@v1.3.2 -o "$AGE_KEY") >"$LOGS/age-keygen.log" 2>&1 ||
		{
			tail -n 20 "$LOGS/age-keygen.log" >&2
			lb_die "could not generate $AGE_KEY (log: $LOGS/age-keygen.log)"
		}
fi

url() { lb_pg_url "$PG_PASS" "$PG_PORT" "$1"; }
(
	umask 077
	rm -f "$ENV_FILE"
	{
		echo "# written by scripts/demo.sh at every run; deploy/config.yaml is expanded from it"
		printf '%s=%q\n' \
			LIFEBOAT_DATABASE_URL "$(url lifeboat)" \
			DEMO_SHOP_DATABASE_URL "$(url "$TARGET")" \
			DEMO_RESTORE_DATABASE_URL "$(url "$RESTORE_DB")" \
			LIFEBOAT_AGE_IDENTITY_FILE "$AGE_KEY" \
			LIFEBOAT_BACKUP_DIR "$BACKUPS" \
			LIFEBOAT_S3_ENDPOINT "http://127.0.0.1:$S3_PORT" \
			S3_ACCESS_KEY_ID "$S3_ACCESS_KEY_ID" \
			S3_SECRET_ACCESS_KEY "$S3_SECRET_ACCESS_KEY" \
			LIFEBOAT_LISTEN "$LISTEN" \
			LIFEBOAT_CONFIG "$CONFIG" \
			PG_BIN_DIR "$PG_BIN"
	} >"$ENV_FILE"
)
{
	echo "# copied from deploy/config.yaml by scripts/demo.sh at every run: edit that file"
	cat deploy/config.yaml
} >"$CONFIG"
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

# --- lifeboat -----------------------------------------------------------------
lb_log "building bin/lifeboat"
# The first build downloads modules: their "go: downloading" lines go to the
# log, shown only if the build fails.
go build -o bin/lifeboat ./cmd/server >"$LOGS/build.log" 2>&1 || {
	grep -v '^go: downloading' "$LOGS/build.log" | tail -n 40 >&2
	lb_die "go build failed (log: $LOGS/build.log)"
}

if lb_pid_alive "$LB_PID" lifeboat; then
	lb_log "restarting lifeboat"
fi
lb_stop_pid "$LB_PID" lifeboat
lb_port_free "${LISTEN##*:}" ||
	lb_die "$LISTEN is taken by another process; set LIFEBOAT_LISTEN=127.0.0.1:PORT"

lb_log "bin/lifeboat migrate"
bin/lifeboat migrate --config "$CONFIG"


lb_log "starting bin/lifeboat serve on $BASE_URL (log: $LOGS/lifeboat.log)"
setsid bin/lifeboat serve --config "$CONFIG" </dev/null >>"$LOGS/lifeboat.log" 2>&1 &
echo $! >"$LB_PID"
for _ in $(seq 1 120); do
	curl -fsS -o /dev/null --max-time 2 "$BASE_URL/healthz" 2>/dev/null && break
	if ! lb_pid_alive "$LB_PID" lifeboat; then
		lb_pg_tail_log "$LOGS/lifeboat.log"
		lb_die "lifeboat exited during start-up"
	fi
	sleep 0.5
done
curl -fsS -o /dev/null --max-time 2 "$BASE_URL/healthz" || {
	lb_pg_tail_log "$LOGS/lifeboat.log"
	lb_die "lifeboat does not answer $BASE_URL/healthz"
}

# The demo's API token: kept while lifeboat accepts it (a new one would sign
# the dashboard out and break saved curl lines); made anew only when the file
# is missing or the token no longer works (a deleted state database, a
# revoke). The secret is shown once, so it is kept in a file only this user
# can read, and travels to curl in a header file, never in argv.
TOKEN_FILE="$S/api-token"
token_valid() {
	[ -s "$TOKEN_FILE" ] || return 1
	local code
	code="$(printf 'Authorization: Bearer %s\n' "$(cat "$TOKEN_FILE")" |
		curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -H @- "$BASE_URL/api/v1/runs?limit=1")" || return 1
	[ "$code" = 200 ]
}
if token_valid; then
	lb_log "keeping the demo API token ($TOKEN_FILE)"
else
	lb_log "creating the demo API token ($TOKEN_FILE)"
	bin/lifeboat token revoke --config "$CONFIG" --name demo >/dev/null 2>&1 || true
	(
		umask 077
		bin/lifeboat token create --config "$CONFIG" --name demo >"$TOKEN_FILE.new" 2>"$LOGS/token.log"
	) || lb_die "could not create the demo API token (log: $LOGS/token.log)"
	mv "$TOKEN_FILE.new" "$TOKEN_FILE"
fi
LIFEBOAT_API_TOKEN="$(cat "$TOKEN_FILE")"

# --- a first run ----------------------------------------------------------------
run="$(api POST "/api/v1/targets/$TARGET/runs")" || lb_die "could not trigger a run"
id="$(jq -r '.id' <<<"$run")"
lb_log "run $id queued; waiting for it (up to ${RUN_TIMEOUT}s)"
deadline=$((SECONDS + RUN_TIMEOUT))
status=""
while :; do
	run="$(api GET "/api/v1/runs/$id")" || lb_die "could not read run $id"
	status="$(jq -r '.status' <<<"$run")"
	case "$status" in succeeded | failed | canceled) break ;; esac
	[ "$SECONDS" -lt "$deadline" ] || lb_die "run $id still $status after ${RUN_TIMEOUT}s (log: $LOGS/lifeboat.log)"
	sleep 2
done

echo
echo "lifeboat is up: $BASE_URL/  (sign in with the token in $TOKEN_FILE)"
echo "run $id of $TARGET: $status$(jq -r 'if .error then " — " + .error else "" end' <<<"$run")"
echo "stages:"
jq -r '.stages[]? | "  \(.name)\t\(.status)\(if .error then "\t" + .error else "" end)"' <<<"$run"
echo "checks:"
jq -r '.checks[]? | "  \(if .passed then "pass" else "FAIL" end)  \(.name): expected \(.expected), observed \(.observed)"' <<<"$run"
echo "artifact:"
jq -r 'if .artifact then .artifact | "  key:    \(.key)\n  stored: \(.stored_bytes) bytes (raw \(.raw_bytes // "?"))\n  sha256: \(.sha256)" else "  (none)" end' <<<"$run"
echo
key="$(jq -r '.artifact.key // empty' <<<"$run")"
storage="$(jq -r '.artifact.storage // empty' <<<"$run")"
# Every line below works pasted as is, from $LB_ROOT: the CLI reads its
# config and secrets from demo.env, loaded in a subshell so the secrets do
# not stay in your shell; the token reaches curl from its file.
env_cmd="set -a; . ${ENV_FILE#"$LB_ROOT"/}; set +a;"
auth="-H \"Authorization: Bearer \$(cat ${TOKEN_FILE#"$LB_ROOT"/})\""
echo "paste these from $LB_ROOT:"
echo "  API:      curl $auth $BASE_URL/api/v1/runs/$id"
echo "  log:      curl $auth $BASE_URL/api/v1/runs/$id/logs      (server log: ${LOGS#"$LB_ROOT"/}/lifeboat.log)"
echo "  token:    ($env_cmd bin/lifeboat token create --name NAME)"
echo "  run:      ($env_cmd bin/lifeboat run --target $TARGET)"
if [ -n "$key" ]; then
	echo "  restore:  ($env_cmd bin/lifeboat restore --storage $storage --object $key --into \"\$DEMO_RESTORE_DATABASE_URL\" --clean)"
fi
echo "  psql:     ($env_cmd psql \"\$DEMO_SHOP_DATABASE_URL\")"
echo "stop:     make demo-stop"
[ "$status" = succeeded ]
