"""Start-up time of the light commands: `mlsd --help` and `mlsd cheatsheet` against bare `python -c pass`.

Targets (issue 2): at most 0.20 s over bare Python for --help, 0.30 s for cheatsheet.
Run: .venv/bin/python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table, time_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    mlsd = [sys.executable, "-m", "mlsd_coach"]
    base = time_command([sys.executable, "-c", "pass"], args.runs)
    rows = [["python -c pass", base, "", "", ""]]
    for label, argv, target in (
        ("mlsd --help", [*mlsd, "--help"], 0.20),
        ("mlsd cheatsheet", [*mlsd, "cheatsheet"], 0.30),
        ("mlsd list --json", [*mlsd, "list", "--json"], None),
    ):
        median = time_command(argv, args.runs)
        over = median - base
        verdict = "" if target is None else ("ok" if over <= target else "OVER")
        rows.append([label, median, over, "" if target is None else f"<= {target:.2f}", verdict])
    print_table(
        ["command", "median s", "over bare python s", "target", ""],
        rows,
        title=f"Start-up, median of {args.runs} runs ({os.cpu_count()} CPUs)",
    )


if __name__ == "__main__":
    main()
