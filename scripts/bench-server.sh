#!/usr/bin/env bash
# HTTP load benchmark with wrk (Debian package `wrk`): POST /v1/determinations against GET /healthz
# on the same server in the same run, 64 connections. Prints requests/s, latency percentiles and the
# ratio. Every determination is authenticated and audited (hash chain, group commit) as in
# production. Then shipments rounds: POST /v1/shipments with a unique Idempotency-Key per request
# over 300 consignees, one H100 each time, so that every shipment is authorized and draws its
# consignee's LPP year (each round has consignees of its own: 300 LPP years hold 509,700 H100,
# more than a round sends; the script counts the measured shipments refused), each against the
# ledger's own single-reservation throughput measured right after it on the same machine
# (`AIDF_BENCH_ONLY=sqlite_single cargo bench -p aidf-ledger`); AIDF_BENCH_SHIP_ROUNDS rounds
# (default 3), the median round's ratio is the figure.
# Usage: scripts/bench-server.sh [SECONDS] [CONNECTIONS] [ROUNDS]
# AIDF_BENCH_SKIP_DETERMINATIONS=1 runs only the shipments round; AIDF_BENCH_PG=1 runs it on
# PostgreSQL with two server processes (against the ledger's single reservations there).
# The shipments are measured in a steady state, as the ledger's reservations are (its bench opens
# its accounts before it times anything): a warm-up of AIDF_BENCH_WARMUP seconds (default 2) under
# other keys first opens the consignees' accounts and parties and grows the WAL to its working size.
# Its shipments are recorded too and are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null 2>&1 || { echo "install wrk: apt-get install -y wrk" >&2; exit 2; }
cargo build --release -q -p aidf-cli
bin="${CARGO_TARGET_DIR:-target}/release/aidf"
work=$(mktemp -d)
pid1=""
pid2=""
trap 'kill $pid1 $pid2 2>/dev/null || true; rm -rf "$work"' EXIT
# AIDF_BENCH_PG=1: the ledger is a fresh schema of the local PostgreSQL (user postgres, database
# test), served by two server processes, and only the shipments round runs, half the connections
# on each process.
db="$work/b.db"
if [ -n "${AIDF_BENCH_PG:-}" ]; then
  schema="bench_$$"
  psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA $schema" >/dev/null
  trap 'kill $pid1 $pid2 2>/dev/null || true; psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA '"$schema"' CASCADE" >/dev/null 2>&1; rm -rf "$work"' EXIT
  db="postgres://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema"
  AIDF_BENCH_SKIP_DETERMINATIONS=1
