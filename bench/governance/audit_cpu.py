"""CPU per statement of each process taking part in the audit, from
/proc/<pid>/stat during a pgbench run of point SELECTs through the published
view (issue 9): less sensitive to other load on the machine than tps.

Runs pgbench with `-P 1`; between its progress line at second 2 and the one
at second SECONDS-1 it reads the user+system time of the two pgbench
backends, the audit writer, the WAL writer and pgbench itself, and divides by
the statements committed meanwhile (the progress lines' tps, one per second).
Audit on and off alternate, RUNS times each. The data and roles are those of
governed_select.py (run it once first, with the same --rows).

    .venv/bin/python bench/governance/audit_cpu.py --port 5582 --rows 1000000 --seconds 8 --runs 4
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time

import psycopg
from psycopg import sql

ANALYST, PUB = "gbench_analyst", "gbench_pub"
TICK = os.sysconf("SC_CLK_TCK")
POINT = "\\set k random(1, {rows})\nSELECT id, region, amount FROM {t} WHERE id = :k;\n"


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return float("nan")
    # fields after the command: state is [0], utime [11], stime [12]
    return (int(fields[11]) + int(fields[12])) / TICK


def processes(conn, pgbench_pid: int) -> dict[str, list[int]]:
    rows = conn.execute(
        "SELECT pid, usename, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()").fetchall()
    out = {"backends": [], "audit writer": [], "walwriter": [], "pgbench": [pgbench_pid]}
    for pid, user, kind in rows:
        if user == ANALYST:
            out["backends"].append(pid)
        elif kind == "townlake audit writer":
            out["audit writer"].append(pid)
        elif kind == "walwriter":
            out["walwriter"].append(pid)
    return out


def snapshot(procs):
    return {k: {p: cpu_seconds(p) for p in pids} for k, pids in procs.items()}


def used(first, last):
    """CPU seconds between two snapshots, per kind of process (one that exited
    meanwhile, such as an idle audit writer, counts as 0)."""
    out = {}
    for k, pids in first.items():
        spent = [last[k][p] - t for p, t in pids.items() if last[k][p] == last[k][p]]
        out[k] = sum(spent)
    return out


def one_run(args, conn, on: bool):
    conn.execute(sql.SQL("ALTER ROLE {} {}").format(
        sql.Identifier(ANALYST), sql.SQL("RESET townlake.audit" if on else "SET townlake.audit = off")))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(POINT.format(rows=args.rows, t=f"{PUB}.events_{args.rows}"))
        script = f.name
    cmd = [args.pgbench, "-n", "-h", args.host, "-p", str(args.port), "-U", ANALYST, "-c", "2", "-j", "2",
           "-T", str(args.seconds), "-P", "1", "-M", "prepared", "-f", script, args.db]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs, first, last, statements = None, None, None, 0.0
    load = os.getloadavg()[0]
    for line in p.stderr:
        m = re.match(r"progress: ([0-9.]+) s, ([0-9.]+) tps", line)
        if not m:
            continue
        second, tps = round(float(m.group(1))), float(m.group(2))
        if second == 2:
            procs = processes(conn, p.pid)
            first = snapshot(procs)
        elif first is not None and second <= args.seconds - 1:
            statements += tps
            if second == args.seconds - 1:
                last = snapshot(procs)
    p.wait()
    os.unlink(script)
    if first is None or last is None or statements == 0:
        raise SystemExit("pgbench did not report progress as expected")
    return {k: v / statements * 1e6 for k, v in used(first, last).items()}, statements / (args.seconds - 3), load


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("TOWNLAKE_PORT", "5499")))
    ap.add_argument("--db", default="townlake_gov_bench")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--pgbench", default="/usr/lib/postgresql/15/bin/pgbench")
    args = ap.parse_args()
    results = {True: [], False: []}
    with psycopg.connect(host=args.host, port=args.port, user="postgres", dbname=args.db, autocommit=True) as conn:
        for i in range(args.runs):
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                us, tps, load = one_run(args, conn, on)
                results[on].append((us, tps, load))
                parts = ", ".join(f"{k} {v:.2f}" for k, v in us.items())
                print(f"audit {'on ' if on else 'off'}: {tps:8.0f} tps, load {load:.2f}; µs/statement: {parts}, "
                      f"total {sum(us.values()):.2f}", flush=True)
        conn.execute(sql.SQL("ALTER ROLE {} RESET townlake.audit").format(sql.Identifier(ANALYST)))
        time.sleep(1)
        verified = conn.execute("SELECT lake.verify_audit()").fetchone()[0]
    print("medians (µs of CPU per statement):")
    for on in (True, False):
        keys = results[on][0][0].keys()
        med = {k: statistics.median(r[0][k] for r in results[on]) for k in keys}
        total = statistics.median(sum(r[0].values()) for r in results[on])
        tps = statistics.median(r[1] for r in results[on])
        print(f"  audit {'on ' if on else 'off'}: " + ", ".join(f"{k} {v:.2f}" for k, v in med.items())
              + f"; total {total:.2f}; {tps:.0f} tps")
    print(f"verify_audit() = {verified}")


if __name__ == "__main__":
    main()
