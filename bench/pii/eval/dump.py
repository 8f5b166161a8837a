#!/usr/bin/env python3
"""Dumps the development set (only: the held-out sets are not for tuning) to JSON for the offline
runner in src/pii/classifier/devrun.rs. Usage: dump.py OUT.json [--seed N] [--rows N] [--set dev|dev9|dev10|dev11]"""
import json
import sys

import evalset

out = sys.argv[1]
seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else None
rows = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 150
which = sys.argv[sys.argv.index("--set") + 1] if "--set" in sys.argv else "dev"
if which not in ("dev", "dev9", "dev10", "dev11"):
    sys.exit("only the development sets (dev, dev9, dev10, dev11) are dumped")
tables = evalset.build(which, seed, rows)
with open(out, "w") as f:
    json.dump([{"table": t.name, "columns": [{"name": c.name, "type": c.sql_type, "families": sorted(c.families),
                                               "source": c.source,
                                               "values": [None if v is None else str(v) for v in c.values]}
                                              for c in t.columns]} for t in tables], f, ensure_ascii=False)