fi
# One audit key for every process on this ledger.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/audit.key"
export AIDF_AUDIT_KEY_FILE="$work/audit.key"
token=$("$bin" token create --json --db "$db" --tenant bench --role exporter 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# Shipments are dated 2025 (a fixed regime), so they are backfills: an officer records them.
officer=$("$bin" token create --json --db "$db" --tenant bench --role officer 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
# Starts server N (pidN), waits until it listens.
start_server() {
  RUST_LOG=warn "$bin" serve --addr 127.0.0.1:0 --db "$db" > "$work/out$1" 2> "$work/err$1" &
  eval "pid$1=$!"
  for _ in $(seq 1 100); do grep -q "listening on" "$work/out$1" 2>/dev/null && break; sleep 0.1; done
}
start_server 1
base=$(sed -n 's/^listening on //p' "$work/out1")
cat > "$work/det.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = '{"date":"2025-06-01","destination":"MY","consignee":{"name":"X Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":2000}'
LUA
cat > "$work/ship.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $officer"
local n = 0
-- The round's consignees (replaced per round).
local set = "S0"
-- Each wrk thread runs this script in its own Lua state: thread_id is a global set there by setup
-- (a local here would be each state's own 0, and both threads would send the same keys).
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("thread_id", threads) end
request = function()
  n = n + 1
  local c = n % 300
  local body = '{"date":"2025-06-01","destination":"MY","consignee":{"name":"Consignee ' .. set .. '-' .. c .. ' Sdn Bhd","hq":"MY"},"item":{"chip":"H100 SXM"},"quantity":1}'
  wrk.headers["Idempotency-Key"] = "b" .. thread_id .. "-" .. n
  return wrk.format(nil, nil, nil, body)
end
LUA
# The warm-up: the same load under other keys ("w…"), on each server given.
warmup=${AIDF_BENCH_WARMUP:-2}
warm_up() {
  [ "$warmup" -gt 0 ] || return 0
  local i=0 pids=()
  for url in "$@"; do
    i=$((i + 1))
    sed 's/"b" .. thread_id/"w'"${warm_tag:-}$i"'-" .. thread_id/; s/local set = "S0"/local set = "S'"${set_tag:-0}"'"/' "$work/ship.lua" > "$work/warm$i.lua"
    wrk -t1 -c"$((conns / $#))" -d"${warmup}s" -s "$work/warm$i.lua" "$url/v1/shipments" > /dev/null &
    pids+=($!)
  done
  # Only the warm-up's clients: the servers run in the background too.
  wait "${pids[@]}"
}
rounds=${3:-3}
if [ -n "${AIDF_BENCH_SKIP_DETERMINATIONS:-}" ]; then rounds=0; fi
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; load average $(cut -d' ' -f1-3 /proc/loadavg); ${conns} connections, ${secs}s each, ${rounds} alternating rounds"
# Alternating rounds, because this shared machine's speed drifts by several per cent from one
# ten-second run to the next; each round's ratio compares two neighbouring runs, and the median
# round is the figure.
for r in $(seq 1 "$rounds"); do
  echo "== round $r: GET /healthz"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$base/healthz" | tee "$work/h$r.txt"
  echo "== round $r: POST /v1/determinations"
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/det.lua" "$base/v1/determinations" | tee "$work/d$r.txt"
done
if [ "$rounds" -gt 0 ]; then
python3 - "$work" "$rounds" <<'PY'
import re, sys, statistics
work, rounds = sys.argv[1], int(sys.argv[2])
def rate(path):
    return float(re.search(r"Requests/sec:\s+([\d.]+)", open(path).read()).group(1))
def p99_ms(path):
    v = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", open(path).read(), re.M)
    return float(v.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[v.group(2)]
rows = []
for r in range(1, rounds + 1):
    h, d = rate(f"{work}/h{r}.txt"), rate(f"{work}/d{r}.txt")
    rows.append((d / h, h, d, p99_ms(f"{work}/d{r}.txt")))
    print(f"round {r}: healthz {h:,.0f} req/s, determinations {d:,.0f} req/s, ratio {d/h:.2f}, determinations p99 {rows[-1][3]:.2f} ms")
ratio = statistics.median(x[0] for x in rows)
p99 = max(x[3] for x in rows)
print(f"== determinations/healthz throughput ratio, median of {rounds} rounds: {ratio:.2f} (target >= 0.50); worst determinations p99 {p99:.2f} ms (target < 5 ms)")
PY
fi

if [ -n "${AIDF_BENCH_PG:-}" ]; then
  start_server 2
  base2=$(sed -n 's/^listening on //p' "$work/out2")
  echo "== PostgreSQL, two server processes: POST /v1/shipments, unique keys, 300 consignees, ${conns} connections in all, ${secs}s"
  half=$((conns / 2))
  warm_up "$base" "$base2"
  sed 's/"b" .. thread_id/"p1-" .. thread_id/' "$work/ship.lua" > "$work/ship1.lua"
  sed 's/"b" .. thread_id/"p2-" .. thread_id/' "$work/ship.lua" > "$work/ship2.lua"
  wrk -t1 -c"$half" -d"${secs}s" --latency -s "$work/ship1.lua" "$base/v1/shipments" > "$work/ship1.txt" &
  first=$!
  wrk -t1 -c"$half" -d"${secs}s" --latency -s "$work/ship2.lua" "$base2/v1/shipments" > "$work/ship2.txt"
  wait "$first"
  cat "$work/ship1.txt" "$work/ship2.txt"
  ledger=$(AIDF_BENCH_ONLY=pg_single cargo bench -q -p aidf-ledger --bench ledger 2>/dev/null | awk '/^RESULT pg_single/ {print $3}')
  python3 - "$work/ship1.txt" "$work/ship2.txt" "$ledger" <<'PY'
import re, sys
def rate_p99(path):
    text = open(path).read()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    v = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return rate, float(v.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[v.group(2)], int(non2xx.group(1)) if non2xx else 0
(r1, p1, n1), (r2, p2, n2) = rate_p99(sys.argv[1]), rate_p99(sys.argv[2])
ledger = float(sys.argv[3])
print(f"== PostgreSQL shipments, two processes: {r1 + r2:,.0f} req/s ({r1:,.0f} + {r2:,.0f}), worst p99 {max(p1, p2):.2f} ms, non-2xx {n1 + n2}; "
      f"ledger single reservations on PostgreSQL {ledger:,.0f}/s; ratio {(r1 + r2) / ledger:.2f}")
PY
  refused=$(psql -qtA -h 127.0.0.1 -U postgres -d test -c "SELECT COUNT(*) FROM $schema.shipments WHERE id LIKE 'bench.p%' AND status <> 'authorized'")
  echo "== measured shipments not authorized: $refused"
  exit 0
fi
# SQLite: alternating rounds, as for the determinations: a shipments round on the server (its own
# keys, after its own warm-up), then the ledger's single reservations with the server stopped. Each
# round's ratio compares two neighbouring runs; the median round is the figure.
ship_rounds=${AIDF_BENCH_SHIP_ROUNDS:-3}
kill $pid1 2>/dev/null || true
wait $pid1 2>/dev/null || true
for r in $(seq 1 "$ship_rounds"); do
  echo "== round $r: POST /v1/shipments, unique keys, 300 consignees, ${conns} connections, ${secs}s"
  start_server 1
  base=$(sed -n 's/^listening on //p' "$work/out1")
  sed 's/"b" .. thread_id/"b'"$r"'_" .. thread_id/; s/local set = "S0"/local set = "S'"$r"'"/' "$work/ship.lua" > "$work/round$r.lua"
  warm_tag="${r}_"
  set_tag="$r"
  warm_up "$base"
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/round$r.lua" "$base/v1/shipments" | tee "$work/ship$r.txt"
  kill $pid1 2>/dev/null || true
  wait $pid1 2>/dev/null || true
  echo "== round $r: the ledger's single reservations on SQLite (same machine, now)"
  ledger=$(AIDF_BENCH_ONLY=sqlite_single cargo bench -q -p aidf-ledger --bench ledger 2>/dev/null | awk '/^RESULT sqlite_single/ {print $3}')
  echo "RESULT sqlite_single_reserve $ledger"
  echo "$ledger" > "$work/ledger$r.txt"
done
python3 - "$work" "$ship_rounds" <<'PY'
import re, sqlite3, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
# The warm-ups' shipments (keys "w…") are not counted.
db = sqlite3.connect(f"{work}/b.db")
recorded = db.execute("SELECT COUNT(*) FROM shipments WHERE id LIKE 'bench.b%'").fetchone()[0]
refused = db.execute(
    "SELECT COUNT(*) FROM shipments WHERE id LIKE 'bench.b%' AND status <> 'authorized'").fetchone()[0]
rows, sent = [], 0
for r in range(1, rounds + 1):
    text = open(f"{work}/ship{r}.txt").read()
    sent += int(re.search(r"(\d+) requests in", text).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    v = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = float(v.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[v.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    ledger = float(open(f"{work}/ledger{r}.txt").read())
    rows.append((rate / ledger, rate, p99, ledger, int(non2xx.group(1)) if non2xx else 0))
    print(f"round {r}: shipments {rate:,.0f} req/s, p99 {p99:.2f} ms, non-2xx {rows[-1][4]}; "
          f"ledger single reservations {ledger:,.0f}/s; ratio {rate / ledger:.2f}")
# Every request carries a new key: each is a new shipment, none a replay (wrk may cut the last
# few in flight when it stops, so recorded can exceed what it counted by up to a connection each).
print(f"== {recorded:,} shipments recorded for {sent:,} requests counted; not authorized: {refused:,}"
      + ("" if refused == 0 else " (WARNING: the rounds measured refusals too, a lighter path)"))
ratio = statistics.median(x[0] for x in rows)
p99 = statistics.median(x[2] for x in rows)
print(f"== shipments/single reservations ratio, median of {rounds} rounds: {ratio:.2f} (target >= 0.50); "
      f"p99 median {p99:.2f} ms, worst {max(x[2] for x in rows):.2f} ms (target < 20 ms); "
      f"non-2xx {sum(x[4] for x in rows)}")
PY
