#!/usr/bin/env bash
# Contract fuzzing: schemathesis (PyPI) against a spawned `aidf serve`, using /openapi.json.
# Fails on any server error, schema violation, undocumented status code or content type.
# Usage: scripts/schemathesis.sh [AIDF_BINARY] [SECONDS]
set -euo pipefail
bin=${1:-target/debug/aidf}
secs=${2:-60}
command -v st >/dev/null 2>&1 || python3 -m pip install -q schemathesis
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
token=$("$bin" token create --json --db "$work/st.db" --tenant fuzz --role global_admin 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
"$bin" serve --addr 127.0.0.1:0 --db "$work/st.db" > "$work/out" 2> "$work/err" &
pid=$!
for _ in $(seq 1 50); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/out")
echo "schemathesis: $base, ${secs}s"
st run "$base/openapi.json" -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance \
  --max-time "$secs" --seed 1
