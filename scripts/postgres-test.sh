#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster, runs the ledger tests against it, and stops it again.
#
#   scripts/postgres-test.sh                 # store + use-case tests (swift test) and the replica test
#   scripts/postgres-test.sh --swift-only    # only the Swift suites
#   scripts/postgres-test.sh -- CMD ARGS…    # any command, with SIGIL_TEST_DATABASE_URL exported
#
# The cluster: `initdb` into a temporary folder, `pg_ctl start` listening on 127.0.0.1 on a free
# port and on a Unix socket in that folder, trust authentication for the local test user only.
# The server refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user
# (Debian's package creates it) and runs through `runuser`; as anyone else it runs as you.
# PG_BIN overrides where initdb and pg_ctl are (default: Debian's /usr/lib/postgresql/15/bin).
# The trap stops the cluster (-m immediate) and removes the folder whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[[ -x "$PG_BIN/initdb" ]] || { echo "postgres-test: no initdb (install postgresql, or set PG_BIN)" >&2; exit 1; }

dir=$(mktemp -d /tmp/sigil-pg.XXXXXX)
chmod 755 "$dir"
as_owner() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$dir"
    as_owner() { runuser -u postgres -- "$@"; }
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

as_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
as_owner "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres sigil_test
export SIGIL_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/sigil_test"
export SIGIL_TEST_PG_PORT="$port"
echo "postgres-test: cluster on 127.0.0.1:$port ($dir)"

if [[ "${1:-}" == "--" ]]; then
    shift
    "$@"
    exit $?
fi

# fsync=off: a throwaway cluster; the durability tests are SQLite's (docs/DATABASE.md).
swift build --build-tests
set +e
swift test --skip-build --filter 'SigilIssuerTests|PostgresStoreTests' >.build/postgres-test-output.log 2>&1
status=$?
set -e
grep -E "Test run with|^✘|recorded an issue|skipped|error:" .build/postgres-test-output.log | tail -40
[[ $status -eq 0 ]] || { echo "postgres-test: swift test failed (exit $status); log: .build/postgres-test-output.log"; exit 1; }

if [[ "${1:-}" != "--swift-only" ]]; then
    swift build --package-path Server
    swift build --product sigil
    export SIGIL_SERVER_BIN="${SIGIL_SERVER_BIN:-$PWD/Server/.build/debug/sigil-server}"
    export SIGIL_BIN="${SIGIL_BIN:-$PWD/.build/debug/sigil}"
    python3 -m pytest -q Server/tests/test_replicas.py Server/tests/test_parallel_writers.py Server/tests/test_session_replicas.py \
        "Server/tests/test_webhooks_durable.py::test_two_servers_one_ledger_one_sends_and_the_other_takes_over[postgres]" \
        "Server/tests/test_webhooks_durable.py::test_the_sender_killed_mid_delivery_the_other_server_sends_it_again[postgres]" \
        Server/tests/test_backup_postgres.py
fi
