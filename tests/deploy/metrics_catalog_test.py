#!/usr/bin/env python3
"""Checks the metrics catalogue (docs/metrics.md) against the code and the dashboard.

Usage: metrics_catalog_test.py SOURCE_DIR

Fails (exit 1, one line per problem) when:
  - a metric family registered in the C++ sources (`prometheus::BuildX().Name("weir_...")`
    in coordinator/, worker/, featurestore/, common/; tests excluded) is missing from
    docs/metrics.md, is listed under another daemon's section, or is listed with a type
    other than the BuildCounter/BuildGauge/BuildHistogram/BuildSummary that registers it;
  - docs/metrics.md lists a metric the code does not register, or lists one twice;
  - deploy/grafana/weir.json is not valid JSON, or one of its queries names a metric
    (after stripping _bucket/_sum/_count) the catalogue does not list, uses _bucket on
    a non-histogram, or uses a label (in a `{...}` selector, a `by (...)`/`without (...)`
    clause or label_values()) that the catalogue does not list for that metric (`le`
    excepted).

Standard library only.
"""

import json
import os
import re
import sys

SOURCE_DIRS = {"coordinator": "coordinator", "worker": "worker", "featurestore": "featurestore", "common": None,
               "daemon": None}
CATALOGUE = os.path.join("docs", "metrics.md")
DASHBOARD = os.path.join("deploy", "grafana", "weir.json")
TYPES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
IDENT = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME = re.compile(r"\bweir_[a-zA-Z0-9_:]+")
BUILD = re.compile(r"Build(Counter|Gauge|Histogram|Summary)\s*\(\s*\)\s*\.\s*Name\s*\(\s*\"([^\"]+)\"")
ANY_NAME = re.compile(r"\.\s*Name\s*\(\s*\"(weir_[^\"]*)\"")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")
GROUPING = re.compile(r"\b(by|without)\s*\(([^()]*)\)")
LABEL_VALUES = re.compile(r"label_values\s*\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{[^}]*\})?\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)")


