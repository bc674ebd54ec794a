#!/usr/bin/env bash
# HTTP benchmark of `minijwt serve` on 127.0.0.1. The ceiling, measured in the
# same run: a hello-world server on the unmodified crates.io tiny_http 0.12.0
# with two recv() threads (bench/stock-hello). Beside it, the same hello on
# minijwt's fork of tiny_http (examples/hello.rs), to tell the transport's
# share from the token path's. Bounded: each load runs DURATION seconds
# (default 10).
#
#   bench/http.sh [DURATION]
#
# Prints a table of requests/s, p50, p99 and the server's resident memory, and
# fails if any request got an error or went unanswered.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS=64
STOCK_PORT=18180
HELLO_PORT=18181
SERVE_PORT=18182

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --bin minijwt --example hello --example loadgen 2>&1 | grep -E '^(error|Finished)|Finished' || true
[ -x target/release/examples/loadgen ] || { echo "build failed" >&2; exit 1; }
cargo build --release --manifest-path bench/stock-hello/Cargo.toml 2>&1 | grep -E '^error' || true
STOCK=bench/stock-hello/target/release/stock-hello
[ -x "$STOCK" ] || { echo "stock-hello build failed" >&2; exit 1; }
BIN=target/release/minijwt
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# wrk's socket errors (connect/read/write/timeout) mean a connection was not
# answered; any of them fails the run.
check_wrk() {
  local name=$1 out=$2
  if grep -q "Socket errors" "$out"; then
    echo "FAIL: $name: $(grep 'Socket errors' "$out")" >&2; exit 1
  fi
  if grep -q "Non-2xx" "$out"; then
    echo "FAIL: $name: $(grep 'Non-2xx' "$out")" >&2; exit 1
  fi
}
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
peak_rss() { # samples VmRSS of $1 every 100 ms for $2 seconds, prints the peak in MB
  local pid=$1 secs=$2 peak=0 now
  for _ in $(seq $((secs * 10))); do
    now=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
  done
  awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}'
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# 1. The ceiling: stock tiny_http 0.12 (two recv() threads), then the fork's hello.
"$STOCK" "127.0.0.1:$STOCK_PORT" 2>/dev/null & STOCK_PID=$!
PIDS+=($STOCK_PID)
wait_port $STOCK_PORT
wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency "http://127.0.0.1:$STOCK_PORT/" > "$WORK/stock.txt"
check_wrk "stock hello" "$WORK/stock.txt"
kill $STOCK_PID

target/release/examples/hello "127.0.0.1:$HELLO_PORT" 2>/dev/null & HELLO_PID=$!
PIDS+=($HELLO_PID)
wait_port $HELLO_PORT
wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency "http://127.0.0.1:$HELLO_PORT/" > "$WORK/hello.txt"
check_wrk "fork hello" "$WORK/hello.txt"
kill $HELLO_PID

# 2. The server, fresh database and key.
(cd "$WORK" && exec "$OLDPWD/$BIN" serve --addr "127.0.0.1:$SERVE_PORT" 2>"$WORK/serve.log") & SERVE=$!
PIDS+=($SERVE)
wait_port $SERVE_PORT
URL="http://127.0.0.1:$SERVE_PORT"
# Eight users: logins run concurrently, and attempts in flight for one
# username count against its limit of 5 until they succeed.
for i in 0 1 2 3 4 5 6 7; do
  curl -sf -X POST "$URL/auth/register" -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench$i\",\"password\":\"bench-password\"}" >/dev/null
done
ACCESS=$(curl -sf -X POST "$URL/auth/login" -H 'Content-Type: application/json' \
  -d '{"username":"bench0","password":"bench-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# GET /me, sampling memory during the load.
peak_rss $SERVE "$DURATION" > "$WORK/me_rss.txt" & SAMPLER=$!
wrk -t2 -c$CONNECTIONS -d"${DURATION}s" --latency -H "Authorization: Bearer $ACCESS" "$URL/me" > "$WORK/me.txt"
wait $SAMPLER
check_wrk "GET /me" "$WORK/me.txt"

# POST /auth/login: Argon2id each time (deliberately slow). 8 connections: the
# hasher runs one hash per core and queues three per core; more would be
# answered 503 "retry shortly", which measures refusals, not logins.
cat > "$WORK/login.lua" <<'LUA'
local i = 0
request = function()
  i = (i + 1) % 8
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
    '{"username":"bench' .. i .. '","password":"bench-password"}')
