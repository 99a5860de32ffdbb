#!/usr/bin/env python3
"""Build policy/chips.toml, aidf's own accelerator catalog, from the shared facts file.

Usage: python3 scripts/build-catalog.py [../shared/data/chips.csv] > policy/chips.toml

The CSV is the researched source (vendor figures, die areas, sources, confidence); this script only
gives each row a stable id and short aliases, and keeps the dense rate and bit length as exact
decimal strings so the engine recomputes TPP and PD itself. The CSV's own `tpp` and `eccn_oct2023`
columns are carried as `expected_*` fields: a test checks the engine agrees with them.

`policy/chips-supplement.csv` (id, field, value, estimate, source, note) adds figures the facts file
lacks, each with its source: die areas (or bounds) where a chip's class depends on PD. A row marked
`estimate = yes` makes the chip's `die_area_estimate` true, and classifications resting on it report
the assumption `catalog_die_area_estimate`. Interconnect comes from the facts file's
`interconnect_gbs`/`interconnect_source` columns.
"""
import csv
import os
import re
import sys

# Stable ids and extra short names, keyed by the CSV's "vendor|model". Ids never change once
# published; names may be added.
IDS = {
    "NVIDIA|A100 SXM4 80GB": ("nvidia-a100-sxm", ["A100 SXM", "A100 SXM4"]),
    "NVIDIA|A100 PCIe 80GB": ("nvidia-a100-pcie", ["A100 PCIe"]),
    "NVIDIA|A800 SXM4 80GB": ("nvidia-a800-sxm", ["A800 SXM"]),
    "NVIDIA|A800 PCIe 80GB": ("nvidia-a800-pcie", ["A800 PCIe"]),
    "NVIDIA|H100 SXM5 80GB": ("nvidia-h100-sxm", ["H100 SXM", "H100 SXM5", "H100"]),
    "NVIDIA|H100 PCIe 80GB": ("nvidia-h100-pcie", ["H100 PCIe"]),
    "NVIDIA|H100 NVL (per GPU)": ("nvidia-h100-nvl", ["H100 NVL"]),
    "NVIDIA|H800 SXM5 80GB": ("nvidia-h800-sxm", ["H800 SXM", "H800"]),
    "NVIDIA|H20": ("nvidia-h20", ["H20"]),
    "NVIDIA|H200 SXM 141GB": ("nvidia-h200-sxm", ["H200 SXM", "H200"]),
    "NVIDIA|H200 NVL": ("nvidia-h200-nvl", ["H200 NVL"]),
    "NVIDIA|B100": ("nvidia-b100", ["B100"]),
    "NVIDIA|B200 (HGX, SXM6 180GB)": ("nvidia-b200", ["B200"]),
    "NVIDIA|GB200 (per Blackwell GPU)": ("nvidia-gb200", ["GB200"]),
    "NVIDIA|B300 (HGX, Blackwell Ultra)": ("nvidia-b300", ["B300"]),
    "NVIDIA|GB300 (per Blackwell Ultra GPU)": ("nvidia-gb300", ["GB300"]),
    "NVIDIA|B30A (reported China Blackwell)": ("nvidia-b30a", ["B30A"]),
    "NVIDIA|L40S": ("nvidia-l40s", ["L40S"]),
    "NVIDIA|L40": ("nvidia-l40", ["L40"]),
    "NVIDIA|L20": ("nvidia-l20", ["L20"]),
    "NVIDIA|L4": ("nvidia-l4", ["L4"]),
    "NVIDIA|L2": ("nvidia-l2", ["L2"]),
    "NVIDIA|GeForce RTX 4090": ("nvidia-rtx-4090", ["RTX 4090"]),
    "NVIDIA|GeForce RTX 4090D": ("nvidia-rtx-4090d", ["RTX 4090D"]),
    "NVIDIA|GeForce RTX 5090": ("nvidia-rtx-5090", ["RTX 5090"]),
    "NVIDIA|GeForce RTX 5090D": ("nvidia-rtx-5090d", ["RTX 5090D"]),
    "NVIDIA|RTX 6000 Ada Generation": ("nvidia-rtx-6000-ada", ["RTX 6000 Ada"]),
    "NVIDIA|RTX PRO 6000 Blackwell (Server / Workstation Ed.)": ("nvidia-rtx-pro-6000", ["RTX PRO 6000"]),
    "AMD|Instinct MI210": ("amd-mi210", ["MI210"]),
    "AMD|Instinct MI250X": ("amd-mi250x", ["MI250X"]),
    "AMD|Instinct MI300X": ("amd-mi300x", ["MI300X"]),
    "AMD|Instinct MI300A": ("amd-mi300a", ["MI300A"]),
    "AMD|Instinct MI308X (China)": ("amd-mi308x", ["MI308X", "MI308"]),
    "AMD|Instinct MI325X": ("amd-mi325x", ["MI325X"]),
    "AMD|Instinct MI350X": ("amd-mi350x", ["MI350X"]),
    "AMD|Instinct MI355X": ("amd-mi355x", ["MI355X"]),
    "Intel|Gaudi 2 (HL-225)": ("intel-gaudi2", ["Gaudi 2", "Gaudi2"]),
    "Intel|Gaudi 3 (HL-325L OAM)": ("intel-gaudi3", ["Gaudi 3", "Gaudi3"]),
    "Intel|Gaudi 3 China variants (HL-328 OAM / HL-388 PCIe)": ("intel-gaudi3-china", ["HL-328", "HL-388"]),
    "Huawei|Ascend 910B (910B2 SKU)": ("huawei-ascend-910b", ["Ascend 910B", "910B2"]),
    "Huawei|Ascend 910B4": ("huawei-ascend-910b4", ["Ascend 910B4", "910B4"]),
    "Huawei|Ascend 910C": ("huawei-ascend-910c", ["Ascend 910C", "910C"]),
    "Cambricon|MLU370-X8": ("cambricon-mlu370-x8", ["MLU370-X8", "MLU370"]),
    "Cambricon|MLU290-M5": ("cambricon-mlu290-m5", ["MLU290-M5", "MLU290"]),
    "Cambricon|MLU590": ("cambricon-mlu590", ["MLU590"]),
    "Google|TPU v4": ("google-tpu-v4", ["TPU v4", "TPUv4"]),
    "Google|TPU v5e": ("google-tpu-v5e", ["TPU v5e"]),
    "Google|TPU v5p": ("google-tpu-v5p", ["TPU v5p"]),
    "Google|TPU v6e (Trillium)": ("google-tpu-v6e", ["TPU v6e", "Trillium"]),
    "Google|TPU v7 (Ironwood)": ("google-tpu-v7", ["TPU v7", "Ironwood"]),
    "AWS|Trainium (Trn1)": ("aws-trainium1", ["Trainium", "Trainium1", "Trn1"]),
    "AWS|Trainium2": ("aws-trainium2", ["Trainium2", "Trn2"]),
    "AWS|Inferentia2": ("aws-inferentia2", ["Inferentia2", "Inf2"]),
    "Cerebras|WSE-3": ("cerebras-wse-3", ["WSE-3", "WSE3"]),
    "Groq|GroqChip / LPU v1 (TSP)": ("groq-lpu-v1", ["GroqChip", "LPU v1"]),
    "Tenstorrent|Wormhole n150 (1 ASIC)": ("tenstorrent-wormhole-n150", ["Wormhole n150", "n150"]),
    "Tenstorrent|Wormhole n300 (2 ASICs on one board)": ("tenstorrent-wormhole-n300", ["Wormhole n300", "n300"]),
    "Tenstorrent|Blackhole p150 (a/b)": ("tenstorrent-blackhole-p150", ["Blackhole p150", "p150"]),
}


