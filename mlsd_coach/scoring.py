"""Grade a free-text answer for one step of one prompt against its rubric, the way a senior interviewer would.

The score combines several signals, each aimed at a way an answer can look better than it is:

* **concept coverage** - each criterion's ideas, matched on many phrasings tolerant of inflection and word
  order (:mod:`mlsd_coach.matching`), weighted by the criterion weights;
* **articulation** - evidence inside a reasoned sentence or note counts fully, evidence inside a bare
  comma-separated keyword list counts for much less;
* **topicality** - TF-IDF similarity (scikit-learn) of the answer to every prompt's content: an answer that is
  plainly about another prompt is discounted;
* **similarity to the step's model answer** - a small share of the score;
* **echo removal** - sentences that merely restate the interviewer's question are ignored;
* **red flags** - named mistakes that take points off.

Everything here is pure: content in, :class:`ScoreResult` out, deterministic for a given answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mlsd_coach.catalog import Catalog, UnknownIdError
from mlsd_coach.matching import AnalysedText, Phrase, analyse, compile_phrase, find, negated
from mlsd_coach.schema import STEP_IDS, Criterion, RedFlag, StepRubric

if TYPE_CHECKING:
    from mlsd_coach.similarity import SimilarityModel

#: A criterion counts as covered from this share of its ideas on.
COVERED_AT = 0.5
#: Weighted coverage at which the coverage part of the score is full: strong answers rarely say everything.
FULL_COVERAGE = 0.72
#: Credit for evidence found only inside a bare keyword list, relative to evidence in a reasoned sentence.
LIST_CREDIT = 0.35
#: Share of the score given to similarity with the step's model answer.
SIMILARITY_SHARE = 0.12
#: Sentences whose meaningful words mostly repeat the question are treated as an echo of it.
ECHO_OVERLAP = 0.6


@dataclass(frozen=True)
class CriterionResult:
    """How one criterion fared."""

    id: str
    checks: str
    weight: float
    credit: float
    """Share of the criterion's ideas evidenced, 0 to 1, discounted when only listed without reasoning."""
    found: tuple[str, ...]
    """Names of the ideas evidenced."""
    missing: tuple[str, ...]
    """Names of the ideas not evidenced."""
    hint: str

    @property
    def covered(self) -> bool:
        """True when enough of the criterion was evidenced to count it as covered."""
        return self.credit >= COVERED_AT


@dataclass(frozen=True)
class RedFlagHit:
    """A red flag raised by the answer."""

    id: str
    message: str
    penalty: float

    def __str__(self) -> str:
        return f"{self.id}: {self.message}"


