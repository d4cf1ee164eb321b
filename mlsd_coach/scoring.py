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
from mlsd_coach.schema import STEP_IDS, Criterion, RedFlag, StepRubric, idea_name

if TYPE_CHECKING:
    from mlsd_coach.similarity import SimilarityModel

#: A criterion counts as covered from this share of its ideas on.
COVERED_AT = 0.5


@dataclass(frozen=True)
class ScoringConfig:
    """The scorer's constants, tuned on the dev half of tests/data/graded_answers.yaml (see benchmarks/)."""

    full_coverage: float = 0.85
    """Weighted coverage at which the coverage part of the score is full: strong answers rarely say it all."""
    curve: float = 0.45
    """Exponent of the coverage curve; below 1 it lifts thin-but-relevant answers toward the middle band."""
    list_credit: float = 0.3
    """Credit for evidence found only inside a bare keyword list, relative to a reasoned sentence."""
    similarity_share: float = 0.2
    """Share of the score given to similarity with the step's model answer."""
    echo_overlap: float = 0.6
    """Sentences whose meaningful words mostly repeat the question (or the facts) are an echo of it."""
    topicality_exponent: float = 1.5
    """How hard an answer that reads as another prompt's is discounted (similarity ratio to this power)."""


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
    evidence: tuple[str, ...] = ()
    """The phrasings that matched, one per idea found (why the scorer believes it)."""

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
                {
                    **asdict(c),
                    "found": list(c.found),
                    "missing": list(c.missing),
                    "evidence": list(c.evidence),
                    "covered": c.covered,
                }
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
    given_stems: frozenset[str]
    """The question's stems plus, after clarify, the facts' stems."""


class Scorer:
    """Scores answers against one catalog; compiles rubrics and fits the similarity model once, lazily."""

    def __init__(self, catalog: Catalog, config: ScoringConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or ScoringConfig()
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
            question = frozenset(analyse(prompt.question).stems)
            # After the clarify step, reciting the interviewer's facts back is no more an answer than the question.
            facts = " ".join(f.answer for f in prompt.facts) if step_id != "clarify" else ""
            given = question | frozenset(analyse(facts).stems)
            self._steps[key] = _CompiledStep(rubric, criteria, flags, question, given)
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

        cfg = self.config
        echo = _echo_segments(analysed, step.question_stems, step.given_stems, cfg.echo_overlap)
        usable = [i not in echo for i in range(len(analysed.segments))]
        articulation = [seg.articulation for seg in analysed.segments]

        graded = [_grade_criterion(c, analysed, usable, articulation, cfg.list_credit) for c in step.criteria]
        results = tuple(result for result, _ in graded)
        total_weight = sum(r.weight for r in results) or 1.0
        coverage = sum(r.weight * r.credit for r in results) / total_weight
        # How much was said at all, ignoring how: the coverage curve applies to this, and the reasoning
        # discount afterwards, so that a bare list of the right words cannot ride the curve up.
        said = sum(r.weight * plain for r, plain in zip(results, (p for _, p in graded), strict=True)) / total_weight
        reasoning = coverage / said if said else 0.0

        sims = self.similarity.compare(analysed, prompt_id, step_id, usable, cfg.topicality_exponent)
        coverage_part = min(1.0, said / cfg.full_coverage) ** cfg.curve * reasoning
        similarity_part = sims["step_similarity_scaled"] * reasoning
        raw = (1 - cfg.similarity_share) * coverage_part + cfg.similarity_share * similarity_part
        topicality = sims["topicality"]
        hits = _red_flags(step, analysed, usable)
        penalty = sum(h.penalty for h in hits)
        score = max(0.0, min(100.0, 100.0 * raw * topicality - penalty))
        if not any(usable):
            score = 0.0
        score = round(score, 1)

        signals = {
            "coverage": round(coverage, 4),
            "said": round(said, 4),
            "reasoning": round(reasoning, 4),
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


def _echo_segments(text: AnalysedText, question: frozenset[str], given: frozenset[str], threshold: float) -> set[int]:
    """Segments that only restate the interviewer's question, or the question together with its facts.

    Facts alone are not enough: a strong answer reuses their vocabulary all the time.
    """
    by_segment: dict[int, list[str]] = {}
    for stem_, seg in zip(text.stems, text.segment_of, strict=True):
        by_segment.setdefault(seg, []).append(stem_)
    echo = set()
    for seg, stems in by_segment.items():
        if len(stems) < 2:
            continue
        on_question = sum(s in question for s in stems) / len(stems)
        on_given = sum(s in given for s in stems) / len(stems)
        if on_question >= threshold or (on_given >= 0.8 and on_question >= threshold / 2):
            echo.add(seg)
    return echo


def _grade_criterion(
    compiled: _CompiledCriterion,
    text: AnalysedText,
    usable: Sequence[bool],
    articulation: Sequence[float],
    list_credit: float,
) -> tuple[CriterionResult, float]:
    """Grade one criterion; also return the share of its ideas evidenced at all, however they were said."""
    crit = compiled.criterion
    credits: list[float] = []
    found: list[str] = []
    missing: list[str] = []
    evidence: list[str] = []
    for names, phrases in zip(crit.concepts, compiled.concepts, strict=True):
        best, best_phrase = 0.0, ""
        for phrase in phrases:
            for seg in find(phrase, text):
                credit = list_credit + (1 - list_credit) * articulation[seg]
                if usable[seg] and credit > best:
                    best, best_phrase = credit, phrase.text
            if best >= 1.0:
                break
        credits.append(best)
        (found if best > 0 else missing).append(names[0])
        if best_phrase:
            evidence.append(best_phrase)
    credit = sum(credits) / len(credits) if credits else 0.0
    plain = len(found) / len(credits) if credits else 0.0
    result = CriterionResult(
        crit.id, crit.checks, crit.weight, round(credit, 4), tuple(found), tuple(missing), crit.hint, tuple(evidence)
    )
    return result, plain


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
        notes = [
            f"{r.id} (you covered {', '.join(map(idea_name, r.found))}, not {', '.join(map(idea_name, r.missing))})"
            for r in partial[:3]
        ]
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
