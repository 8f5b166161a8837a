#!/usr/bin/env python3
"""Checks the house rules of src/ (docs/architecture.md):

- no import loops between files (a part's mod.rs and its own children may
  refer to each other: mod.rs is the part's front door);
- the arrows between parts run one way: pg/ imports no part, fdw/ imports no
  wrapper, wrappers import neither each other nor governance, audit imports
  nothing from governance;
- only pg/ and fdw/ define `extern "C-unwind"` callbacks for Postgres
  (SQL-callable functions of the V1 convention excepted, and `_PG_init`).

Prints each violation and exits 1 if there is any.
"""
import os
import re
import sys
from collections import defaultdict

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
SRC = os.path.normpath(SRC)

WRAPPERS = {"iceberg", "clickhouse"}
# part -> parts it must not import
FORBIDDEN = {
    "pg": {"fdw", "iceberg", "clickhouse", "governance", "audit", "pii", "catalog", "transform", "metadata"},
    "fdw": WRAPPERS | {"governance", "audit", "pii", "transform", "metadata"},
    "iceberg": {"clickhouse", "governance"},
    "clickhouse": {"iceberg", "governance"},
    "audit": {"governance", "pii", "iceberg", "clickhouse"},
}


def module_files():
    files = {}
    for root, _, names in os.walk(SRC):
        for n in names:
            if n.endswith(".rs"):
                path = os.path.join(root, n)
                rel = os.path.relpath(path, SRC)
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "mod":
                    parts = parts[:-1]
                if parts == ["lib"]:
                    parts = []
                files[tuple(parts)] = rel
    return files


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if '"' not in line else line for line in text.splitlines())


def inline_test_mods(text):
    """Drop `#[cfg(test)] mod tests { ... }` blocks (tests may import freely)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def resolve(path_parts, files):
    """Longest prefix of a module path that is a file."""
    for k in range(len(path_parts), 0, -1):
        if tuple(path_parts[:k]) in files:
            return tuple(path_parts[:k])
    return None


def references(mod, text, files):
    refs = set()
    for m in re.finditer(r"\b((?:crate|super|self)(?:::\w+)+)", text):
        segs = m.group(1).split("::")
        base = list(mod)
        is_mod_rs = files[mod].endswith("mod.rs") or mod == ()
        if segs[0] == "crate":
            path = segs[1:]
        elif segs[0] == "self":
            path = base + segs[1:]
        else:
            # `super` of a file foo.rs is its parent module; of a mod.rs, the grandparent
            up = base if not is_mod_rs else base
            n_super = 0
            while n_super < len(segs) and segs[n_super] == "super":
                n_super += 1
            up = base[: len(base) - n_super] if not is_mod_rs else base[: len(base) - n_super]
            path = up + segs[n_super:]
        target = resolve(path, files)
        if target is not None and target != mod:
            refs.add(target)
    # `use foo::...` of a sibling module declared in the same mod.rs
    for m in re.finditer(r"^\s*use\s+(\w+)::", text, flags=re.M):
        name = m.group(1)
        if name in ("crate", "super", "self", "std", "pgrx", "core", "alloc"):
            continue
        parent = list(mod) if files[mod].endswith("mod.rs") or mod == () else list(mod[:-1])
        target = resolve(parent + [name], files)
        if target is not None and target != mod:
            refs.add(target)
    return refs


def main():
    files = module_files()
    graph = defaultdict(set)
    problems = []
    for mod, rel in files.items():
        text = inline_test_mods(strip_comments(open(os.path.join(SRC, rel)).read()))
        graph[mod] = references(mod, text, files)
        part = mod[0] if mod else None
        for target in graph[mod]:
            tpart = target[0] if target else None
            if part in FORBIDDEN and tpart in FORBIDDEN[part]:
                problems.append(f"{rel}: part {part}/ must not import {tpart}/ ({'::'.join(target)})")
        if part not in ("pg", "fdw") and mod != ():
            for m in re.finditer(r'(?:pub\s+)?(?:unsafe\s+)?extern\s+"C(?:-unwind)?"\s+fn\s+(\w+)\s*\(([^)]*)\)', text):
                name, args = m.group(1), m.group(2)
                if "FunctionCallInfo" in args:  # an SQL function of the V1 convention
                    continue
                problems.append(f"{rel}: extern callback {name} belongs in src/pg/ or src/fdw/")

    def parent_child(a, b):
        return (len(a) + 1 == len(b) and b[:-1] == a) or (len(b) + 1 == len(a) and a[:-1] == b)

    # strongly connected components (Tarjan) on file edges, minus parent<->child
    edges = {m: {t for t in ts if not parent_child(m, t)} for m, ts in graph.items()}
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in list(edges):
        if v not in index:
            strong(v)
    for comp in comps:
        names = sorted(files[m] for m in comp)
        problems.append("import loop between: " + ", ".join(names))
    for p in problems:
        print(p)
    print(f"{len(files)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