@dataclass(frozen=True)
class ScoreResult:
    """The grade of one answer: score 0-100, criteria covered and missed, red flags and feedback."""

    prompt: str
    step: str
    score: float
    covered: list[str]
    missed: list[str]
    red_flags: list[str]
    feedback: str
    criteria: tuple[CriterionResult, ...] = ()
    flags: tuple[RedFlagHit, ...] = ()
    signals: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    empty: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The ``mlsd score --json`` shape, with per-criterion detail and the signals appended."""
        return {
            "prompt": self.prompt,
            "step": self.step,
            "score": self.score,
            "covered": list(self.covered),
            "missed": list(self.missed),
            "red_flags": list(self.red_flags),
            "feedback": self.feedback,
            "criteria": [
                {**asdict(c), "found": list(c.found), "missing": list(c.missing), "covered": c.covered}
                for c in self.criteria
            ],
            "signals": dict(self.signals),
        }


@dataclass(frozen=True)
class _CompiledCriterion:
    criterion: Criterion
    concepts: tuple[tuple[Phrase, ...], ...]


@dataclass(frozen=True)
class _CompiledStep:
    rubric: StepRubric
    criteria: tuple[_CompiledCriterion, ...]
    flags: tuple[tuple[RedFlag, tuple[Phrase, ...], tuple[Phrase, ...]], ...]
    question_stems: frozenset[str]


class Scorer:
    """Scores answers against one catalog; compiles rubrics and fits the similarity model once, lazily."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._steps: dict[tuple[str, str], _CompiledStep] = {}
        self._similarity: SimilarityModel | None = None

    # ---------------------------------------------------------------------------------------- set-up

    def _compiled(self, prompt_id: str, step_id: str) -> _CompiledStep:
        key = (prompt_id, step_id)
        if key not in self._steps:
            if step_id not in STEP_IDS:
                raise UnknownIdError("step", step_id, STEP_IDS)
            prompt = self.catalog.prompt(prompt_id)
            rubric = self.catalog.step_rubric(prompt_id, step_id)
            criteria = tuple(
                _CompiledCriterion(c, tuple(tuple(compile_phrase(p) for p in concept) for concept in c.concepts))
                for c in rubric.criteria
            )
            flags = tuple(
                (flag, tuple(map(compile_phrase, flag.phrases)), tuple(map(compile_phrase, flag.unless)))
                for flag in rubric.all_red_flags()
            )
            question = analyse(prompt.question)
            self._steps[key] = _CompiledStep(rubric, criteria, flags, frozenset(question.stems))
        return self._steps[key]

    @property
    def similarity(self) -> SimilarityModel:
        """The TF-IDF model over all content (fitted on first use)."""
        if self._similarity is None:
            from mlsd_coach.similarity import SimilarityModel

            self._similarity = SimilarityModel.fit(self.catalog)
        return self._similarity

    def warm_up(self) -> None:
        """Compile every rubric and fit the similarity model now rather than on the first answer."""
        for prompt_id in self.catalog.rubrics:
            for step_id in STEP_IDS:
                self._compiled(prompt_id, step_id)
        _ = self.similarity

    # --------------------------------------------------------------------------------------- scoring

    def score(self, prompt_id: str, step_id: str, text: str) -> ScoreResult:
        """Grade ``text`` as the answer to one step of one prompt."""
        step = self._compiled(prompt_id, step_id)
        analysed = analyse(text)
        if analysed.is_empty:
            return self._empty(prompt_id, step)

        echo = _echo_segments(analysed, step.question_stems)
        usable = [i not in echo for i in range(len(analysed.segments))]
        articulation = [seg.articulation for seg in analysed.segments]

        results = tuple(_grade_criterion(c, analysed, usable, articulation) for c in step.criteria)
        total_weight = sum(r.weight for r in results) or 1.0
        coverage = sum(r.weight * r.credit for r in results) / total_weight

        sims = self.similarity.compare(analysed, prompt_id, step_id, usable)
        coverage_part = min(1.0, coverage / FULL_COVERAGE)
        similarity_part = sims["step_similarity_scaled"]
        raw = (1 - SIMILARITY_SHARE) * coverage_part + SIMILARITY_SHARE * similarity_part
        topicality = sims["topicality"]
        hits = _red_flags(step, analysed, usable)
        penalty = sum(h.penalty for h in hits)
        score = max(0.0, min(100.0, 100.0 * raw * topicality - penalty))
        if not any(usable):
            score = 0.0
        score = round(score, 1)

        signals = {
            "coverage": round(coverage, 4),
            "articulation": round(_mean_articulation(analysed, usable), 4),
            "step_similarity": round(sims["step_similarity"], 4),
            "topicality": round(topicality, 4),
            "closest_prompt_similarity": round(sims["best_other"], 4),
            "echo_share": round(1 - sum(usable) / max(1, len(usable)), 4),
            "penalty": penalty,
            "words": analysed.words,
        }
        covered = [r.id for r in results if r.covered]
        missed = [r.id for r in results if not r.covered]
        feedback = _feedback(
            score, results, hits, sims, self.catalog.prompt(prompt_id).title, echo_only=not any(usable)
        )
        return ScoreResult(
            prompt=prompt_id,
            step=step_id,
            score=score,
            covered=covered,
            missed=missed,
            red_flags=[str(h) for h in hits],
            feedback=feedback,
            criteria=results,
            flags=tuple(hits),
            signals=MappingProxyType(signals),
        )

    def _empty(self, prompt_id: str, step: _CompiledStep) -> ScoreResult:
        results = tuple(
            CriterionResult(c.id, c.checks, c.weight, 0.0, (), tuple(con[0] for con in c.concepts), c.hint)
            for c in step.rubric.criteria
        )
        return ScoreResult(
            prompt=prompt_id,
            step=step.rubric.step,
            score=0.0,
            covered=[],
            missed=[r.id for r in results],
            red_flags=[],
            feedback="The answer is empty, so there is nothing to score: say out loud what you would do in this step.",
            criteria=results,
            empty=True,
        )


# ------------------------------------------------------------------------------------------- pieces


