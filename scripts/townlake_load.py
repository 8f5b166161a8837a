#!/usr/bin/env python3
"""Load a townlake project into a database: a directory of `.sql` model files
with YAML front matter, or a YAML project file, through lake.load_project
(one statement: all or nothing). Standard library only; talks to the
database with psql, so the usual libpq settings apply (PGHOST, PGPORT,
PGDATABASE, PGUSER, ~/.pgpass) or --dsn.

A model file `models/hourly.sql`:

    ---
    target: marts.hourly
    materialization: table
    schedule: "@hourly"
    ---
    SELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM src.events GROUP BY 1

Every front-matter key of a model in the YAML reference (docs/transformations.md)
may be used; `name` defaults to the file name without `.sql`. A `project.yml`
(or `.yaml`) in the directory supplies `defaults` (and `name`, `version`) for
every model. The files are joined into one project in file-name order; an
error names the file and line (and column) it comes from.

    scripts/townlake_load.py models/            # a directory
    scripts/townlake_load.py analytics.yml      # a YAML project file
    scripts/townlake_load.py --dry-run models/  # print the combined project
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^---\s*$")


class LoadError(Exception):
    pass


class Combined:
    """The project text being built, and where each of its lines came from."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.origin: list[tuple[str, int, int] | None] = []  # (file, line, indent added)

    def add(self, text: str, origin: tuple[str, int, int] | None) -> None:
        self.lines.append(text)
        self.origin.append(origin)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def where(self, line: int, column: int | None) -> str | None:
        if not 1 <= line <= len(self.origin) or self.origin[line - 1] is None:
            return None
        file, src_line, indent = self.origin[line - 1]  # type: ignore[misc]
        if column is None:
            return f"{file}:{src_line}"
        return f"{file}:{src_line}:{max(1, column - indent)}"


def split_front_matter(path: str, text: str) -> tuple[list[str], int, list[str], int]:
    """(front-matter lines, their first line number, SQL lines, theirs)."""
    lines = text.splitlines()
    if not lines or not FENCE.match(lines[0]):
        raise LoadError(f"{path}:1: a model file starts with a '---' line, then YAML front matter, then '---' and the SQL")
    for i in range(1, len(lines)):
        if FENCE.match(lines[i]):
            return lines[1:i], 2, lines[i + 1:], i + 2
    raise LoadError(f"{path}:1: the front matter has no closing '---' line")


def model_entry(out: Combined, path: str, text: str) -> None:
    front, front_line, body, body_line = split_front_matter(path, text)
    keys = {m.group(1) for m in (re.match(r"^([A-Za-z_]+)\s*:", ln) for ln in front) if m}
    for bad in ("sql", "models", "pipelines"):
        if bad in keys:
            n = next(i for i, ln in enumerate(front) if re.match(rf"^{bad}\s*:", ln))
            raise LoadError(f"{path}:{front_line + n}: \"{bad}\" does not belong in a model file's front matter "
                            "(the SQL is the file's body)")
    while body and not body[-1].strip():
        body.pop()
    first = 0
    while first < len(body) and not body[first].strip():
        first += 1
    if first == len(body):
        raise LoadError(f"{path}:{body_line}: the file has no SQL after its front matter")
    stem = os.path.splitext(os.path.basename(path))[0]
    if "name" in keys:
        out.add("  -", (path, front_line, 0))
    else:
        out.add(f"  - name: {stem}", (path, 1, 0))
    for i, ln in enumerate(front):
        out.add(f"    {ln}", (path, front_line + i, 4))
    out.add("    sql: |-", (path, body_line + first, 0))
    for i, ln in enumerate(body[first:]):
        out.add(f"      {ln}" if ln.strip() else "", (path, body_line + first + i, 6))


def combine_directory(directory: str) -> tuple[Combined, str]:
    names = sorted(os.listdir(directory))
    project_files = [n for n in names if n in ("project.yml", "project.yaml")]
    sql_files = [n for n in names if n.endswith(".sql")]
    if not sql_files:
        raise LoadError(f"{directory}: no .sql model files")
    out = Combined()
    if project_files:
        path = os.path.join(directory, project_files[0])
        with open(path, encoding="utf-8") as f:
            for i, ln in enumerate(f.read().splitlines()):
                if re.match(r"^models\s*:", ln):
                    raise LoadError(f"{path}:{i + 1}: a directory's project.yml holds defaults; its models are the .sql files")
                out.add(ln, (path, i + 1, 0))
    out.add("models:", None)
    for n in sql_files:
        path = os.path.join(directory, n)
        with open(path, encoding="utf-8") as f:
            model_entry(out, path, f.read())
    return out, directory


def combine_file(path: str) -> tuple[Combined, str]:
    out = Combined()
    with open(path, encoding="utf-8") as f:
        for i, ln in enumerate(f.read().splitlines()):
            out.add(ln, (path, i + 1, 0))
    return out, path


# lake.load_project's errors start with "<file>:<line>[:<column>]: ".
POSITION = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?: ")


def translate(message: str, combined: Combined, label: str) -> str:
    def fix(line: str) -> str:
        m = POSITION.match(line)
        if not m or m.group("file") != label:
            return line
        where = combined.where(int(m.group("line")), int(m.group("col")) if m.group("col") else None)
        return line if where is None else where + ": " + line[m.end():]
    return "\n".join(fix(ln) if "ERROR" not in ln else re.sub(r"ERROR:\s+(.*)", lambda m: "ERROR:  " + fix(m.group(1)), ln)
                     for ln in message.splitlines())


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="Load a townlake project (a directory of .sql model files, or a YAML file).")
    ap.add_argument("path", help="a directory of .sql files with YAML front matter, or a .yml/.yaml project file")
    ap.add_argument("--dsn", help="libpq connection string (default: the PG* environment)")
    ap.add_argument("--psql", default=os.environ.get("PSQL", "psql"), help="the psql to use")
    ap.add_argument("--dry-run", action="store_true", help="print the combined YAML project and stop")
    args = ap.parse_args(argv)
    try:
        if os.path.isdir(args.path):
            combined, label = combine_directory(args.path.rstrip("/") or "/")
        elif args.path.endswith((".yml", ".yaml")):
            combined, label = combine_file(args.path)
        else:
            raise LoadError(f"{args.path}: not a directory or a .yml/.yaml file")
    except (LoadError, OSError) as e:
        print(f"townlake_load: {e}", file=sys.stderr)
        return 2
    text = combined.text()
    if args.dry_run:
        sys.stdout.write(text)
        return 0
    cmd = [args.psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-v", f"project={text}", "-v", f"label={label}"]
    if args.dsn:
        cmd += ["-d", args.dsn]
    sql = "SELECT pg_catalog.array_to_string(lake.load_project(:'project', :'label'), E'\\n');\n"
    proc = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if proc.returncode != 0:
        print(translate(proc.stderr.strip(), combined, label), file=sys.stderr)
        return 1
    for name in proc.stdout.split():
        print(f"defined {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