def strip_comments(code):
    """Drops // and /* */ comments (not inside string literals), so a name in a comment is not taken
    for a registration."""
    out = []
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c in "\"'":
            j = i + 1
            while j < n and code[j] != c and code[j] != "\n":
                j += 2 if code[j] == "\\" else 1
            out.append(code[i:j + 1])
            i = j + 1
        elif code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            out.append(" ")
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def registered_metrics(root, problems):
    """{name: (type, daemon dir, file)} of every weir_ family the sources register."""
    found = {}
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith("build") and d not in ("test", "tests")]
            for name in sorted(filenames):
                if not name.endswith((".cc", ".h")) or name.endswith(("_test.cc", "_test.h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    code = strip_comments(f.read())
                typed = {}
                for kind, metric in BUILD.findall(code):
                    typed.setdefault(metric, []).append(TYPES[kind])
                for metric in ANY_NAME.findall(code):
                    if metric not in typed:
                        problems.append(f"{rel}: registers {metric} but its Build{{Counter,Gauge,Histogram,Summary}}() "
                                        f"could not be found right before .Name(...); keep them together")
                for metric, kinds in typed.items():
                    if not metric.startswith("weir_"):
                        continue
                    if len(set(kinds)) > 1 or (metric in found and found[metric][2] != rel):
                        where = f"{found[metric][2]} and {rel}" if metric in found else rel
                        problems.append(f"{metric} is registered more than once ({where})")
                    found[metric] = (kinds[0], top, rel)
    return found


def catalogue_metrics(text, problems):
    """{name: {"type", "labels", "section", "line"}} from the markdown tables of the catalogue."""
    entries = {}
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.lstrip().startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`(weir_[a-zA-Z0-9_:]+)`", cells[0]) if cells else None
        if m is None:
            continue
        name = m.group(1)
        where = f"{CATALOGUE}:{number}"
        if len(cells) < 4:
            problems.append(f"{where}: the row of {name} needs 4 cells: | name | type | labels | meaning |")
            continue
        kind = cells[1].strip("` ").lower()
        if kind not in TYPES.values():
            problems.append(f"{where}: {name} has type \"{cells[1]}\"; use counter, gauge, histogram or summary")
        labels = set()
        for label in cells[2].replace("`", "").split(","):
            label = label.strip()
            if label in ("", "-", "—", "(none)", "none"):
                continue
            if not IDENT.match(label):
                problems.append(f"{where}: {name} lists label \"{label}\", which is not a label name "
                                f"(the labels cell holds names only, comma-separated)")
                continue
            labels.add(label)
        if name in entries:
            problems.append(f"{where}: {name} is listed twice (also line {entries[name]['line']})")
        entries[name] = {"type": kind, "labels": labels, "section": section, "line": number}
    return entries


def balanced_group(expr, start):
    """The text inside the parenthesis opening at expr[start], or None."""
    depth = 0
    for i in range(start, len(expr)):
        if expr[i] == "(":
            depth += 1
        elif expr[i] == ")":
            depth -= 1
            if depth == 0:
                return expr[start + 1:i]
    return None


def group_before(expr, end):
    """The text inside the parenthesised group closing just before expr[end] (whitespace skipped), or None."""
    i = end - 1
    while i >= 0 and expr[i].isspace():
        i -= 1
    if i < 0 or expr[i] != ")":
        return None
    depth = 0
    for j in range(i, -1, -1):
        if expr[j] == ")":
            depth += 1
        elif expr[j] == "(":
            depth -= 1
            if depth == 0:
                return expr[j + 1:i]
    return None


def resolve(name, catalogue):
    """The catalogue name a series name refers to, and an error or None."""
    if name in catalogue:
        if catalogue[name]["type"] == "histogram":
            return name, f"{name} is a histogram: query {name}_bucket, _sum or _count, not the bare name"
        return name, None
    for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                          ("_count", ("histogram", "summary"))):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in catalogue:
                if catalogue[base]["type"] not in kinds:
                    return base, f"{name}: {base} is a {catalogue[base]['type']}, it has no {suffix} series"
                return base, None
    return None, f"{name} is not in {CATALOGUE}"


def check_expr(expr, where, catalogue, problems):
    """Checks one PromQL expression (or a Grafana variable query)."""
    metrics_in = {}
    for m in METRIC_NAME.finditer(expr):
        base, error = resolve(m.group(0), catalogue)
        if error:
            problems.append(f"{where}: {error}")
        if base is None:
            continue
        metrics_in.setdefault(base, []).append(m)
        # A selector right after the name: its matchers' labels belong to this metric.
        rest = expr[m.end():]
        sel = re.match(r"\s*\{([^}]*)\}", rest)
        if sel:
            for label in MATCHER.findall(sel.group(1)):
                if label != "le" and label not in catalogue[base]["labels"]:
                    problems.append(f"{where}: label \"{label}\" of {m.group(0)} is not listed for {base} in "
                                    f"{CATALOGUE} (its labels: {sorted(catalogue[base]['labels']) or 'none'})")
    # by (...) / without (...): each label must be a label of every metric the aggregation covers.
    for g in GROUPING.finditer(expr):
        after = re.match(r"\s*\(", expr[g.end():])
        if after:
            inner = balanced_group(expr, g.end() + after.end() - 1)
        else:
            inner = group_before(expr, g.start())
        scope = inner if inner is not None else expr
        covered = set()
        for m in METRIC_NAME.finditer(scope):
            base, _ = resolve(m.group(0), catalogue)
            if base is not None:
                covered.add(base)
        for label in [x.strip() for x in g.group(2).split(",") if x.strip()]:
            if label == "le":
                continue
            for base in sorted(covered):
                if label not in catalogue[base]["labels"]:
                    problems.append(f"{where}: `{g.group(1)} ({g.group(2).strip()})` groups {base} by \"{label}\", "
                                    f"which {CATALOGUE} does not list for it "
                                    f"(its labels: {sorted(catalogue[base]['labels']) or 'none'})")
    for metric, label in LABEL_VALUES.findall(expr):
        base, _ = resolve(metric, catalogue)
        if base is not None and label not in catalogue[base]["labels"]:
            problems.append(f"{where}: label_values({metric}, {label}): \"{label}\" is not listed for {base} "
                            f"in {CATALOGUE}")


def dashboard_queries(dashboard):
    """(where, expression) of every panel target and templating query."""
    out = []

    def panels(items, prefix):
        for p in items or []:
            title = p.get("title", "?")
            for t in p.get("targets", []) or []:
                if isinstance(t, dict) and isinstance(t.get("expr"), str):
                    out.append((f"{DASHBOARD}: panel \"{title}\" target {t.get('refId', '?')}", t["expr"]))
            panels(p.get("panels"), prefix)

    panels(dashboard.get("panels"), "")
    for v in (dashboard.get("templating") or {}).get("list", []) or []:
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if isinstance(q, str) and v.get("type") == "query":
            out.append((f"{DASHBOARD}: variable ${v.get('name', '?')}", q))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = sys.argv[1]
    problems = []

    code = registered_metrics(root, problems)
    if not code:
        problems.append(f"no weir_ metric registrations found under {root}: wrong SOURCE_DIR?")

    try:
        with open(os.path.join(root, CATALOGUE), encoding="utf-8") as f:
            catalogue = catalogue_metrics(f.read(), problems)
    except OSError as e:
        print(f"FAIL: cannot read {CATALOGUE}: {e}")
        return 1

    for name, (kind, top, rel) in sorted(code.items()):
        if name not in catalogue:
            problems.append(f"{name} ({kind}, registered in {rel}) is missing from {CATALOGUE}")
            continue
        entry = catalogue[name]
        if entry["type"] != kind:
            problems.append(f"{CATALOGUE}:{entry['line']}: {name} is listed as a {entry['type']}, but {rel} "
                            f"registers it with Build{kind.capitalize()}()")
        daemon = SOURCE_DIRS[top]
        if daemon is not None and daemon not in entry["section"].lower():
            problems.append(f"{CATALOGUE}:{entry['line']}: {name} is registered in {top}/ but listed under "
                            f"\"## {entry['section']}\"")
    for name, entry in sorted(catalogue.items(), key=lambda kv: kv[1]["line"]):
        if name not in code:
            problems.append(f"{CATALOGUE}:{entry['line']}: {name} is listed, but no source registers it "
                            f"(removed or renamed? drop or fix the row)")

    try:
        with open(os.path.join(root, DASHBOARD), encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f"{DASHBOARD}: not readable as JSON: {e}")
        dashboard = None
    # The catalogue's own PromQL examples must hold too.
    with open(os.path.join(root, CATALOGUE), encoding="utf-8") as f:
        blocks = re.findall(r"^```promql\n(.*?)^```", f.read(), flags=re.S | re.M)
    for number, block in enumerate(blocks, 1):
        check_expr(block, f"{CATALOGUE}: PromQL example block {number}", catalogue, problems)

    if dashboard is not None:
        queries = dashboard_queries(dashboard)
        if not queries:
            problems.append(f"{DASHBOARD}: no queries found (panels[].targets[].expr)")
        for where, expr in queries:
            check_expr(expr, where, catalogue, problems)

    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        print(f"{len(problems)} problem(s); the catalogue is {CATALOGUE}")
        return 1
    print(f"ok: {len(code)} metric families registered and catalogued; "
          f"{len(dashboard_queries(dashboard))} dashboard queries use only catalogued metrics and labels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
