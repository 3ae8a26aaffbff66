"""``make bench``: run every benchmark module and print each figure beside its same-run baseline.

Machines here are noisy, so no figure is judged alone: each is a ratio to a baseline measured moments apart
in the same process or shell. ``--quick`` shrinks the data sets (for a smoke run); ``--only NAME`` picks one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

MODULES = ("startup", "enrol", "password_send", "campaign", "audit", "staff", "login_timing", "scale")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller data sets")
    parser.add_argument("--only", action="append", choices=MODULES, help="run only these modules")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    for name in args.only or MODULES:
        if importlib.util.find_spec(f"bench.{name}") is None:
            print(f"{name}: not written yet", file=sys.stderr)
            continue
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"running bench/{name}.py …", file=sys.stderr, flush=True)
        results += module.run(args.quick)
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    from tabulate import tabulate

    rows = [
        [
            r["name"],
            f"{r['value']:,.4g} {r['unit']}",
            r["baseline"],
            f"{r['baseline_value']:,.4g} {r['unit']}",
            f"{r['ratio']:.2f}",
            r["target"],
            "yes" if r["ok"] else "NO",
        ]
        for r in results
    ]
    print(
        tabulate(rows, headers=["figure", "value", "baseline (same run)", "baseline value", "ratio", "target", "met"])
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    import importlib.util

    sys.exit(main())
