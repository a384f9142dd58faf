#!/usr/bin/env bash
# make bench: the whole pipeline on a ~1 GB source against local S3, next to
# its floors. Starts its own PostgreSQL and versitygw in a temp folder (like
# the test command) and stops them afterwards. Prints, from the same run:
# the dump floor (pg_dump -Fc -Z0 > /dev/null); the restore floors (pg_restore
# -j N from a local pg_dump -Fc -Z0 file) into a default-configured server
# (what a person restoring by hand pays) and into the bench's tuned server;
# the sandbox's start time; wall time per stage; end-to-end time, its ratios
# to the floors, and lifeboat's peak RSS. Then the same source again with two
# S3 copies (a second versitygw standing in for a second site): its
# end-to-end time against the one-copy run's.
#
#   BENCH_SCALE=60     pgbench scale (60 ≈ 900 MB)
#   BENCH_TEXT_ROWS=150000  rows of ~1 KB text in a second table
#   BENCH_TIMEOUT=1800 seconds to wait for the run
#   BENCH_JOBS=2       pg_restore -j, for the floors and lifeboat's restore.jobs
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$LB_ROOT"

SCALE="${BENCH_SCALE:-60}"
TEXT_ROWS="${BENCH_TEXT_ROWS:-150000}"
TIMEOUT="${BENCH_TIMEOUT:-1800}"
JOBS="${BENCH_JOBS:-2}"
SRC=bench_src

lb_ensure_tools curl jq
lb_ensure_versitygw
[ -d cmd/server ] || lb_die "cmd/server does not exist yet: nothing to benchmark"
PG_BIN="$(lb_pg_bin_dir)"
export PG_BIN_DIR="$PG_BIN"

TMP="$(mktemp -d /tmp/lifeboat-bench.XXXXXX)"
chmod 755 "$TMP"
PG_DATA="$TMP/pg/data"
PG_LOG="$TMP/pg/postgres.log"
S3_LOG="$TMP/s3/versitygw.log"
LB_LOG="$TMP/lifeboat.log"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -ne 0 ]; then
		lb_pg_tail_log "$LB_LOG"
		lb_pg_tail_log "$PG_LOG" 20
		lb_pg_tail_log "$S3_LOG" 20
	fi
	lb_stop_pid "$TMP/lifeboat.pid" lifeboat
	[ -f "$TMP/pgdef/data/postmaster.pid" ] && lb_pg_stop "$PG_BIN" "$TMP/pgdef/data"
	lb_stop_pid "$TMP/s3/pid" versitygw
	lb_stop_pid "$TMP/s3b/pid" versitygw
	lb_pg_stop "$PG_BIN" "$PG_DATA"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# iso_secs RFC3339 prints seconds since the epoch (with fractions).
iso_secs() { date -d "$1" +%s.%N; }

# --- services ---------------------------------------------------------------
PG_PORT="" S3_PORT="" LB_PORT=""
lb_pick_port PG_PORT
lb_pick_port S3_PORT
lb_pick_port LB_PORT
PG_PASS="$(lb_random_hex 16)"
S3_ACCESS="LBBENCH$(lb_random_hex 6)"
S3_SECRET="$(lb_random_hex 20)"

lb_log "PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
lb_pg_init "$PG_BIN" "$PG_DATA" "$PG_PASS" \
	"fsync = off" "synchronous_commit = off" "full_page_writes = off" \
	"max_wal_size = 4GB" "checkpoint_timeout = 30min" "maintenance_work_mem = 256MB" \
	"shared_buffers = 256MB"