# Fields the supplement may set.
SUPPLEMENT_FIELDS = ("die_area_mm2", "die_area_mm2_min", "die_area_mm2_max")


def read_supplement(path):
    """{id: {field: (value, estimate, source)}} from policy/chips-supplement.csv."""
    out = {}
    for i, r in enumerate(csv.DictReader(open(path, newline="", encoding="utf-8")), start=2):
        if r["field"] not in SUPPLEMENT_FIELDS:
            sys.exit(f"build-catalog: {path}:{i}: field {r['field']!r} is not one of {SUPPLEMENT_FIELDS}")
        if r["estimate"] not in ("yes", "no") or not r["source"].strip():
            sys.exit(f"build-catalog: {path}:{i}: give estimate yes/no and a source")
        out.setdefault(r["id"], {})[r["field"]] = (r["value"], r["estimate"] == "yes", r["source"])
    return out


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/chips.csv"
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    here = os.path.dirname(os.path.abspath(__file__))
    supplement = read_supplement(os.path.join(here, "..", "policy", "chips-supplement.csv"))
    unknown = set(supplement) - set(v[0] for v in IDS.values())
    if unknown:
        sys.exit(f"build-catalog: supplement rows for unknown ids: {sorted(unknown)}")
    out = [
        "# aidf accelerator catalog. GENERATED by scripts/build-catalog.py from shared/data/chips.csv;",
        "# edit the generator or the facts, not this file. Rates are dense (non-sparse) peak matrix",
        "# throughput in T(FL)OPS at the stated bit length; the engine computes TPP = rate x bits and",
        "# PD = TPP / die area itself. `expected_*` fields are the facts file's own figures, kept so a",
        "# test can check the engine agrees with them. Confidence: H vendor figure, M secondary, L estimate.",
        "# `interconnect_gbs` (aggregate bidirectional I/O, the 2022 rule's test) comes with its source;",
        "# die areas the facts lack come from policy/chips-supplement.csv with theirs (`die_area_estimate`",
        "# marks third-party estimates); `memory_bandwidth_tbs` is peak DRAM bandwidth (the 2026 H200 rule).",
        "schema = 1",
        "",
    ]
    seen = set()
    for r in rows:
        key = f"{r['vendor']}|{r['model']}"
        if key not in IDS:
            sys.exit(f"build-catalog: no id for row {key!r}; add it to IDS")
        cid, aliases = IDS[key]
        assert cid not in seen, cid
        seen.add(cid)
        notes = r["notes"].strip()
        m = re.match(r"Confidence ([HML](?:-[HML])?)", notes)
        out.append("[[chip]]")
        out.append(f"id = {toml_str(cid)}")
        out.append(f"vendor = {toml_str(r['vendor'])}")
        out.append(f"model = {toml_str(r['model'])}")
        out.append("aliases = [" + ", ".join(toml_str(a) for a in aliases) + "]")
        out.append(f"form_factor = {toml_str(r['form_factor'])}")
        if r["year"]:
            out.append(f"year = {int(r['year'])}")
        if r["dense_tops_at_that_precision"] and r["bit_length"]:
            out.append(
                f"rates = [{{ precision = {toml_str(r['precision_for_tpp'])}, "
                f"dense_tops = {toml_str(r['dense_tops_at_that_precision'])}, "
                f"bits = {int(r['bit_length'])} }}]"
            )
        else:
            out.append("rates = []")
        extra = supplement.get(cid, {})
        if r["die_area_mm2"]:
            if extra:
                sys.exit(f"build-catalog: {cid} has a die area in the facts file; drop its supplement rows")
            out.append(f"die_area_mm2 = {toml_str(r['die_area_mm2'])}")
            out.append(f"die_area_source = {toml_str(r['sources'])}")
        for field in SUPPLEMENT_FIELDS:
            if field in extra:
                out.append(f"{field} = {toml_str(extra[field][0])}")
        if extra:
            out.append(f"die_area_source = {toml_str('; '.join(sorted({e[2] for e in extra.values()})))}")
            if any(e[1] for e in extra.values()):
                out.append("die_area_estimate = true")
        dc = r["designed_for_datacenter"].strip() or "yes"
        out.append(f"datacenter = {toml_str({'yes': 'yes', 'no': 'no'}.get(dc, 'contested'))}")
        if r["memory_gb"]:
            out.append(f"memory_gb = {toml_str(r['memory_gb'])}")
        if r["memory_bandwidth_tbs"]:
            out.append(f"memory_bandwidth_tbs = {toml_str(r['memory_bandwidth_tbs'])}")
        if r["interconnect_gbs"]:
            out.append(f"interconnect_gbs = {toml_str(r['interconnect_gbs'])}")
            out.append(f"interconnect_source = {toml_str(r['interconnect_source'])}")
        if r["tpp"]:
            out.append(f"expected_tpp = {int(r['tpp'])}")
        out.append(f"expected_eccn_oct2023 = {toml_str(r['eccn_oct2023'])}")
        out.append(f"confidence = {toml_str(m.group(1) if m else 'M')}")
        out.append(f"sources = {toml_str(r['sources'])}")
        out.append(f"notes = {toml_str(notes)}")
        out.append("")
    missing = set(v[0] for v in IDS.values()) - seen
    if missing:
        sys.exit(f"build-catalog: ids with no row: {sorted(missing)}")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
