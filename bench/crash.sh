#!/usr/bin/env bash
# kill -9 under load, ROUNDS times (default 10): each round starts a release
# server, lets 12 clients log in and refresh, kills the server with SIGKILL,
# checks the database (PRAGMA integrity_check) and that every refresh token a
# client last received still refreshes or was rotated by a lost response.
# The round itself is tests/crash.rs.
#
#   bench/crash.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-10}"
for round in $(seq "$ROUNDS"); do
  printf 'round %s: ' "$round"
  cargo test --release --quiet --test crash -- --nocapture 2>&1 | grep -E 'refreshes before|FAILED|panicked' || {
    echo "round $round failed" >&2; exit 1; }
done
echo "$ROUNDS rounds, no refresh token lost"
