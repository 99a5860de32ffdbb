#!/usr/bin/env bash
# Benchmarks `audit verify`: builds a SQLite ledger with RECORDS chained audit records (default
# 1,000,000), then verifies it under /usr/bin/time -v and reports records/s and peak memory
# (maximum resident set size). Target (issue 12): >= 500,000 records/s in < 64 MiB.
#
#   scripts/bench-audit.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-1000000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo bench -p aidf-ledger --bench audit_verify --no-run 2>/dev/null
BIN=$(ls -t "$CARGO_TARGET_DIR"/release/deps/audit_verify-* | grep -v '\.d$' | head -1)
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BIN" build "$DIR/audit.db" "$RECORDS"
/usr/bin/time -v "$BIN" verify "$DIR/audit.db" 2> "$DIR/time.txt"
grep -E "Maximum resident set size|Elapsed|User time|System time|Percent of CPU" "$DIR/time.txt"
# On a shared machine the wall clock depends on the load; the CPU time does not.
awk -v n="$RECORDS" '/User time/{u=$NF} /System time/{s=$NF} END{printf "records per CPU second: %.0f\n", n/(u+s)}' "$DIR/time.txt"
ls -l "$DIR/audit.db" | awk '{printf "database: %.0f MiB\n", $5 / 1048576}'