lb_pg_start "$PG_BIN" "$PG_DATA" "$PG_PORT" "$TMP/pg/run" "$PG_LOG"
mkdir -p "$TMP/s3"
lb_s3_start "$S3_PORT" "$TMP/s3/data" "$S3_LOG" "$TMP/s3/pid" "$S3_ACCESS" "$S3_SECRET"
lb_s3_mkbucket "http://127.0.0.1:$S3_PORT" bench "$S3_ACCESS" "$S3_SECRET" || lb_die "could not create bucket"
# A second S3 server: the second site of the two-copy run.
lb_pick_port S3B_PORT
mkdir -p "$TMP/s3b"
lb_s3_start "$S3B_PORT" "$TMP/s3b/data" "$TMP/s3b/versitygw.log" "$TMP/s3b/pid" "$S3_ACCESS" "$S3_SECRET"
lb_s3_mkbucket "http://127.0.0.1:$S3B_PORT" bench "$S3_ACCESS" "$S3_SECRET" || lb_die "could not create the second bucket"

export PGPASSWORD="$PG_PASS" PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres
psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# --- source -----------------------------------------------------------------
lb_log "generating $SRC: pgbench -i -s $SCALE and $TEXT_ROWS rows of text"
"$PG_BIN/createdb" "$SRC"
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$SRC" >"$TMP/pgbench.log" 2>&1 || {
	cat "$TMP/pgbench.log" >&2
	lb_die "pgbench -i failed"
}
psql_q -d "$SRC" <<SQL
CREATE TABLE documents (
    id         bigint PRIMARY KEY,
    created_at timestamptz NOT NULL,
    body       text NOT NULL
);
INSERT INTO documents
SELECT g, timestamptz '2025-01-01' + g * interval '1 minute',
       (SELECT string_agg(md5(g::text || ':' || i), ' ') FROM generate_series(1, 28) AS i)
FROM generate_series(1, $TEXT_ROWS) AS g;
VACUUM ANALYZE;
SQL
raw_size="$(psql_q -d "$SRC" -tAc "SELECT pg_size_pretty(pg_database_size('$SRC'))")"
lb_log "$SRC is $raw_size"

# --- floors -----------------------------------------------------------------
lb_log "dump floor: pg_dump -Fc -Z0 > /dev/null"
t0="$(now)"
"$PG_BIN/pg_dump" -Fc -Z0 -d "$SRC" >/dev/null
dump_floor="$(secs "$t0" "$(now)")"

"$PG_BIN/pg_dump" -Fc -Z0 -d "$SRC" -f "$TMP/floor.dump"
dump_file_size="$(du -h "$TMP/floor.dump" | cut -f1)"

# A default-configured server (initdb's settings only): a person's manual
# restore. Started for the floor and stopped right after.
lb_pick_port PGDEF_PORT
lb_pg_init "$PG_BIN" "$TMP/pgdef/data" "$PG_PASS"
lb_pg_start "$PG_BIN" "$TMP/pgdef/data" "$PGDEF_PORT" "$TMP/pgdef/run" "$TMP/pgdef/postgres.log"
lb_log "restore floor, default server: pg_restore -j $JOBS from a local pg_dump -Fc -Z0 file"
PGPORT="$PGDEF_PORT" "$PG_BIN/createdb" bench_floor
t0="$(now)"
PGPORT="$PGDEF_PORT" "$PG_BIN/pg_restore" -j "$JOBS" --no-owner --no-privileges --exit-on-error -d bench_floor "$TMP/floor.dump"
restore_floor_default="$(secs "$t0" "$(now)")"
lb_pg_stop "$PG_BIN" "$TMP/pgdef/data"
rm -rf "$TMP/pgdef"

lb_log "restore floor, tuned server: pg_restore -j $JOBS from a local pg_dump -Fc -Z0 file"
"$PG_BIN/createdb" bench_floor
t0="$(now)"
"$PG_BIN/pg_restore" -j "$JOBS" --no-owner --no-privileges --exit-on-error -d bench_floor "$TMP/floor.dump"
restore_floor="$(secs "$t0" "$(now)")"
"$PG_BIN/dropdb" bench_floor
rm -f "$TMP/floor.dump"

