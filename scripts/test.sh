#!/usr/bin/env bash
# The README's test command (make test; .ci/run calls it).
#
# Installs what is missing (Chromium for the browser tests among it), starts a
# private PostgreSQL cluster and versitygw (plain HTTP and TLS) on free
# loopback ports in a temp folder, exports
# LIFEBOAT_TEST_*, runs gofmt, go vet, staticcheck, the OpenAPI lint, the
# generated-code checks, the compose file check and go test, and always stops
# everything it started.
#
#   scripts/test.sh                          everything, as CI runs it
#   scripts/test.sh -run TestX ./internal/blob/
#                                            only go test, with these args
#   scripts/test.sh --shell                  services + an interactive shell
#                                            with the environment set (make env)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$LB_ROOT"

shell_mode=""
if [ "${1:-}" = "--shell" ]; then
	shell_mode=1
	shift
fi

# chromium: the dashboard's browser tests drive Debian's Chromium headless.
lb_ensure_tools openssl curl docker-compose chromium
lb_ensure_versitygw
PG_BIN="$(lb_pg_bin_dir)"

# In /tmp, not $TMPDIR: the postgres user must reach it, and the socket
# path must stay short.
TMP="$(mktemp -d /tmp/lifeboat-test.XXXXXX)"
chmod 755 "$TMP" # the postgres user must reach the cluster inside it
PG_DATA="$TMP/pg/data"
PG_LOG="$TMP/pg/postgres.log"
S3_LOG="$TMP/s3/versitygw-http.log"
S3_TLS_LOG="$TMP/s3/versitygw-tls.log"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -ne 0 ]; then
		lb_pg_tail_log "$PG_LOG"
		lb_pg_tail_log "$S3_LOG" 20
		lb_pg_tail_log "$S3_TLS_LOG" 20
	fi
	# Sandboxes die with the test process that started them (parent-death
	# signal); any a crashed test left are killed before their folder goes.
	find "$TMP/sandbox" -name postmaster.pid 2>/dev/null | while read -r f; do
		kill -KILL "-$(head -n1 "$f")" 2>/dev/null || true
	done
	lb_stop_pid "$TMP/s3/http.pid" versitygw
	lb_stop_pid "$TMP/s3/tls.pid" versitygw
	lb_pg_stop "$PG_BIN" "$PG_DATA"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- services ---------------------------------------------------------------
lb_pick_port PG_PORT
lb_pick_port S3_PORT
lb_pick_port S3_TLS_PORT
PG_PASS="$(lb_random_hex 16)"
S3_ACCESS="LBTEST$(lb_random_hex 7)"
S3_SECRET="$(lb_random_hex 20)"

lb_log "PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
lb_pg_init "$PG_BIN" "$PG_DATA" "$PG_PASS" \
	"fsync = off" "synchronous_commit = off" "full_page_writes = off" \
	"max_connections = 200"
lb_pg_start "$PG_BIN" "$PG_DATA" "$PG_PORT" "$TMP/pg/run" "$PG_LOG"

mkdir -p "$TMP/s3"
lb_make_cert "$TMP/s3"
lb_log "versitygw on http://127.0.0.1:$S3_PORT and https://127.0.0.1:$S3_TLS_PORT"
lb_s3_start "$S3_PORT" "$TMP/s3/data-http" "$S3_LOG" "$TMP/s3/http.pid" "$S3_ACCESS" "$S3_SECRET"
lb_s3_start "$S3_TLS_PORT" "$TMP/s3/data-tls" "$S3_TLS_LOG" "$TMP/s3/tls.pid" "$S3_ACCESS" "$S3_SECRET" \
	"$TMP/s3/cert.pem" "$TMP/s3/key.pem"

export LIFEBOAT_TEST_PG_URL
LIFEBOAT_TEST_PG_URL="$(lb_pg_url "$PG_PASS" "$PG_PORT" postgres)"
export LIFEBOAT_TEST_PG_BIN="$PG_BIN"
# Sandboxes (restore.mode: sandbox) of every test process, with their shared
# templates; the postgres user must reach it when tests run as root.
export LIFEBOAT_TEST_SANDBOX_DIR="$TMP/sandbox"
mkdir -m 711 "$LIFEBOAT_TEST_SANDBOX_DIR"
export PG_BIN_DIR="$PG_BIN"
export LIFEBOAT_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export LIFEBOAT_TEST_S3_TLS_ENDPOINT="https://127.0.0.1:$S3_TLS_PORT"
export LIFEBOAT_TEST_S3_CA_FILE="$TMP/s3/cert.pem"
export LIFEBOAT_TEST_S3_ACCESS_KEY="$S3_ACCESS"
export LIFEBOAT_TEST_S3_SECRET_KEY="$S3_SECRET"
LIFEBOAT_TEST_CHROMIUM="$(command -v chromium)" || lb_die "chromium not found after installing it"
export LIFEBOAT_TEST_CHROMIUM

