#!/usr/bin/env bash
# HTTP load benchmark with wrk (Debian package `wrk`): POST /v1/determinations against GET /healthz
# on the same server in the same run, 64 connections. Prints requests/s, latency percentiles and the
# ratio. Every determination is authenticated and audited (hash chain, group commit) as in
# production. Usage: scripts/bench-server.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null 2>&1 || { echo "install wrk: apt-get install -y wrk" >&2; exit 2; }
cargo build --release -q -p aidf-cli
bin=target/release/aidf
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
token=$("$bin" token create --db "$work/b.db" --tenant bench --role exporter 2>/dev/null)
RUST_LOG=warn "$bin" serve --addr 127.0.0.1:0 --db "$work/b.db" > "$work/out" 2> "$work/err" &
pid=$!
for _ in $(seq 1 50); do grep -q "listening on" "$work/out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/out")
cat > "$work/det.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000}'
LUA
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; ${conns} connections, ${secs}s each"
echo "== GET /healthz"
wrk -t2 -c"$conns" -d"${secs}s" --latency "$base/healthz" | tee "$work/h.txt"
echo "== POST /v1/determinations"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/det.lua" "$base/v1/determinations" | tee "$work/d.txt"
h=$(awk '/Requests\/sec/{print $2}' "$work/h.txt")
d=$(awk '/Requests\/sec/{print $2}' "$work/d.txt")
p99=$(awk '$1=="99%"{print $2}' "$work/d.txt")
echo "== determinations/healthz throughput ratio: $(python3 -c "print(f'{$d/$h:.2f}')") (target >= 0.50); determinations p99 $p99 (target < 5ms)"
