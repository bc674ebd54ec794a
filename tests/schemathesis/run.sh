#!/usr/bin/env bash
# Spec-driven fuzzing of the HTTP API: schemathesis (from PyPI, in a virtual
# environment) against docs/openapi.yaml, on a release server on 127.0.0.1
# with a fresh database, authenticated as a registered user, every check on.
# Fails on any finding.
#
#   tests/schemathesis/run.sh [MAX_EXAMPLES]      (default 50 per operation)
set -euo pipefail
cd "$(dirname "$0")/../.."
EXAMPLES="${1:-50}"
PORT="${SCHEMATHESIS_PORT:-18190}"
VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check schemathesis
cargo build --release --bin minijwt

WORK=$(mktemp -d)
(cd "$WORK" && exec "$OLDPWD/target/release/minijwt" serve --addr "127.0.0.1:$PORT" 2>"$WORK/serve.log") &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

URL="http://127.0.0.1:$PORT"
curl -sf -X POST "$URL/auth/register" -H 'Content-Type: application/json' \
  -d '{"username":"schemathesis","password":"schemathesis-password"}' >/dev/null
ACCESS=$(curl -sf -X POST "$URL/auth/login" -H 'Content-Type: application/json' \
  -d '{"username":"schemathesis","password":"schemathesis-password"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

"$VENV/bin/schemathesis" run docs/openapi.yaml --url "$URL" \
  --header "Authorization: Bearer $ACCESS" --checks all --max-examples "$EXAMPLES" --seed 20261127
