#!/usr/bin/env bash
# Benchmarks the aidf ledger and compares PostgreSQL throughput with
# `pgbench -b simple-update` on the same server and client count.
#
#   scripts/bench-ledger.sh            # 2 clients, 10 s per measurement
#   AIDF_BENCH_CLIENTS=4 AIDF_BENCH_SECS=20 scripts/bench-ledger.sh
#
# Env: AIDF_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test),
# CARGO_TARGET_DIR (default target-ledger). Creates and drops the scratch
# database aidf_pgbench. pgbench runs right before and right after the ledger's
# PostgreSQL measurement and the two are averaged, because fsync latency on a
# shared disk drifts.
set -euo pipefail

cd "$(dirname "$0")/.."
PG_URL=${AIDF_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
CLIENTS=${AIDF_BENCH_CLIENTS:-2}
SECS=${AIDF_BENCH_SECS:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target-ledger}
export AIDF_TEST_PG_URL=$PG_URL AIDF_BENCH_CLIENTS=$CLIENTS AIDF_BENCH_SECS=$SECS

base=${PG_URL%%\?*}
query=${PG_URL#"$base"}
scratch="${base%/*}/aidf_pgbench${query}"

command -v pgbench >/dev/null || { echo "pgbench not found (apt-get install postgresql-client)" >&2; exit 1; }
psql "$PG_URL" -qX -c "DROP DATABASE IF EXISTS aidf_pgbench" -c "CREATE DATABASE aidf_pgbench" >/dev/null
trap 'psql "$PG_URL" -qX -c "DROP DATABASE IF EXISTS aidf_pgbench" >/dev/null 2>&1 || true' EXIT
pgbench -q -i "$scratch" >/dev/null 2>&1

pgbench_tps() {
    pgbench -b simple-update -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" "$scratch" 2>/dev/null | awk '/^tps/ {print $3}'
}

echo "building the ledger bench (release)..." >&2
cargo bench -p aidf-ledger --bench ledger --no-run >/dev/null 2>&1

AIDF_BENCH_ONLY=sqlite cargo bench -p aidf-ledger --bench ledger 2>/dev/null | grep '^RESULT' | tee /tmp/aidf-bench-$$.txt
tps_before=$(pgbench_tps)
AIDF_BENCH_ONLY=pg cargo bench -p aidf-ledger --bench ledger 2>/dev/null | grep '^RESULT' | tee -a /tmp/aidf-bench-$$.txt
tps_after=$(pgbench_tps)

pg_single=$(awk -v n="pg_single_reserve_c$CLIENTS" '$2 == n {print $3}' /tmp/aidf-bench-$$.txt)
pg_batched=$(awk -v n="pg_batched_reserve_c$CLIENTS" '$2 == n {print $3}' /tmp/aidf-bench-$$.txt)
rm -f /tmp/aidf-bench-$$.txt
awk -v a="$tps_before" -v b="$tps_after" -v s="$pg_single" -v bt="$pg_batched" -v c="$CLIENTS" 'BEGIN {
    t = (a + b) / 2
    printf "pgbench simple-update -c %d: %.0f tps (before %.0f, after %.0f)\n", c, t, a, b
    printf "ledger pg single reservations -c %d: %.0f ops/s = %.0f%% of pgbench\n", c, s, 100 * s / t
    printf "ledger pg batched reservations -c %d: %.0f ops/s\n", c, bt
}'
