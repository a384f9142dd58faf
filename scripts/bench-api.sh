#!/usr/bin/env bash
# make bench-api: the REST API's list and log pages over a big history
# (issue 3). Starts its own PostgreSQL in a temp folder (like the test
# command) and stops it afterwards; seeds a state database with lifeboat's
# migrations and cmd/benchapi (100 000 runs over 10 targets spanning a year,
# 5 000 000 log lines); starts `lifeboat serve --workers=false` over it with
# a token from `lifeboat token create`; then measures, with 50 concurrent
# clients: the first page of GET /api/v1/runs, a page 1000 pages deep, a
# target+status filter, a target's deep page and a log page deep inside a
# long log. Prints req/s, p50/p90/p99, the deep/first ratio, the database
# time per request (pg_stat_statements) and EXPLAIN summaries.
#
#   BENCH_RUNS=100000        runs in the history
#   BENCH_LOG_LINES=5000000  log lines in the history
#   BENCH_TARGETS=10         targets
#   ARGS='--duration 20s --rounds 3 --clients 50 --depth 1000'
#                            passed to benchapi load (see benchapi load -h)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$LB_ROOT"

RUNS="${BENCH_RUNS:-100000}"
LOG_LINES="${BENCH_LOG_LINES:-5000000}"
TARGETS="${BENCH_TARGETS:-10}"

lb_ensure_tools curl
PG_BIN="$(lb_pg_bin_dir)"

TMP="$(mktemp -d /tmp/lifeboat-bench-api.XXXXXX)"
chmod 755 "$TMP" # the postgres user must reach the cluster inside it
PG_DATA="$TMP/pg/data"
PG_LOG="$TMP/pg/postgres.log"
LB_LOG="$TMP/lifeboat.log"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -ne 0 ]; then
		lb_pg_tail_log "$LB_LOG"
		lb_pg_tail_log "$PG_LOG" 20
	fi
	lb_stop_pid "$TMP/lifeboat.pid" lifeboat
	lb_pg_stop "$PG_BIN" "$PG_DATA"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL ---------------------------------------------------------------
lb_pick_port PG_PORT
lb_pick_port LB_PORT
PG_PASS="$(lb_random_hex 16)"
lb_log "PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
# wal_level = minimal: the seed truncates and fills its tables in one
# transaction, which then writes no WAL. pg_stat_statements: what each
# page's statements cost. Durability settings only speed up the seeding;
# the measured requests only read.
lb_pg_init "$PG_BIN" "$PG_DATA" "$PG_PASS" \
	"fsync = off" "synchronous_commit = off" "full_page_writes = off" \
	"wal_level = minimal" "max_wal_senders = 0" "max_wal_size = 4GB" "checkpoint_timeout = 30min" \
	"maintenance_work_mem = 256MB" "shared_buffers = 256MB" \
	"shared_preload_libraries = 'pg_stat_statements'"
lb_pg_start "$PG_BIN" "$PG_DATA" "$PG_PORT" "$TMP/pg/run" "$PG_LOG"
export PGPASSWORD="$PG_PASS" PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres
"$PG_BIN/createdb" lifeboat
DB_URL="$(lb_pg_url "$PG_PASS" "$PG_PORT" lifeboat)"

# --- build and seed -----------------------------------------------------------
lb_log "building lifeboat and benchapi"
go build -o "$TMP/lifeboat" ./cmd/server
go build -o "$TMP/benchapi" ./cmd/benchapi
lb_log "seeding $RUNS runs over $TARGETS targets and $LOG_LINES log lines"
targets="$("$TMP/benchapi" seed --db "$DB_URL" --runs "$RUNS" --log-lines "$LOG_LINES" --targets "$TARGETS")"

# --- lifeboat serve -------------------------------------------------------------
go run filippo.io/age/cmd/age-keygen@v1.3.2 -o "$TMP/age.key" 2>/dev/null
mkdir -p "$TMP/backups"
{
	echo "database_url: $DB_URL"
	echo "restore:"
	echo "  database_url: $(lb_pg_url "$PG_PASS" "$PG_PORT" postgres)"
	echo "encryption:"
	echo "  age_identity_file: $TMP/age.key"
	echo "storages:"
	echo "  - {name: main, kind: fs, path: $TMP/backups}"
	echo "targets:"
	while IFS= read -r t; do
		echo "  - name: $t"
		echo "    database_url: $(lb_pg_url "$PG_PASS" "$PG_PORT" "$t")"
		echo "    schedule: \"0 * * * *\""
		echo "    storage: main"
	done <<<"$targets"
} >"$TMP/config.yaml"

# The token goes from stdout to the environment, never into argv.
LIFEBOAT_BENCH_TOKEN="$("$TMP/lifeboat" token create --config "$TMP/config.yaml" --name bench-api 2>>"$LB_LOG")"
export LIFEBOAT_BENCH_TOKEN
setsid "$TMP/lifeboat" serve --config "$TMP/config.yaml" --workers=false --listen "127.0.0.1:$LB_PORT" \
	</dev/null >>"$LB_LOG" 2>&1 &
echo $! >"$TMP/lifeboat.pid"
for _ in $(seq 1 120); do
	curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$LB_PORT/healthz" 2>/dev/null && break
	lb_pid_alive "$TMP/lifeboat.pid" lifeboat || lb_die "lifeboat exited during start-up"
	sleep 0.5
done
curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$LB_PORT/healthz" || lb_die "lifeboat did not answer /healthz"

# --- load -----------------------------------------------------------------------
lb_log "measuring (lifeboat serve --workers=false on 127.0.0.1:$LB_PORT, pid $(cat "$TMP/lifeboat.pid"))"
"$TMP/benchapi" load --url "http://127.0.0.1:$LB_PORT" --db "$DB_URL" "$@"
rss_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$(cat "$TMP/lifeboat.pid")/status")"
printf '\nlifeboat serve peak RSS: %s MB\n' "$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')"