if [ -n "$shell_mode" ]; then
	lb_log "services are up; this shell has LIFEBOAT_TEST_* set. Exit it to stop them."
	env | grep -E '^(LIFEBOAT_TEST_|PG_BIN_DIR=)' | sort >&2
	set +e
	"${SHELL:-bash}" -i
	exit 0
fi

# --- checks -----------------------------------------------------------------

# tree_state prints what a generator could change: tracked edits and the
# untracked files with their contents' hashes. Comparing it before and after
# a generator works in CI's clean clone and in a developer's dirty tree alike.
tree_state() {
	git diff HEAD --binary
	git ls-files -z --others --exclude-standard |
		while IFS= read -r -d '' f; do
			printf '%s %s\n' "$(git hash-object -- "$f")" "$f"
		done
}

# check_generated NAME CMD... fails when CMD changes or adds files.
check_generated() {
	local name="$1" before after
	shift
	if ! git rev-parse --git-dir >/dev/null 2>&1; then
		lb_log "not a git work tree: skipping the $name check"
		return 0
	fi
	lb_log "$name (generated code must be committed and current)"
	before="$(tree_state)"
	"$@"
	after="$(tree_state)"
	if [ "$before" != "$after" ]; then
		git status --short >&2
		git diff --stat >&2
		lb_die "$name changed the tree: run it and commit the result"
	fi
}

# Pinned linters of the full run (fetched on first use, then cached).
LB_REDOCLY_VERSION="2.77.0"        # @redocly/cli; needs Node >= 20.19
LB_STATICCHECK_VERSION="v0.8.2"    # honnef.co/go/tools

args_given="$*"
if [ "$#" -eq 0 ]; then
	lb_log "gofmt -l"
	unformatted="$(gofmt -l . | grep -v -e '/testdata/' -e '^\.lifeboat/' || true)"
	if [ -n "$unformatted" ]; then
		printf '%s\n' "$unformatted" >&2
		lb_die "files above are not gofmt-ed (run gofmt -w)"
	fi

	lb_log "go vet ./..."
	go vet ./...

	# staticcheck, pinned (internal/api/staticcheck.conf says what it skips
	# there and why); "go: downloading" lines are shown only if it fails.
	lb_log "staticcheck ./... (honnef.co/go/tools $LB_STATICCHECK_VERSION)"
	if ! sc_out="$(go run "honnef.co/go/tools/cmd/staticcheck@$LB_STATICCHECK_VERSION" ./... 2>&1)"; then
		printf '%s\n' "$sc_out" >&2
		lb_die "staticcheck found the problems above"
	fi

	# The API contract against Redocly's recommended rules: any error fails
	# (warnings are printed only then); npm and Redocly stay quiet otherwise.
	lb_log "redocly lint openapi.yaml (@redocly/cli $LB_REDOCLY_VERSION, recommended rules)"
	command -v npx >/dev/null 2>&1 || lb_apt_install nodejs npm
	node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
		lb_die "the OpenAPI lint needs Node.js >= 20.19 (found $(node --version)): install a newer nodejs"
	if ! lint_out="$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npm_config_update_notifier=false \
		npx --yes "@redocly/cli@$LB_REDOCLY_VERSION" lint --extends recommended openapi.yaml 2>&1)"; then
		printf '%s\n' "$lint_out" >&2
		lb_die "openapi.yaml fails the OpenAPI lint (errors above)"
	fi

	if [ -n "$(find . \( -path ./.git -o -path ./.lifeboat \) -prune -o -name '*.templ' -print -quit)" ]; then
		check_generated "go tool templ generate" go tool templ generate
	fi
	if grep -rqs --include='*.go' --exclude-dir=.git --exclude-dir=.lifeboat --exclude-dir=testdata \
		'^//go:generate' .; then
		check_generated "go generate ./..." go generate ./...
	fi

	if [ -f docker-compose.yml ]; then
		lb_log "docker-compose config -q"
		docker-compose -f docker-compose.yml config -q
	fi
	set -- ./...
else
	lb_log "arguments given: skipping gofmt, vet, generated-code and compose checks"
	case " $* " in
	*" ./"* | *" ../"* | *" github.com/"* | *" . "*) ;;
	*) set -- "$@" ./... ;;
	esac
fi

lb_log "go test -count=1 -timeout 20m $*"
go test -count=1 -timeout 20m "$@"

if [ -z "$args_given" ]; then
	# The API's fuzz test, briefly: hostile parameters and bodies (NUL
	# bytes, invalid UTF-8…) must never get a 5xx. Its seeds ran above as
	# a plain test. The first run builds the packages with coverage
	# instrumentation (minutes on a cold cache); later runs reuse them.
	lb_log "go test -fuzz FuzzAPI -fuzztime 20s ./internal/api/"
	go test -run '^$' -fuzz '^FuzzAPI$' -fuzztime 20s -parallel 2 ./internal/api/
fi
