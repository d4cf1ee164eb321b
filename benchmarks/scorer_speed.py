"""How fast the scorer is: one answer once warm (target <= 20 ms median), a multi-megabyte answer, and
the whole-process time of `mlsd score` (which pays the scikit-learn import once).

Run: .venv/bin/python benchmarks/scorer_speed.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table, time_command

from mlsd_coach.catalog import load_catalog
from mlsd_coach.scoring import Scorer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "graded_answers.yaml"


def main() -> None:
    answers = [a for a in yaml.safe_load(DATA.read_text(encoding="utf-8")) if a["answer"]]
    start = time.perf_counter()
    catalog = load_catalog()
    loaded = time.perf_counter()
    scorer = Scorer(catalog)
    scorer.warm_up()
    warm = time.perf_counter()

    samples = []
    for _ in range(3):
        for a in answers:
            t = time.perf_counter()
            scorer.score(a["prompt"], a["step"], a["answer"])
            samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    median, p95 = statistics.median(samples), samples[int(0.95 * len(samples))]

    big = (catalog.step_rubric("feed", "data").model_answer + "\n") * 2500
    t = time.perf_counter()
    scorer.score("feed", "data", big)
    big_s = time.perf_counter() - t

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
        handle.write(answers[0]["answer"])
    cli = [
        sys.executable,
        "-m",
        "mlsd_coach",
        "score",
        "-p",
        answers[0]["prompt"],
        "-s",
        answers[0]["step"],
        "-a",
        handle.name,
        "--json",
    ]
    process_s = time_command(cli, runs=5, warmup=1)
    Path(handle.name).unlink()

    verdict = "ok" if median <= 20 else "OVER"
    rows = [
        ["load content (6 prompts, 42 rubrics)", f"{(loaded - start) * 1000:.0f} ms", ""],
        ["warm-up (compile rubrics, fit TF-IDF)", f"{(warm - loaded) * 1000:.0f} ms", ""],
        [f"score one answer, median of {len(samples)}", f"{median:.2f} ms", f"<= 20 ms {verdict}"],
        ["score one answer, p95", f"{p95:.2f} ms", ""],
        [f"score a {len(big) / 1e6:.1f} MB answer", f"{big_s:.2f} s", "seconds, not minutes"],
        ["`mlsd score` whole process, median of 5", f"{process_s:.2f} s", ""],
    ]
    print_table(["what", "time", "target"], rows, "Scorer speed")


if __name__ == "__main__":
    main()
