#!/usr/bin/env bash
# Batch screening throughput: `aidf screen --batch` over N generated names (default 1,000,000),
# release build. The names are a reproducible mix: a third listed names as published (from the
# embedded CSL snapshot), a third perturbed (typo, case, other legal form), a third on no list.
# Usage: scripts/bench-screen.sh [N] [path/to/aidf]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-1000000}"
aidf="${2:-${CARGO_TARGET_DIR:-target}/release/aidf}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$rows" "$work/names.csv" <<'PY'
import csv, gzip, random, sys
rows, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261130)
listed = [r["name"] for r in csv.DictReader(gzip.open("policy/lists/csl.csv.gz", "rt", encoding="utf-8"))]
unlisted = ["Acme Widgets of Ohio LLC", "Nordic Timber Holdings AB", "Maria Gonzalez Fernandez",
            "Shenzhen Bright Star Lighting Co Ltd", "Иван Петрович Сидоров", "شركة النور للتجارة",
            "北京明日科技有限公司", "Hans Mueller GmbH", "Pacific Rim Logistics Pte Ltd", "John A. Doe"]
def typo(name):
    if len(name) < 4:
        return name
    i = rng.randrange(1, len(name) - 1)
    return name[:i - 1] + name[i] + name[i - 1] + name[i + 1:]
with open(out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["name", "country"])
    for i in range(rows):
        kind = i % 3
        if kind == 0:
            w.writerow([rng.choice(listed), ""])
        elif kind == 1:
            name = rng.choice(listed)
            w.writerow([rng.choice([typo(name), name.upper(), name + " Limited"]), ""])
        else:
            w.writerow([f"{rng.choice(unlisted)} {rng.randrange(100000)}", rng.choice(["US", "DE", "CN", ""])])
PY
start=$(date +%s.%N)
/usr/bin/time -f "peak RSS %M KiB, %e s wall, %U s user" "$aidf" screen --batch "$work/names.csv" -o "$work/out.csv"
end=$(date +%s.%N)
python3 -c "import sys; rows, s, e = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(f'{rows} names in {e - s:.2f} s: {rows / (e - s):,.0f} names/s')" "$rows" "$start" "$end"
python3 -c "import csv, collections, sys; print(dict(collections.Counter(r['verdict'] for r in csv.DictReader(open(sys.argv[1], encoding='utf-8')))))" "$work/out.csv"
