#!/usr/bin/env bash
# Instructions per GET /me request, counted by valgrind's callgrind: unlike
# requests/s, the count does not move with whatever else the machine is doing,
# so two builds can be compared on a busy machine.
#
#   bench/instructions.sh [BINARY]     (default: target/release/minijwt, built here)
#
# Runs the server under callgrind twice, for LOW and HIGH keep-alive requests
# over one connection, and prints (total(HIGH) - total(LOW)) / (HIGH - LOW):
# start-up, the first request (user cache miss) and shutdown cancel out.
set -euo pipefail
cd "$(dirname "$0")/.."
LOW=300
HIGH=1300
PORT="${INSTRUCTIONS_PORT:-18412}"

command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
if [ $# -ge 1 ]; then
  BIN="$(realpath "$1")"
else
  cargo build --release --bin minijwt 2>&1 | grep -E '^error' || true
  BIN="$PWD/target/release/minijwt"
fi
WORK=$(mktemp -d)
trap 'pkill -f "127.0.0.1:$PORT" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A user and an access token, from a normal (fast) run of the same binary.
"$BIN" serve --addr "127.0.0.1:$PORT" --db "$WORK/db" --key-file "$WORK/key" 2>/dev/null &
SERVER=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
BODY='{"username":"bench","password":"correct horse battery"}'
curl -sf -X POST -H 'Content-Type: application/json' -d "$BODY" "127.0.0.1:$PORT/auth/register" >/dev/null
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$BODY" "127.0.0.1:$PORT/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

count() { # REQUESTS -> total instructions of the whole server process
  valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$1" \
    "$BIN" serve --addr "127.0.0.1:$PORT" --db "$WORK/db" --key-file "$WORK/key" 2>/dev/null &
  local server=$!
  python3 - "$PORT" "$TOKEN" "$1" <<'PY'
import http.client, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(300):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        break
    except OSError:
        time.sleep(0.2)
for _ in range(n):
    conn.request("GET", "/me", headers={"Authorization": "Bearer " + token})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
  kill -TERM "$server"
  wait "$server" 2>/dev/null || true
  grep -m1 '^summary:' "$WORK/cg.$1" | grep -o '[0-9]*$'
}
low=$(count $LOW)
high=$(count $HIGH)
echo "GET /me: $(( (high - low) / (HIGH - LOW) )) instructions per request ($BIN; totals $low for $LOW, $high for $HIGH)"
