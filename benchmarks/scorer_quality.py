"""How well the scorer agrees with an interviewer's grades on the hand-graded answer set.

Prints Spearman's rank correlation between score and grade (target >= 0.85), the mean and range of the score
per grade against its band, and the mean per kind of answer (keyword lists, wrong-prompt answers, ...), for
the whole set and for its dev and test halves (the scorer's constants were tuned on dev only).
Run: .venv/bin/python benchmarks/scorer_quality.py [--worst N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import yaml
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _table import print_table

from mlsd_coach.catalog import load_catalog
from mlsd_coach.scoring import Scorer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "graded_answers.yaml"
BANDS = {3: (80, 100), 2: (45, 70), 1: (15, 40), 0: (0, 10)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worst", type=int, default=0, help="also list the N answers furthest from their band")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    answers = yaml.safe_load(args.data.read_text(encoding="utf-8"))
    scorer = Scorer(load_catalog())
    scorer.warm_up()
    scored = [(a, scorer.score(a["prompt"], a["step"], a["answer"] or "").score) for a in answers]

    rows = []
    for split in ("all", "dev", "test"):
        subset = [(a, s) for a, s in scored if split == "all" or a.get("split") == split]
        rho = spearmanr([a["grade"] for a, _ in subset], [s for _, s in subset]).statistic
        in_band = sum(BANDS[a["grade"]][0] - 5 <= s <= BANDS[a["grade"]][1] + 5 for a, s in subset) / len(subset)
        rows.append([split, len(subset), f"{rho:.3f}", ">= 0.85", "ok" if rho >= 0.85 else "LOW", f"{in_band:.0%}"])
    print_table(["split", "answers", "spearman", "target", "", "within band ±5"], rows, "Score vs grade")
    print()

    by_grade: dict[int, list[float]] = defaultdict(list)
    for a, s in scored:
        by_grade[a["grade"]].append(s)
    rows = []
    for grade in sorted(by_grade, reverse=True):
        values = by_grade[grade]
        low, high = BANDS[grade]
        rows.append(
            [
                grade,
                len(values),
                f"{statistics.mean(values):.1f}",
                f"{statistics.median(values):.1f}",
                f"{min(values):.0f}-{max(values):.0f}",
                f"{low}-{high}",
            ]
        )
    print_table(["grade", "n", "mean", "median", "range", "band"], rows, "Score per grade")
    print()

    by_kind: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for a, s in scored:
        by_kind[a.get("kind", "?")].append((a["grade"], s))
    rows = [
        [kind, len(v), f"{statistics.mean(g for g, _ in v):.2f}", f"{statistics.mean(s for _, s in v):.1f}"]
        for kind, v in sorted(by_kind.items(), key=lambda kv: -statistics.mean(s for _, s in kv[1]))
    ]
    print_table(["kind", "n", "mean grade", "mean score"], rows, "Score per kind of answer")

    if args.worst:
        print()

        def distance(item: tuple[dict, float]) -> float:
            low, high = BANDS[item[0]["grade"]]
            return max(low - item[1], item[1] - high, 0)

        worst = sorted(scored, key=distance, reverse=True)[: args.worst]
        print_table(
            ["id", "grade", "score", "band"],
            [[a["id"], a["grade"], f"{s:.0f}", "{}-{}".format(*BANDS[a["grade"]])] for a, s in worst],
            "Furthest from their band",
        )


if __name__ == "__main__":
    main()
