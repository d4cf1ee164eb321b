"""Benchmark of `mlsd demo feed`: wall time, memory, NDCG ratios and per-request latency against the targets.

Each configuration runs the real command (`python -m mlsd_coach demo feed --json`) in its own process, so
the wall time includes start-up and the peak memory (ru_maxrss of that process) is the whole run's.

    python benchmarks/demo_feed.py                 # default size, then --items 1000000
    python benchmarks/demo_feed.py --seeds 0,1,2   # NDCG ratios over several worlds
    python benchmarks/demo_feed.py --skip-1m
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

TARGET_POPULARITY_RATIO = 1.25
TARGET_ORACLE_RATIO = 0.85
TARGET_P99_MS = 15.0
TARGET_WALL_S = 30.0
TARGET_MEMORY_MB = 2048.0


@dataclass(frozen=True)
class Measurement:
    """One run of the command."""

    label: str
    items: int
    seed: int
    wall_s: float
    peak_mb: float
    payload: dict[str, Any]


def run_once(label: str, items: int | None, seed: int) -> Measurement:
    """Run the demo in a child process and collect its JSON, wall time and peak RSS."""
    command = [sys.executable, "-m", "mlsd_coach", "demo", "feed", "--json", "--seed", str(seed)]
    if items is not None:
        command += ["--items", str(items)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        # wait4 reports this child's own peak memory, not the maximum over all children so far.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr}")
    peak_kb = usage.ru_maxrss  # kilobytes on Linux
    payload = json.loads(stdout)
    return Measurement(label, payload["params"]["items"], seed, wall, peak_kb / 1024, payload)


def _verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]missed[/red]"


def main() -> None:
    """Run the configurations and print the tables (default = 20K users, 100K articles)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds for the default-size run")
    parser.add_argument("--skip-1m", action="store_true", help="skip the 1,000,000-article run")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    console = Console(width=max(120, Console().width))
    console.print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")

    runs = [run_once("default", None, seed) for seed in seeds]
    if not args.skip_1m:
        runs.append(run_once("1M articles", 1_000_000, seeds[0]))

    quality = Table(title="Quality and cost per run")
    for column in (
        "run",
        "seed",
        "wall s",
        "peak MB",
        "NDCG pop",
        "NDCG two-stage",
        "NDCG oracle",
        "÷ pop",
        "÷ oracle",
    ):
        quality.add_column(column, justify="left" if column == "run" else "right")
    for m in runs:
        ndcg = m.payload["metrics"]["ndcg@20"]
        quality.add_row(
            m.label,
            str(m.seed),
            f"{m.wall_s:.1f}",
            f"{m.peak_mb:.0f}",
            f"{ndcg['popularity']:.4f}",
            f"{ndcg['two_stage']:.4f}",
            f"{ndcg['oracle']:.4f}",
            f"{ndcg['two_stage'] / ndcg['popularity']:.2f}×",
            f"{ndcg['two_stage'] / ndcg['oracle']:.2f}×",
        )
    console.print(quality)

    latency = Table(title="Per-request latency, ms (p50 / p99), one request at a time on one thread")
    for column in ("run", "candidate generation", "features", "ranking", "total", "recall@500 hnsw / ivf_pq"):
        latency.add_column(column, justify="left" if column == "run" else "right")
    for m in runs:
        lat = m.payload["latency_ms"]
        recall = m.payload["metrics"]["recall@500"]
        latency.add_row(
            f"{m.label}, seed {m.seed}",
            *(
                f"{lat[s]['p50']:.2f} / {lat[s]['p99']:.2f}"
                for s in ("candidate_generation", "features", "ranking", "total")
            ),
            f"{recall['hnsw']:.3f} / {recall['ivf_pq']:.3f}",
        )
    console.print(latency)

    default = [m for m in runs if m.items == 100_000]
    worst_pop = min(
        m.payload["metrics"]["ndcg@20"]["two_stage"] / m.payload["metrics"]["ndcg@20"]["popularity"] for m in default
    )
    worst_oracle = min(
        m.payload["metrics"]["ndcg@20"]["two_stage"] / m.payload["metrics"]["ndcg@20"]["oracle"] for m in default
    )
    slowest = max(m.wall_s for m in default)
    p99 = max(m.payload["latency_ms"]["total"]["p99"] for m in default)
    targets = Table(title="Targets")
    for column in ("target", "measured", "verdict"):
        targets.add_column(column)
    targets.add_row(
        f"default run ≤ {TARGET_WALL_S:.0f} s", f"{slowest:.1f} s (slowest seed)", _verdict(slowest <= TARGET_WALL_S)
    )
    targets.add_row(
        f"two-stage ≥ {TARGET_POPULARITY_RATIO} × popularity",
        f"{worst_pop:.2f}× (worst seed)",
        _verdict(worst_pop >= TARGET_POPULARITY_RATIO),
    )
    targets.add_row(
        f"two-stage ≥ {TARGET_ORACLE_RATIO} × oracle",
        f"{worst_oracle:.2f}× (worst seed)",
        _verdict(worst_oracle >= TARGET_ORACLE_RATIO),
    )
    targets.add_row(
        f"p99 per request ≤ {TARGET_P99_MS:.0f} ms at 100K", f"{p99:.2f} ms", _verdict(p99 <= TARGET_P99_MS)
    )
    big = [m for m in runs if m.items == 1_000_000]
    if big:
        targets.add_row(
            f"--items 1000000 within {TARGET_MEMORY_MB / 1024:.0f} GB",
            f"{big[0].peak_mb:.0f} MB peak, p99 {big[0].payload['latency_ms']['total']['p99']:.2f} ms",
            _verdict(big[0].peak_mb <= TARGET_MEMORY_MB),
        )
    console.print(targets)
    console.print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine inflates wall times)")


if __name__ == "__main__":
    main()
