"""The content model: what a prompt, a rubric and the framework are, as frozen dataclasses.

The YAML files under ``prompts/`` and ``rubrics/`` are parsed into these types by :mod:`mlsd_coach.catalog`;
nothing else in the package reads YAML. Each field's docstring is the documentation for content authors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The seven steps of the framework, in interview order. Their ids are a public contract.
STEP_IDS: tuple[str, ...] = ("clarify", "frame", "data", "features", "model", "evaluation", "serving")

#: The prompts that ship with mlsd-coach. Users may add more with a content folder of their own.
SHIPPED_PROMPT_IDS: tuple[str, ...] = ("feed", "search", "fraud", "ctr", "moderation", "llm")

#: What kind of ML task a prompt is at heart; it links the prompt to a row of the metric table.
TASK_TYPES: tuple[str, ...] = ("ranking", "retrieval", "classification", "regression", "generation")

#: What an interviewer fact is about; the clarify step is judged on asking about each topic.
FACT_TOPICS: tuple[str, ...] = ("scale", "latency", "metric", "constraints", "data")


def idea_name(phrasing: str) -> str:
    """How a concept's phrasing reads to a candidate: ``#`` (any number, in content) is shown as N."""
    return phrasing.replace("#", "N")


@dataclass(frozen=True)
class StepGuide:
    """One step of the framework as the cheat-sheet and the interview present it."""

    id: str
    """Step id, one of :data:`STEP_IDS`."""
    number: int
    """Position in the framework, 1 to 7."""
    title: str
    """Short human title, e.g. "Clarify requirements"."""
    goal: str
    """One sentence: what the candidate must achieve in this step."""
    minutes: int
    """Suggested share of a 45-minute interview, in minutes; the interview timer paces by it."""
    questions: tuple[str, ...]
    """Guiding questions the candidate should be asking themselves (and often the interviewer) here."""


@dataclass(frozen=True)
class MetricRow:
    """A row of the metric table: the right offline and online metrics for one kind of task."""

    task: str
    """The kind of task, e.g. "Ranking / recommendation"."""
    offline: tuple[str, ...]
    """Offline metrics that fit the task."""
    online: tuple[str, ...]
    """Online (A/B) metrics and guardrails that fit the task."""
    trap: str
    """The metric mistake interviewers most often hear for this task, and why it is a mistake."""


@dataclass(frozen=True)
class Framework:
    """The prompt-independent part of the content: steps, metric table, the two-stage pattern."""

    steps: tuple[StepGuide, ...]
    """The seven steps, in :data:`STEP_IDS` order."""
    metric_table: tuple[MetricRow, ...]
    """Offline and online metrics per task type."""
    two_stage: str
    """A plain-text diagram of candidate generation followed by ranking."""
    two_stage_notes: tuple[str, ...]
    """Why the two-stage split works, one point per line."""
    principles: tuple[str, ...]
    """Habits that hold across every prompt (baseline first, online wins, talk about drift...)."""
    source: str = ""
    """The file this was loaded from."""

    def step(self, step_id: str) -> StepGuide:
        """Return the guide for one step id."""
        for guide in self.steps:
            if guide.id == step_id:
                return guide
        raise KeyError(step_id)


@dataclass(frozen=True)
class Fact:
    """Something the simulated interviewer knows and reveals only when the candidate asks about it."""

    id: str
    """Unique id within the prompt, e.g. "scale"."""
    topic: str
    """One of :data:`FACT_TOPICS`."""
    answer: str
    """What the interviewer says when asked, with concrete numbers."""
    triggers: tuple[str, ...]
    """Phrasings of a question that reveal this fact; matched like rubric concepts (inflection and word
    order tolerant, ``#`` stands for any number)."""


@dataclass(frozen=True)
class Probe:
    """A follow-up question an interviewer asks when a criterion was missed."""

    step: str
    """Step id the probe belongs to."""
    target: str
    """Id of the criterion (in the same step of the rubric) this probe digs into."""
    ask: str
    """The question, as the interviewer would say it."""


