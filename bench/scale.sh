#!/usr/bin/env bash
# Several minijwt instances on one PostgreSQL database, against one on
# SQLite, in the same run: GET /me, POST /auth/login and POST /auth/refresh
# (examples/loadgen.rs, one client process spreading its connections evenly
# over the instances, so that the percentiles are of all requests), for
# 1 instance on SQLite and 1, 2 and 3 instances on PostgreSQL. Every instance
# shares one key file, so a token from one verifies on all. A throwaway
# PostgreSQL cluster (tests/postgres/cluster.sh, under target/) is started
# and stopped with the run. Bounded: each load runs DURATION seconds
# (default 5); each server start is waited for at most 10 s.
#
#   bench/scale.sh [DURATION]
#
# Prints a table of requests/s, p50, p99 and failed connections, and fails
# (after printing it) if any request failed. On a machine with few cores the
# clients and every instance share them: the point is the shape and zero
# errors, not linear scaling.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-5}"
ME_CONNECTIONS=64
LOGIN_CONNECTIONS=8 # Argon2: one hash per core and three queued per core, per instance
REFRESH_CONNECTIONS=64

cargo build --release --features postgres --bin minijwt --example loadgen 2>&1 | grep -E '^error|Finished' || true
[ -x target/release/examples/loadgen ] || { echo "build failed" >&2; exit 1; }
BIN=$PWD/target/release/minijwt
LOADGEN=$PWD/target/release/examples/loadgen
WORK=$(mktemp -d)
PG_DIR=$PWD/target/bench-scale-pg-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/postgres/cluster.sh stop "$PG_DIR" || true
  [ -f "$PG_DIR/where" ] && rm -rf "$(cat "$PG_DIR/where")"
  rm -rf "$WORK" "$PG_DIR"
}
trap cleanup EXIT

ADMIN=$(tests/postgres/cluster.sh start "$PG_DIR")
PSQL=psql
for candidate in /usr/lib/postgresql/*/bin/psql; do [ -x "$candidate" ] && PSQL=$candidate; done
"$BIN" keygen --out "$WORK/shared.key" >/dev/null

# start NAME DB: one instance on a free port, in $WORK/NAME; sets ADDR to its address.
start() {
  local name=$1 db=$2 log="$WORK/$1.log"
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && exec "$BIN" serve --addr 127.0.0.1:0 --db "$db" --key-file "$WORK/shared.key" 2>"$log") &
  PIDS+=($!)
  ADDR=""
  for _ in $(seq 100); do
    ADDR=$(sed -n 's|.*listening on http://\([0-9.:]*\),.*|\1|p' "$log" 2>/dev/null | head -1)
    [ -n "$ADDR" ] && return 0
    sleep 0.1
  done
  echo "instance $name did not start:" >&2; cat "$log" >&2; exit 1
}

# stop_all: the instances of the configuration just measured.
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# measure LABEL ADDRS: the three loads against the comma-separated ADDRS.
measure() {
  local label=$1 addrs=$2
  for load in me login refresh; do
    local connections
    case $load in me) connections=$ME_CONNECTIONS ;; login) connections=$LOGIN_CONNECTIONS ;; refresh) connections=$REFRESH_CONNECTIONS ;; esac
    "$LOADGEN" "$addrs" "$load" "$connections" "$DURATION" > "$WORK/$label.$load.txt" 2>"$WORK/$label.$load.err" || true
    [ -s "$WORK/$label.$load.txt" ] || echo "$load: 0 requests in 0 s = 0 req/s; p50 -, p99 -; failures (no result: $(head -c 200 "$WORK/$label.$load.err"))" > "$WORK/$label.$load.txt"
  done
}

# 1. One instance on SQLite.
start sqlite "$WORK/sqlite/minijwt.db"
measure sqlite1 "$ADDR"
stop_all

# 2. One, two and three instances on PostgreSQL: a new database each time.
for n in 1 2 3; do
  "$PSQL" -q "$ADMIN" -c "CREATE DATABASE scale$n" >/dev/null
  DB="${ADMIN%/postgres}/scale$n"
  ADDRS=""
  for i in $(seq "$n"); do
    start "pg$n-$i" "$DB"
    ADDRS="$ADDRS${ADDRS:+,}$ADDR"
  done
  measure "pg$n" "$ADDRS"
  stop_all
done

field() { # field FILE NAME: req/s, p50, p99 or failures from a loadgen line
  case $2 in
    rps) sed -n 's/.*= \([0-9]*\) req\/s.*/\1/p' "$1" ;;
    p50) sed -n 's/.*p50 \([^,]*\),.*/\1/p' "$1" ;;
    p99) sed -n 's/.*p99 \([^;]*\);.*/\1/p' "$1" ;;
    failures) sed -n 's/.*failures \(.*\)$/\1/p' "$1" ;;
  esac
}

echo
echo "minijwt on PostgreSQL, 1-3 instances, against 1 on SQLite: $(nproc) cores, ${DURATION} s per load,"
echo "connections: /me $ME_CONNECTIONS, login $LOGIN_CONNECTIONS, refresh $REFRESH_CONNECTIONS (examples/loadgen.rs, spread evenly)"
printf '%-24s %-10s %10s %12s %12s %10s\n' "setup" "load" "req/s" "p50" "p99" "failures"
failed=0
for label in sqlite1 pg1 pg2 pg3; do
  case $label in sqlite1) name="1 instance, SQLite" ;; pg1) name="1 instance, PostgreSQL" ;; *) name="${label#pg} instances, PostgreSQL" ;; esac
  for load in me login refresh; do
    f="$WORK/$label.$load.txt"
    printf '%-24s %-10s %10s %12s %12s %10s\n' "$name" "$load" "$(field "$f" rps)" "$(field "$f" p50)" "$(field "$f" p99)" "$(field "$f" failures)"
    [ "$(field "$f" failures)" = 0 ] || failed=1
  done
done
ME_SQLITE=$(field "$WORK/sqlite1.me.txt" rps)
ME_PG=$(field "$WORK/pg1.me.txt" rps)
echo "GET /me on 1 instance, both with the user cache (on PostgreSQL kept true by NOTIFY): SQLite $ME_SQLITE req/s, PostgreSQL $ME_PG req/s: $(awk -v a="$ME_PG" -v b="$ME_SQLITE" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')x"
if [ "$failed" != 0 ]; then
  echo "FAIL: some requests failed (see the failures column)" >&2
  for f in "$WORK"/*.err; do [ -s "$f" ] && { echo "== $(basename "$f")" >&2; head -5 "$f" >&2; }; done
  exit 1
fi
