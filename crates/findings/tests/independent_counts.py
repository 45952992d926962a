#!/usr/bin/env python3
"""Counts of scanner outputs by tool, status and severity, written separately from the
Rust parsers from the counting rules of tests/fixtures/README.md, so the tests
compare two implementations. Usage: independent_counts.py <file or folder>..."""
import csv, json, os, sys
from collections import defaultdict

counts = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

def add(tool, status, severity):
    counts[tool][status][(severity or "unknown").lower()] += 1

PROWLER = {"PASS": "pass", "FAIL": "fail", "MANUAL": "manual", "INFO": "info", "WARNING": "warning"}
POWERPIPE = {"ok": "pass", "alarm": "fail", "info": "info", "skip": "skipped", "error": "error"}

def custodian(folder):
    meta = {}
    if os.path.exists(os.path.join(folder, "metadata.json")):
        meta = json.load(open(os.path.join(folder, "metadata.json")))
    severity = ((meta.get("policy") or {}).get("metadata") or {}).get("severity", "unknown")
    path = os.path.join(folder, "resources.json")
    if not os.path.exists(path):
        add("custodian", "error", severity)
        return
    resources = json.load(open(path))
    for _ in resources:
        add("custodian", "fail", severity)
    if not resources:
        add("custodian", "pass", severity)

def powerpipe_group(group, seen):
    for control in group.get("controls") or []:
        if control["control_id"] in seen:
            continue
        seen.add(control["control_id"])
        severity = control.get("severity") or (control.get("tags") or {}).get("severity") or "unknown"
        for row in control.get("results") or []:
            add("steampipe", POWERPIPE[row["status"]], severity)
    for child in group.get("groups") or []:
        powerpipe_group(child, seen)

def read(path):
    text = open(path, encoding="utf-8-sig").read()
    start = text.lstrip()
    if start.startswith("scoutsuite_results"):
        results = json.loads(text[text.index("=") + 1:])
        for service in results["services"].values():
            for rule in (service.get("findings") or {}).values():
                severity = {"danger": "high", "warning": "medium"}.get(rule.get("level"), "unknown")
                for _ in rule.get("items") or []:
                    add("scout", "fail", severity)
                if not rule.get("items"):
                    add("scout", "pass" if rule.get("checked_items", 0) > 0 else "not_evaluated", severity)
    elif start.startswith("["):
        for item in json.loads(text):
            if "status_code" in item:
                muted = item.get("status") == "Suppressed"
                add("prowler", "muted" if muted else PROWLER[item["status_code"]], item["severity"])
            else:
                add("prowler", "muted" if item.get("Muted") else PROWLER[item["Status"]], item["Severity"])
    elif start.startswith("{"):
        powerpipe_group(json.loads(text), set())
    elif ";" in text.splitlines()[0]:
        for row in csv.DictReader(text.splitlines(keepends=True), delimiter=";"):
            muted = row.get("MUTED", "").lower() == "true"
            add("prowler", "muted" if muted else PROWLER[row["STATUS"]], row["SEVERITY"])
    elif "control_id" in text.splitlines()[0]:
        parent_of = {}
        for row in csv.DictReader(text.splitlines(keepends=True)):
            if parent_of.setdefault(row["control_id"], row["group_id"]) != row["group_id"]:
                continue
            add("steampipe", POWERPIPE[row["status"]], row.get("severity") or "unknown")

def walk(path):
    if os.path.isdir(path):
        names = os.listdir(path)
        if "custodian-run.log" in names or "metadata.json" in names:
            custodian(path)
            return
        for name in sorted(names):
            walk(os.path.join(path, name))
    else:
        read(path)

for argument in sys.argv[1:]:
    walk(argument)
print(json.dumps(counts, sort_keys=True))