@dataclass(frozen=True)
class Prompt:
    """One interview prompt: the question, the hidden facts and the follow-up probes."""

    id: str
    """Short id, also the file name: ``prompts/<id>.yaml``."""
    title: str
    """Human title, e.g. "News feed ranking"."""
    question: str
    """The one-line question the interviewer opens with."""
    task_type: str
    """One of :data:`TASK_TYPES`."""
    pitch: str
    """Two or three sentences: the shape of a strong design, for the cheat-sheet."""
    facts: tuple[Fact, ...]
    """Interviewer facts revealed in the clarify step when asked for."""
    probes: tuple[Probe, ...]
    """Follow-up probes, each aimed at one criterion of one step."""
    sketch: Mapping[str, str]
    """Step id -> one or two lines: what a strong answer says in that step (the one-screen sketch)."""
    source: str = ""
    """The file this prompt was loaded from."""

    def probes_for(self, step_id: str) -> tuple[Probe, ...]:
        """Return the probes of one step, in file order."""
        return tuple(p for p in self.probes if p.step == step_id)


@dataclass(frozen=True)
class RedFlag:
    """A phrase pattern that signals a mistake a senior interviewer would mark down."""

    id: str
    """Unique id within the step."""
    phrases: tuple[str, ...]
    """Phrasings that raise the flag (matched like concepts)."""
    message: str
    """Shown to the candidate: what the mistake is and why it hurts, in one sentence."""
    penalty: float = 10.0
    """Points taken off the 0-100 step score when the flag is raised."""
    unless: tuple[str, ...] = ()
    """Phrasings that defuse the flag when they also appear (e.g. "accuracy is misleading")."""


@dataclass(frozen=True)
class Criterion:
    """One thing a senior interviewer listens for in one step of one prompt."""

    id: str
    """Unique id within the step, kebab-case, e.g. "position-bias"."""
    checks: str
    """What the criterion checks, as a short sentence (shown as the ✔/✘ line)."""
    weight: float
    """Relative importance within the step (1 = nice to have, 3 = must have)."""
    concepts: tuple[tuple[str, ...], ...]
    """The distinct ideas that evidence the criterion; each idea is a tuple of alternative phrasings.
    Full credit needs every idea; the first phrasing names the idea in feedback."""
    hint: str
    """Why it matters, in one or two sentences; shown when the criterion is missed."""
    red_flags: tuple[RedFlag, ...] = ()
    """Mistakes tied to this criterion."""


@dataclass(frozen=True)
class StepRubric:
    """The rubric of one step of one prompt."""

    step: str
    """Step id."""
    criteria: tuple[Criterion, ...]
    """Five to nine criteria."""
    model_answer: str
    """A short strong answer for this step, in the project's own words."""
    red_flags: tuple[RedFlag, ...] = ()
    """Step-wide mistakes (e.g. naming a model while still clarifying)."""

    @property
    def total_weight(self) -> float:
        """Sum of the criteria weights."""
        return sum(c.weight for c in self.criteria)

    def criterion(self, criterion_id: str) -> Criterion:
        """Return one criterion by id."""
        for crit in self.criteria:
            if crit.id == criterion_id:
                return crit
        raise KeyError(criterion_id)

    def all_red_flags(self) -> tuple[RedFlag, ...]:
        """Step-wide red flags followed by those of each criterion."""
        return self.red_flags + tuple(flag for crit in self.criteria for flag in crit.red_flags)


@dataclass(frozen=True)
class Rubric:
    """The rubric of one prompt: one :class:`StepRubric` per framework step."""

    prompt: str
    """Id of the prompt this rubric grades."""
    steps: Mapping[str, StepRubric]
    """Step id -> step rubric, for all seven steps."""
    source: str = ""
    """The file this rubric was loaded from."""

    def step(self, step_id: str) -> StepRubric:
        """Return the rubric of one step."""
        return self.steps[step_id]