end
LUA
wrk -t2 -c8 -d"${DURATION}s" --latency --timeout 10s -s "$WORK/login.lua" "$URL/auth/login" > "$WORK/login.txt"
check_wrk "POST /auth/login" "$WORK/login.txt"

# POST /auth/refresh: rotation needs each response's token, so our own load generator.
target/release/examples/loadgen "127.0.0.1:$SERVE_PORT" refresh $CONNECTIONS "$DURATION" > "$WORK/refresh.txt"

# GET /me while a login flood runs beside it.
wrk -t1 -c16 -d"$((DURATION + 2))s" --timeout 20s -s "$WORK/login.lua" "$URL/auth/login" > "$WORK/flood.txt" &
FLOOD=$!
sleep 1
peak_rss $SERVE "$DURATION" > "$WORK/flood_rss.txt" & SAMPLER=$!
wrk -t1 -c$CONNECTIONS -d"${DURATION}s" --latency -H "Authorization: Bearer $ACCESS" "$URL/me" > "$WORK/me_flood.txt"
wait $FLOOD || true
wait $SAMPLER
check_wrk "GET /me during login flood" "$WORK/me_flood.txt"

STOCK_RPS=$(rps "$WORK/stock.txt"); HELLO=$(rps "$WORK/hello.txt"); ME=$(rps "$WORK/me.txt")
echo
echo "minijwt HTTP benchmark: $(nproc) cores, $CONNECTIONS connections, ${DURATION} s per load, default settings"
printf '%-34s %12s %10s %10s %10s\n' "load" "req/s" "p50" "p99" "RSS MB"
printf '%-34s %12s %10s %10s %10s\n' "stock tiny_http 0.12 hello (ceiling)" "$STOCK_RPS" "$(pct "$WORK/stock.txt" 50%)" "$(pct "$WORK/stock.txt" 99%)" "-"
printf '%-34s %12s %10s %10s %10s\n' "fork hello (examples/hello.rs)" "$HELLO" "$(pct "$WORK/hello.txt" 50%)" "$(pct "$WORK/hello.txt" 99%)" "-"
printf '%-34s %12s %10s %10s %10s\n' "GET /me" "$ME" "$(pct "$WORK/me.txt" 50%)" "$(pct "$WORK/me.txt" 99%)" "$(cat "$WORK/me_rss.txt")"
printf '%-34s %12s %10s %10s %10s\n' "POST /auth/login" "$(rps "$WORK/login.txt")" "$(pct "$WORK/login.txt" 50%)" "$(pct "$WORK/login.txt" 99%)" "-"
printf '%-34s %12s\n' "POST /auth/refresh (loadgen)" "$(sed 's/.*= \([0-9]*\) req\/s.*/\1/' "$WORK/refresh.txt")"
echo "    $(cat "$WORK/refresh.txt")"
printf '%-34s %12s %10s %10s %10s\n' "GET /me during a login flood" "$(rps "$WORK/me_flood.txt")" "$(pct "$WORK/me_flood.txt" 50%)" "$(pct "$WORK/me_flood.txt" 99%)" "$(cat "$WORK/flood_rss.txt")"
echo "  (login flood beside it, 16 connections: $(rps "$WORK/flood.txt") answers/s, of which refused with 503 busy or 429 throttled: $(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/flood.txt" | grep -o '[0-9]*$' || echo 0))"
echo "GET /me / stock ceiling: $(awk -v a="$ME" -v b="$STOCK_RPS" 'BEGIN {printf "%.2f", a/b}')   fork hello / stock: $(awk -v a="$HELLO" -v b="$STOCK_RPS" 'BEGIN {printf "%.2f", a/b}')"
echo "server peak RSS over the whole run (VmHWM): $(hwm_mb $SERVE) MB"
