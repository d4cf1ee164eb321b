"""Every demo at its default size: headline metric, model vs baseline, and wall time (target <= 30 s each).

Each demo runs in a fresh process (`mlsd demo ID --json`), as a user would run it, so the time includes
importing numpy, scikit-learn and faiss. Run: .venv/bin/python benchmarks/demos.py [--seed N] [IDS...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

from mlsd_coach.demo import SCENARIOS

TARGET_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="demos to run (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if s.available and (not args.ids or s.id in args.ids)]
    rows = []
    for scenario in chosen:
        argv = [sys.executable, "-m", "mlsd_coach", "demo", scenario.id, "--seed", str(args.seed), "--json"]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            rows.append([scenario.id, "FAILED", done.stderr.strip().splitlines()[-1:], "", "", f"{seconds:.1f}", ""])
            continue
        head = json.loads(done.stdout)["headline"]
        better = head["model"] > head["baseline"] if head["higher_is_better"] else head["model"] < head["baseline"]
        rows.append(
            [
                scenario.id,
                head["metric"] + (" ↑" if head["higher_is_better"] else " ↓"),
                f"{head['model']:.4f} ({head.get('model_name', 'model')})",
                f"{head['baseline']:.4f} ({head.get('baseline_name', 'baseline')})",
                "model" if better else "BASELINE",
                f"{seconds:.1f}",
                "ok" if seconds <= TARGET_SECONDS else "OVER",
            ]
        )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print_table(
        ["demo", "headline", "model", "baseline", "wins", "seconds", f"<= {TARGET_SECONDS:.0f} s"],
        rows,
        title=f"Demos at default size, seed {args.seed} (largest child process: {peak_mb:.0f} MB)",
    )


if __name__ == "__main__":
    main()
