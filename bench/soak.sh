#!/usr/bin/env bash
# Soak: a steady mixed workload (register, login, /me, notes, refresh, logout)
# against a release server on 127.0.0.1 for MINUTES, sampling its RSS,
# threads and open files every 10 s (bench/soak.py). Fails on any error or on
# growth after the first minute.
#
#   bench/soak.sh MINUTES [RATE]      (RATE: requests per second, default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${1:?usage: bench/soak.sh MINUTES [RATE]}"
RATE="${2:-200}"
PORT="${SOAK_PORT:-18290}"
cargo build --release --bin minijwt
WORK=$(mktemp -d)
(cd "$WORK" && exec "$OLDPWD/target/release/minijwt" serve --addr "127.0.0.1:$PORT" 2>/dev/null) &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
python3 bench/soak.py "http://127.0.0.1:$PORT" "$SERVER" "$MINUTES" "$RATE"