def _echo_segments(text: AnalysedText, question: frozenset[str]) -> set[int]:
    """Segments that only restate the interviewer's question."""
    if not question:
        return set()
    by_segment: dict[int, list[str]] = {}
    for stem_, seg in zip(text.stems, text.segment_of, strict=True):
        by_segment.setdefault(seg, []).append(stem_)
    echo = set()
    for seg, stems in by_segment.items():
        overlap = sum(s in question for s in stems) / len(stems)
        if overlap >= ECHO_OVERLAP and len(stems) >= 2:
            echo.add(seg)
    return echo


def _grade_criterion(
    compiled: _CompiledCriterion, text: AnalysedText, usable: Sequence[bool], articulation: Sequence[float]
) -> CriterionResult:
    crit = compiled.criterion
    credits: list[float] = []
    found: list[str] = []
    missing: list[str] = []
    for names, phrases in zip(crit.concepts, compiled.concepts, strict=True):
        best = 0.0
        for phrase in phrases:
            for seg in find(phrase, text):
                if usable[seg]:
                    best = max(best, LIST_CREDIT + (1 - LIST_CREDIT) * articulation[seg])
            if best >= 1.0:
                break
        credits.append(best)
        (found if best > 0 else missing).append(names[0])
    credit = sum(credits) / len(credits) if credits else 0.0
    return CriterionResult(crit.id, crit.checks, crit.weight, round(credit, 4), tuple(found), tuple(missing), crit.hint)


def _red_flags(step: _CompiledStep, text: AnalysedText, usable: Sequence[bool]) -> list[RedFlagHit]:
    hits = []
    for flag, phrases, unless in step.flags:
        if any(find(p, text) for p in unless):
            continue
        for phrase in phrases:
            segments = [s for s in find(phrase, text) if usable[s] and not negated(text, s, phrase)]
            if segments:
                hits.append(RedFlagHit(flag.id, flag.message, flag.penalty))
                break
    return hits


def _mean_articulation(text: AnalysedText, usable: Sequence[bool]) -> float:
    weights = [(seg.words, seg.articulation) for seg, ok in zip(text.segments, usable, strict=True) if ok]
    total = sum(w for w, _ in weights)
    return sum(w * a for w, a in weights) / total if total else 0.0


def _feedback(
    score: float,
    results: Sequence[CriterionResult],
    hits: Sequence[RedFlagHit],
    sims: Mapping[str, Any],
    prompt_title: str,
    echo_only: bool,
) -> str:
    """Plain-text feedback: what was good, the most important misses with why they matter, red flags."""
    if echo_only:
        return "The answer only restates the question. Say what you would do: numbers, choices and trade-offs."
    lines: list[str] = []
    strong = sorted((r for r in results if r.credit >= 0.75), key=lambda r: -r.weight)
    if strong:
        lines.append("Good: " + "; ".join(r.checks.rstrip(".") for r in strong[:3]) + ".")
    partial = [r for r in results if 0 < r.credit < 0.75 and r.missing]
    misses = sorted((r for r in results if not r.covered), key=lambda r: (-r.weight, r.credit))
    if misses:
        lines.append("Most important misses:")
        for r in misses[:3]:
            lines.append(f"- {r.checks} Why it matters: {r.hint}")
    if partial:
        notes = [f"{r.id} (you covered {', '.join(r.found)}, not {', '.join(r.missing)})" for r in partial[:3]]
        lines.append("Go one step further on: " + "; ".join(notes) + ".")
    if any(r.found for r in results) and sims.get("list_like"):
        lines.append("Much of this reads as a list of terms: say why each choice fits this problem.")
    if sims["topicality"] < 0.75 and sims.get("closest_prompt"):
        lines.append(
            f"This reads like an answer to a different prompt ({sims['closest_prompt']}); "
            f"tie it to {prompt_title.lower()} specifically."
        )
    for hit in hits:
        lines.append(f"Red flag (-{hit.penalty:g}): {hit.message}")
    if not lines:
        lines.append("Nothing in the rubric was evidenced yet.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- public API


@lru_cache(maxsize=4)
def _default_scorer(content_dirs: tuple[str, ...]) -> Scorer:
    from mlsd_coach.catalog import load_catalog

    return Scorer(load_catalog(content_dirs))


def score_answer(prompt_id: str, step_id: str, text: str, *, catalog: Catalog | None = None) -> ScoreResult:
    """Score ``text`` as the answer to step ``step_id`` of prompt ``prompt_id`` (0-100, with feedback)."""
    scorer = Scorer(catalog) if catalog is not None else _default_scorer(())
    return scorer.score(prompt_id, step_id, text)
