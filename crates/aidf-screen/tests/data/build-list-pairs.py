#!/usr/bin/env python3
"""Generate list-derived labelled pairs (list-pairs.csv) from the CSL snapshot, reproducibly.

Usage: python3 build-list-pairs.py [../../../../../shared/data/lists/csl.csv] > list-pairs.csv

Positives are variants of one listed name that an officer would call the same party: a typo in
its longest word, another legal form, a person's name as "Given Surname" without the middle names.
Negatives are two different listed parties whose names share their first word (siblings of a
group, e.g. two Huawei affiliates) or, for persons, a given name. Names with parentheses or
"Affiliated Entity" are skipped (they carry several names at once).
"""
import csv
import random
import re
import sys

rng = random.Random(20261130)
path = sys.argv[1] if len(sys.argv) > 1 else "../../../../../shared/data/lists/csl.csv"
rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
LEGAL = ["Co., Ltd.", "Company Limited", "Limited", "Ltd", "LLC", "Corporation", "Corp.", "Inc."]
LEGAL_RE = re.compile(r",?\s*(Co\.,? Ltd\.?|Company Limited|Limited|Ltd\.?|LLC|Corporation|Corp\.?|Inc\.?)$", re.I)


def clean(name):
    return "(" not in name and "affiliated" not in name.lower() and ";" not in name


def key(name):
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", name.lower()).split())


orgs = [r for r in rows if r["type"] != "Individual" and clean(r["name"]) and len(r["name"].split()) >= 2]
persons = [r for r in rows if r["type"] == "Individual" and "," in r["name"] and clean(r["name"])]
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["schema", "name1", "name2", "label", "category", "rationale"])


def typo(name):
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) < 6:
        return None
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


for r in rng.sample(orgs, 70):
    t = typo(r["name"])
    if t and key(t) != key(r["name"]):
        out.writerow(["Company", t, r["name"], 1, "list_typo", f"{r['source'][:40]}: adjacent letters swapped in the longest word"])

legal = [r for r in orgs if LEGAL_RE.search(r["name"])]
for r in rng.sample(legal, 50):
    base = LEGAL_RE.sub("", r["name"]).strip()
    other = rng.choice(LEGAL)
    out.writerow(["Company", f"{base} {other}", r["name"], 1, "list_legal_form", f"{r['source'][:40]}: legal form replaced by {other}"])

for r in rng.sample(persons, 50):
    surname, given = [p.strip() for p in r["name"].split(",", 1)]
    if not given:
        continue
    first = given.split()[0]
    out.writerow(["Person", f"{first} {surname.title()}", r["name"], 1, "list_person_order", "given name first, middle names dropped"])

by_first = {}
for r in orgs:
    first = key(r["name"]).split()[0]
    if len(first) >= 4:
        by_first.setdefault(first, []).append(r)
groups = [g for g in by_first.values() if len({key(r["name"]) for r in g}) >= 2]
count = 0
for g in rng.sample(groups, min(len(groups), 120)):
    a, b = rng.sample(g, 2)
    aliases = {key(x) for x in a["alt_names"].split("; ") + b["alt_names"].split("; ")}
    if key(a["name"]) == key(b["name"]) or key(a["name"]) in aliases or key(b["name"]) in aliases:
        continue
    if LEGAL_RE.sub("", a["name"]).strip().lower() == LEGAL_RE.sub("", b["name"]).strip().lower():
        continue
    out.writerow(["Company", a["name"], b["name"], 0, "list_sibling", "two different listed parties sharing their first word"])
    count += 1
    if count >= 60:
        break

by_given = {}
for r in persons:
    given = r["name"].split(",", 1)[1].split()
    if given:
        by_given.setdefault(given[0].lower(), []).append(r)
count = 0
for g in rng.sample([g for g in by_given.values() if len(g) >= 2], 80):
    a, b = rng.sample(g, 2)
    if a["name"].split(",")[0].lower() == b["name"].split(",")[0].lower():
        continue
    out.writerow(["Person", a["name"], b["name"], 0, "list_same_given_name", "two different listed persons sharing a given name"])
    count += 1
    if count >= 50:
        break