# --- the pipeline -------------------------------------------------------------
lb_log "building bin/lifeboat"
go build -o bin/lifeboat ./cmd/server
go run filippo.io/age/cmd/age-keygen@v1.3.2 -o "$TMP/age.key" 2>/dev/null
mkdir -p "$TMP/spool"
mkdir -m 711 "$TMP/sandbox" # the postgres user must reach it when this runs as root
"$PG_BIN/createdb" lifeboat
cat >"$TMP/config.yaml" <<YAML
database_url: $(lb_pg_url "$PG_PASS" "$PG_PORT" lifeboat)
restore:
  sandbox_dir: $TMP/sandbox
  spool_dir: $TMP/spool
  jobs: $JOBS
encryption:
  age_identity_file: $TMP/age.key
storages:
  - name: s3
    kind: s3
    endpoint: http://127.0.0.1:$S3_PORT
    region: us-east-1
    bucket: bench
    prefix: bench/
    access_key_id: \${S3_ACCESS_KEY_ID}
    secret_access_key: \${S3_SECRET_ACCESS_KEY}
  - name: s3b
    kind: s3
    endpoint: http://127.0.0.1:$S3B_PORT
    region: us-east-1
    bucket: bench
    prefix: bench/
    access_key_id: \${S3_ACCESS_KEY_ID}
    secret_access_key: \${S3_SECRET_ACCESS_KEY}
outbound:
  allow: [127.0.0.0/8] # the local versitygw
targets:
  - name: $SRC
    database_url: $(lb_pg_url "$PG_PASS" "$PG_PORT" "$SRC")
    schedule: "0 3 * * *"
    storage: s3
  - name: ${SRC}_2copies
    database_url: $(lb_pg_url "$PG_PASS" "$PG_PORT" "$SRC")
    schedule: "0 3 * * *"
    storages: [s3, s3b]
YAML
export S3_ACCESS_KEY_ID="$S3_ACCESS" S3_SECRET_ACCESS_KEY="$S3_SECRET"
export LIFEBOAT_LISTEN="127.0.0.1:$LB_PORT"
base="http://$LIFEBOAT_LISTEN"

bin/lifeboat migrate --config "$TMP/config.yaml" >>"$LB_LOG" 2>&1
# The API needs a token; curl reads it from a file, so it is in no argv.
(
	umask 077
	printf 'Authorization: Bearer %s\n' "$(bin/lifeboat token create --config "$TMP/config.yaml" --name bench 2>>"$LB_LOG")" \
		>"$TMP/auth-header"
)
setsid bin/lifeboat serve --config "$TMP/config.yaml" </dev/null >>"$LB_LOG" 2>&1 &
echo $! >"$TMP/lifeboat.pid"
lb_pid="$(cat "$TMP/lifeboat.pid")"
for _ in $(seq 1 120); do
	curl -fsS -o /dev/null --max-time 2 "$base/healthz" 2>/dev/null && break
	lb_pid_alive "$TMP/lifeboat.pid" lifeboat || lb_die "lifeboat exited during start-up"
	sleep 0.5
done

# run_target NAME runs NAME's pipeline through the API; sets run, id,
# status and e2e (seconds).
run_target() {
	lb_log "running the pipeline of $1"
	local t0 deadline
	t0="$(now)"
	run="$(curl -fsS -H @"$TMP/auth-header" -X POST "$base/api/v1/targets/$1/runs")" || lb_die "could not trigger a run of $1"
	id="$(jq -r .id <<<"$run")"
	deadline=$((SECONDS + TIMEOUT))
	while :; do
		run="$(curl -fsS -H @"$TMP/auth-header" "$base/api/v1/runs/$id")" || lb_die "could not read run $id"
		status="$(jq -r .status <<<"$run")"
		case "$status" in succeeded | failed | canceled) break ;; esac
		[ "$SECONDS" -lt "$deadline" ] || lb_die "run $id still $status after ${TIMEOUT}s"
		sleep 0.5
	done
	e2e="$(secs "$t0" "$(now)")"
}
run_target "${SRC}_2copies"
run2="$run" status2="$status" e2e2="$e2e"
run_target "$SRC"
peak_rss_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$lb_pid/status")"

# --- report -------------------------------------------------------------------
echo
echo "source $SRC: $raw_size (pgbench scale $SCALE + $TEXT_ROWS text rows); pg_dump -Fc -Z0 file: $dump_file_size"
echo "run $id: $status$(jq -r 'if .error then " — " + .error else "" end' <<<"$run")"
jq -r '.stages[]? | [.name, .status, (.started_at // ""), (.finished_at // "")] | @tsv' <<<"$run" |
	while IFS=$'\t' read -r name st started finished; do
		if [ -n "$started" ] && [ -n "$finished" ]; then
			printf '  %-8s %-10s %6ss\n' "$name" "$st" "$(secs "$(iso_secs "$started")" "$(iso_secs "$finished")")"
		else
			printf '  %-8s %-10s %6s\n' "$name" "$st" "-"
		fi
	done
jq -r '.stages[]? | select(.metrics) | "  \(.name) metrics: \(.metrics | tostring)"' <<<"$run"
jq -r 'if .artifact then .artifact | "  artifact: \(.stored_bytes) bytes stored, \(.raw_bytes // "?") raw" else empty end' <<<"$run"
floors="$(awk -v a="$dump_floor" -v b="$restore_floor" 'BEGIN { printf "%.1f", a + b }')"
floors_default="$(awk -v a="$dump_floor" -v b="$restore_floor_default" 'BEGIN { printf "%.1f", a + b }')"
ratio="$(awk -v e="$e2e" -v f="$floors" 'BEGIN { printf "%.2f", e / f }')"
ratio_default="$(awk -v e="$e2e" -v f="$floors_default" 'BEGIN { printf "%.2f", e / f }')"
rss_mb="$(awk -v k="$peak_rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')"
sandbox_start="$(jq -r '[.stages[]? | select(.name == "restore") | .metrics.sandbox_start_seconds // empty][0] // "-"' <<<"$run")"
printf '%-36s %8ss\n' "end-to-end (API)" "$e2e" \
	"dump floor" "$dump_floor" \
	"restore floor, default server (-j $JOBS)" "$restore_floor_default" \
	"restore floor, tuned server (-j $JOBS)" "$restore_floor" \
	"sandbox start" "$sandbox_start" \
	"dump + default restore floors" "$floors_default" \
	"dump + tuned restore floors" "$floors"
printf '%-36s %8s   (aim <= 1.00)\n' "end-to-end / default floors" "$ratio_default"
printf '%-36s %8s   (aim <= 1.15)\n' "end-to-end / tuned floors" "$ratio"
printf '%-36s %6s MB   (aim <= 200)\n' "lifeboat serve peak RSS" "$rss_mb"
echo "two S3 copies: run $(jq -r .id <<<"$run2"): $status2"
jq -r '.stages[]? | [.name, .status, (.started_at // ""), (.finished_at // "")] | @tsv' <<<"$run2" |
	while IFS=$'\t' read -r name st started finished; do
		[ -n "$started" ] && [ -n "$finished" ] &&
			printf '  %-8s %-10s %6ss\n' "$name" "$st" "$(secs "$(iso_secs "$started")" "$(iso_secs "$finished")")"
	done
jq -r '.artifact.copies[]? | "  copy \(.storage): \(.status)\(if .proven_by_run then ", proven by run \(.proven_by_run)" else "" end)"' <<<"$run2"
printf '%-36s %8ss\n' "end-to-end, two S3 copies" "$e2e2"
printf '%-36s %8s   (aim <= 1.15)\n' "two copies / one copy" "$(awk -v a="$e2e2" -v b="$e2e" 'BEGIN { printf "%.2f", a / b }')"
[ "$status" = succeeded ] || lb_die "the run did not succeed"
[ "$status2" = succeeded ] || lb_die "the two-copy run did not succeed"
