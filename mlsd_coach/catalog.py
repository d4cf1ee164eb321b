"""Load and validate the content (framework, prompts, rubrics) into frozen dataclasses.

Every problem is reported as ``FILE:LINE: message``, for YAML syntax and schema errors alike. YAML is read
with the safe constructor only: tags outside the YAML core schema are refused, never executed.

Content comes from layered folders: the content shipped in the package, then the folders named by the
``MLSD_CONTENT`` environment variable (``os.pathsep``-separated), then folders passed in by the caller.
Each folder holds ``prompts/*.yaml`` and ``rubrics/*.yaml``; a later folder overrides a prompt or rubric of
the same id and may add new ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlsd_coach.schema import (
    FACT_TOPICS,
    SHIPPED_PROMPT_IDS,
    STEP_IDS,
    TASK_TYPES,
    Criterion,
    Fact,
    Framework,
    MetricRow,
    Probe,
    Prompt,
    RedFlag,
    Rubric,
    StepGuide,
    StepRubric,
)

CONTENT_ENV = "MLSD_CONTENT"
FRAMEWORK_FILE = "_framework.yaml"
MIN_CRITERIA, MAX_CRITERIA = 5, 9
MAX_WEIGHT = 10.0
MAX_PENALTY = 50.0

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_Path = tuple[Any, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a content file, located to a line."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(Exception):
    """Raised when content cannot be loaded; carries every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems))
        more = f" (and {len(self.problems) - 1} more; run `mlsd validate`)" if len(self.problems) > 1 else ""
        super().__init__(f"{self.problems[0]}{more}" if self.problems else "invalid content")


class UnknownIdError(KeyError):
    """Raised for a prompt or step id that does not exist; the message lists the valid ids."""

    def __init__(self, kind: str, given: str, valid: Iterable[str]) -> None:
        self.kind, self.given, self.valid = kind, given, tuple(valid)
        super().__init__(f"unknown {kind} {given!r}; choose one of: {', '.join(self.valid)}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Catalog:
    """All loaded content: the framework, prompts and rubrics, keyed by id in display order."""

    framework: Framework
    prompts: Mapping[str, Prompt]
    rubrics: Mapping[str, Rubric]

    @property
    def prompt_ids(self) -> tuple[str, ...]:
        """Prompt ids in display order (shipped prompts first)."""
        return tuple(self.prompts)

    def prompt(self, prompt_id: str) -> Prompt:
        """Return a prompt, or raise :class:`UnknownIdError` naming the valid ids."""
        try:
            return self.prompts[prompt_id]
        except KeyError:
            raise UnknownIdError("prompt", prompt_id, self.prompts) from None

    def rubric(self, prompt_id: str) -> Rubric:
        """Return the rubric of a prompt, or raise :class:`UnknownIdError`."""
        self.prompt(prompt_id)
        try:
            return self.rubrics[prompt_id]
        except KeyError:
            raise UnknownIdError("rubric", prompt_id, self.rubrics) from None

    def summary(self) -> dict[str, Any]:
        """The ``mlsd list --json`` shape: prompts with their seven steps and criteria counts."""
        prompts = []
        for prompt_id, prompt in self.prompts.items():
            rubric = self.rubrics.get(prompt_id)
            steps = [
                {
                    "id": guide.id,
                    "title": guide.title,
                    "criteria": len(rubric.steps[guide.id].criteria) if rubric and guide.id in rubric.steps else 0,
                }
                for guide in self.framework.steps
            ]
            prompts.append({"id": prompt_id, "title": prompt.title, "steps": steps})
        return {"prompts": prompts}

    def step_rubric(self, prompt_id: str, step_id: str) -> StepRubric:
        """Return the rubric of one step of one prompt, or raise :class:`UnknownIdError`."""
        rubric = self.rubric(prompt_id)
        if step_id not in STEP_IDS:
            raise UnknownIdError("step", step_id, STEP_IDS)
        return rubric.step(step_id)


# --------------------------------------------------------------------------------------------- folders


def shipped_content_dir() -> Path:
    """The folder holding the content that ships with mlsd-coach (in the wheel, or the source checkout)."""
    inside_package = Path(__file__).resolve().parent / "_content"
    if (inside_package / "prompts").is_dir():
        return inside_package
    return Path(__file__).resolve().parent.parent


def content_dirs(extra: Sequence[Path | str] = (), *, shipped: bool = True) -> list[Path]:
    """The content folders in override order: shipped, then ``$MLSD_CONTENT``, then ``extra``."""
    dirs = [shipped_content_dir()] if shipped else []
    env = os.environ.get(CONTENT_ENV, "")
    dirs += [Path(part) for part in env.split(os.pathsep) if part.strip()]
    dirs += [Path(p) for p in extra]
    return dirs


# ------------------------------------------------------------------------------------------------ YAML


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def compose_yaml(text: str) -> Any:
    """Parse YAML into a node tree with the safe loader (C-accelerated when available); tags never execute."""
    import yaml

    return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def describe_yaml_error(exc: Exception, text: str) -> tuple[int, str]:
    """The 1-based line of a YAML syntax error (never past the end of the text) and a one-line message."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
    line = min(mark.line + 1, max(1, last_line)) if mark is not None else 1
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return line, f"YAML syntax error: {what}" + (f" ({context})" if context else "")


def _parse_yaml(path: Path) -> tuple[Any, dict[_Path, int], list[Problem]]:
    """Parse one file with the safe constructor; return data, a path -> line index and problems."""
    import yaml
    from yaml.constructor import SafeConstructor

    name = _display(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, {}, [Problem(name, 1, f"cannot read file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, {}, [Problem(name, line, "file is not valid UTF-8")]
    try:
        node = compose_yaml(text)
    except yaml.YAMLError as exc:
        line, message = describe_yaml_error(exc, text)
        return None, {}, [Problem(name, line, message)]
    if node is None:
        return None, {}, [Problem(name, 1, "file is empty")]
    lines: dict[_Path, int] = {}
    problems: list[Problem] = []
    _index_node(node, (), lines, problems, name)
    if problems:
        return None, lines, problems
    return SafeConstructor().construct_document(node), lines, []


def _index_node(node: Any, path: _Path, lines: dict[_Path, int], problems: list[Problem], name: str) -> None:
    """Record the line of every node, and refuse duplicate keys, anchors' merge tricks and foreign tags."""
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            problems.append(Problem(name, node.start_mark.line + 1, f"unsupported YAML tag {node.tag!r}"))
    elif isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            problems.append(Problem(name, node.start_mark.line + 1, f"unsupported YAML tag {node.tag!r}"))
        for i, child in enumerate(node.value):
            _index_node(child, (*path, i), lines, problems, name)
    elif isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            problems.append(Problem(name, node.start_mark.line + 1, f"unsupported YAML tag {node.tag!r}"))
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(Problem(name, key_node.start_mark.line + 1, "merge keys (<<) are not supported"))
                continue
            if key in seen:
                problems.append(Problem(name, key_node.start_mark.line + 1, f"duplicate key {key!r}"))
            seen.add(key)
            key_path = (*path, key)
            _index_node(value_node, key_path, lines, problems, name)
            lines[key_path] = key_node.start_mark.line + 1


# ---------------------------------------------------------------------------------------- schema reader


class _Reader:
    """Reads plain YAML data into typed values, collecting located problems instead of raising."""

    def __init__(self, name: str, lines: dict[_Path, int]) -> None:
        self.name = name
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: _Path) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: _Path, message: str) -> None:
        self.problems.append(Problem(self.name, self.line(path), message))

    def mapping(
        self, value: Any, path: _Path, required: Sequence[str], optional: Sequence[str] = (), what: str = ""
    ) -> dict[str, Any] | None:
        label = what or (f"'{path[-1]}'" if path else "the file")
        if not isinstance(value, dict):
            self.error(path, f"{label} must be a mapping of keys to values, not {_kind(value)}")
            return None
        allowed = set(required) | set(optional)
        for key in value:
            if key not in allowed:
                self.error((*path, key), f"unknown key {key!r} in {label}; allowed: {', '.join(sorted(allowed))}")
        for key in required:
            if key not in value:
                self.error(path, f"missing required key {key!r} in {label}")
        return value

    def text(self, data: dict[str, Any], key: str, path: _Path, default: str | None = None) -> str:
        value = data.get(key, default)
        if value is None and default is None and key not in data:
            return ""  # already reported as missing
        if not isinstance(value, str) or not value.strip():
            self.error((*path, key), f"'{key}' must be non-empty text")
            return ""
        return value.strip()

    def texts(self, data: dict[str, Any], key: str, path: _Path, minimum: int = 1) -> tuple[str, ...]:
        value = data.get(key, [] if minimum == 0 else None)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error((*path, key), f"'{key}' must be a list of text, not {_kind(value)}")
            return ()
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                got = "empty" if isinstance(item, str) else _kind(item)
                if isinstance(item, dict):
                    got += " (quote text that contains ': ')"
                self.error((*path, key, i), f"'{key}' item {i + 1} must be non-empty text, not {got}")
            else:
                out.append(item.strip())
        if len(value) < minimum:
            self.error((*path, key), f"'{key}' needs at least {minimum} item(s), has {len(value)}")
        return tuple(out)

    def number(self, data: dict[str, Any], key: str, path: _Path, low: float, high: float, default: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
            self.error((*path, key), f"'{key}' must be a number greater than {low:g} and at most {high:g}")
            return default
        return float(value)

    def integer(self, data: dict[str, Any], key: str, path: _Path, low: int, high: int) -> int:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error((*path, key), f"'{key}' must be a whole number from {low} to {high}")
            return low
        return value

    def ident(self, data: dict[str, Any], key: str, path: _Path) -> str:
        value = self.text(data, key, path)
        if value and not _ID_RE.match(value):
            self.error((*path, key), f"'{key}' {value!r} must be kebab-case: lowercase letters, digits and dashes")
        return value

    def items(self, data: dict[str, Any], key: str, path: _Path, minimum: int = 0) -> Iterator[tuple[int, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.error((*path, key), f"'{key}' must be a list, not {_kind(value)}")
            return
        if len(value) < minimum:
            self.error((*path, key), f"'{key}' needs at least {minimum} item(s), has {len(value)}")
        yield from enumerate(value)

    def unique(self, ids: Iterable[tuple[str, _Path]], what: str) -> None:
        seen: set[str] = set()
        for ident, path in ids:
            if ident and ident in seen:
                self.error(path, f"duplicate {what} id {ident!r}")
            seen.add(ident)


def reflow(text: str) -> str:
    """Join hard-wrapped lines into paragraphs (blank lines and list items keep their breaks)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        merged: list[str] = []
        for line in lines:
            if merged and not re.match(r"^([-*•]|\d+[.)])\s", line):
                merged[-1] += " " + line
            else:
                merged.append(line)
        paragraphs.append("\n".join(merged))
    return "\n\n".join(paragraphs)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "empty"}.get(type(value), type(value).__name__)


# ------------------------------------------------------------------------------------- per-file parsers


def _read_framework(data: Any, r: _Reader) -> Framework | None:
    top = r.mapping(data, (), ["steps", "metric_table", "two_stage", "two_stage_notes", "principles"])
    if top is None:
        return None
    steps: list[StepGuide] = []
    for i, raw in r.items(top, "steps", ("steps",)):
        path = ("steps", i)
        m = r.mapping(raw, path, ["id", "title", "goal", "minutes", "questions"], what=f"step {i + 1}")
        if m is None:
            continue
        step_id = r.text(m, "id", path)
        if step_id and step_id not in STEP_IDS:
            r.error((*path, "id"), f"unknown step {step_id!r}; steps are: {', '.join(STEP_IDS)}")
        steps.append(
            StepGuide(
                id=step_id,
                number=i + 1,
                title=r.text(m, "title", path),
                goal=r.text(m, "goal", path),
                minutes=r.integer(m, "minutes", path, 1, 45),
                questions=r.texts(m, "questions", path, minimum=2),
            )
        )
    if [s.id for s in steps] != list(STEP_IDS) and not r.problems:
        r.error(("steps",), f"steps must be exactly, in order: {', '.join(STEP_IDS)}")
    rows: list[MetricRow] = []
    for i, raw in r.items(top, "metric_table", ("metric_table",), minimum=1):
        path = ("metric_table", i)
        m = r.mapping(raw, path, ["task", "offline", "online", "trap"], what=f"metric row {i + 1}")
        if m is not None:
            rows.append(
                MetricRow(
                    task=r.text(m, "task", path),
                    offline=r.texts(m, "offline", path),
                    online=r.texts(m, "online", path),
                    trap=r.text(m, "trap", path),
                )
            )
    return Framework(
        steps=tuple(steps),
        metric_table=tuple(rows),
        two_stage=r.text(top, "two_stage", ()),
        two_stage_notes=r.texts(top, "two_stage_notes", ()),
        principles=r.texts(top, "principles", ()),
        source=r.name,
    )


def _read_prompt(data: Any, r: _Reader, expected_id: str) -> Prompt | None:
    top = r.mapping(data, (), ["id", "title", "question", "task_type", "pitch", "facts", "probes", "sketch"])
    if top is None:
        return None
    prompt_id = r.ident(top, "id", ())
    if prompt_id and prompt_id != expected_id:
        r.error(("id",), f"id {prompt_id!r} does not match the file name {expected_id!r}")
    task_type = r.text(top, "task_type", ())
    if task_type and task_type not in TASK_TYPES:
        r.error(("task_type",), f"unknown task_type {task_type!r}; choose one of: {', '.join(TASK_TYPES)}")

    facts: list[Fact] = []
    for i, raw in r.items(top, "facts", ("facts",), minimum=3):
        path = ("facts", i)
        m = r.mapping(raw, path, ["id", "topic", "answer", "triggers"], what=f"fact {i + 1}")
        if m is None:
            continue
        topic = r.text(m, "topic", path)
        if topic and topic not in FACT_TOPICS:
            r.error((*path, "topic"), f"unknown topic {topic!r}; choose one of: {', '.join(FACT_TOPICS)}")
        facts.append(
            Fact(
                id=r.ident(m, "id", path),
                topic=topic,
                answer=r.text(m, "answer", path),
                triggers=r.texts(m, "triggers", path, minimum=2),
            )
        )
    r.unique(((f.id, ("facts", i, "id")) for i, f in enumerate(facts)), "fact")

    probes: list[Probe] = []
    raw_probes = r.mapping(top.get("probes", {}), ("probes",), [], STEP_IDS, what="'probes'")
    for step_id, step_probes in (raw_probes or {}).items():
        if step_id not in STEP_IDS:
            r.error(("probes", step_id), f"unknown step {step_id!r}; steps are: {', '.join(STEP_IDS)}")
            continue
        if not isinstance(step_probes, list) or not step_probes:
            r.error(("probes", step_id), f"probes of step {step_id!r} must be a non-empty list")
            continue
        for i, raw in enumerate(step_probes):
            probe_path: _Path = ("probes", step_id, i)
            m = r.mapping(raw, probe_path, ["target", "ask"], what=f"probe {i + 1} of {step_id}")
            if m is not None:
                target = r.ident(m, "target", probe_path)
                probes.append(Probe(step=step_id, target=target, ask=r.text(m, "ask", probe_path)))

    sketch: dict[str, str] = {}
    raw_sketch = r.mapping(top.get("sketch", {}), ("sketch",), STEP_IDS, what="'sketch'")
    for step_id in STEP_IDS:
        if raw_sketch and step_id in raw_sketch:
            sketch[step_id] = r.text(raw_sketch, step_id, ("sketch",))

    return Prompt(
        id=prompt_id,
        title=r.text(top, "title", ()),
        question=r.text(top, "question", ()),
        task_type=task_type,
        pitch=r.text(top, "pitch", ()),
        facts=tuple(facts),
        probes=tuple(probes),
        sketch=MappingProxyType(sketch),
        source=r.name,
    )


def _read_red_flags(container: dict[str, Any], path: _Path, r: _Reader) -> tuple[RedFlag, ...]:
    flags: list[RedFlag] = []
    for i, raw in r.items(container, "red_flags", path):
        fpath = (*path, "red_flags", i)
        m = r.mapping(raw, fpath, ["id", "phrases", "message"], ["penalty", "unless"], what=f"red flag {i + 1}")
        if m is None:
            continue
        for key in ("phrases", "unless"):
            for j, phrasing in enumerate(m.get(key) or []):
                if isinstance(phrasing, str):
                    _check_phrasing(phrasing, (*fpath, key, j), r)
        flag = RedFlag(
            id=r.ident(m, "id", fpath),
            phrases=r.texts(m, "phrases", fpath),
            message=r.text(m, "message", fpath),
            penalty=r.number(m, "penalty", fpath, 0, MAX_PENALTY, 10.0),
            unless=r.texts(m, "unless", fpath, minimum=0),
        )
        for j, text in enumerate(flag.unless):
            if _defuses_itself(text, flag.phrases):
                r.error(
                    (*fpath, "unless", j),
                    f"'unless' phrasing {text!r} matches wherever the flag does, so the flag can never fire",
                )
        flags.append(flag)
    return tuple(flags)


def _check_phrasing(phrasing: str, path: _Path, r: _Reader) -> None:
    """Refuse a phrasing of several words that collapses to one word once small words are dropped."""
    from mlsd_coach.matching import compile_phrase

    words = re.findall(r"[#\w]+", phrasing)
    terms = set(compile_phrase(phrasing).terms)
    if len(words) > 1 and len(terms) == 1:
        r.error(
            path,
            f"phrasing {phrasing!r} matches on the single word {terms.pop()!r} once small words are ignored; "
            "make it more specific",
        )


def _defuses_itself(unless: str, phrases: Sequence[str]) -> bool:
    from mlsd_coach.matching import compile_phrase

    terms = set(compile_phrase(unless).terms)
    return any(terms <= set(compile_phrase(p).terms) for p in phrases)


def _read_criterion(raw: Any, path: _Path, r: _Reader) -> Criterion | None:
    m = r.mapping(raw, path, ["id", "checks", "weight", "concepts", "hint"], ["red_flags"], what="criterion")
    if m is None:
        return None
    concepts: list[tuple[str, ...]] = []
    for i, concept in r.items(m, "concepts", path, minimum=1):
        cpath = (*path, "concepts", i)
        phrasings = [concept] if isinstance(concept, str) else concept
        if not isinstance(phrasings, list) or not phrasings:
            r.error(cpath, "each concept must be a list of alternative phrasings")
            continue
        if not all(isinstance(p, str) and p.strip() for p in phrasings):
            r.error(cpath, "every phrasing of a concept must be non-empty text")
            continue
        for j, phrasing in enumerate(phrasings):
            _check_phrasing(phrasing, (*cpath, j), r)
        concepts.append(tuple(p.strip() for p in phrasings))
    return Criterion(
        id=r.ident(m, "id", path),
        checks=r.text(m, "checks", path),
        weight=r.number(m, "weight", path, 0, MAX_WEIGHT, 1.0),
        concepts=tuple(concepts),
        hint=r.text(m, "hint", path),
        red_flags=_read_red_flags(m, path, r),
    )


def _read_rubric(data: Any, r: _Reader, expected_id: str) -> Rubric | None:
    top = r.mapping(data, (), ["prompt", "steps"])
    if top is None:
        return None
    prompt_id = r.ident(top, "prompt", ())
    if prompt_id and prompt_id != expected_id:
        r.error(("prompt",), f"prompt {prompt_id!r} does not match the file name {expected_id!r}")
    raw_steps = r.mapping(top.get("steps", {}), ("steps",), STEP_IDS, what="'steps'")
    steps: dict[str, StepRubric] = {}
    for step_id, raw in (raw_steps or {}).items():
        path: _Path = ("steps", step_id)
        if step_id not in STEP_IDS:
            r.error(path, f"unknown step {step_id!r}; steps are: {', '.join(STEP_IDS)}")
            continue
        m = r.mapping(raw, path, ["model_answer", "criteria"], ["red_flags"], what=f"step {step_id!r}")
        if m is None:
            continue
        criteria: list[Criterion] = []
        for i, crit_raw in r.items(m, "criteria", path):
            crit = _read_criterion(crit_raw, (*path, "criteria", i), r)
            if crit is not None:
                criteria.append(crit)
        count = len(m.get("criteria") or [])
        if not MIN_CRITERIA <= count <= MAX_CRITERIA:
            r.error(
                (*path, "criteria"),
                f"step {step_id!r} has {count} criteria; it needs {MIN_CRITERIA} to {MAX_CRITERIA}",
            )
        r.unique(((c.id, (*path, "criteria", i, "id")) for i, c in enumerate(criteria)), "criterion")
        step = StepRubric(
            step=step_id,
            criteria=tuple(criteria),
            model_answer=reflow(r.text(m, "model_answer", path)),
            red_flags=_read_red_flags(m, path, r),
        )
        r.unique(((f.id, (*path, "red_flags")) for f in step.all_red_flags()), "red flag")
        steps[step_id] = step
    ordered = {s: steps[s] for s in STEP_IDS if s in steps}
    return Rubric(prompt=prompt_id, steps=MappingProxyType(ordered), source=r.name)


# ------------------------------------------------------------------------------------------ assembling


@dataclass
class _Loaded:
    """What a load found so far; later folders overwrite earlier ones id by id."""

    framework: Framework | None = None
    prompts: dict[str, tuple[Prompt, dict[_Path, int]]] = field(default_factory=dict)
    rubrics: dict[str, tuple[Rubric, dict[_Path, int]]] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    """Ids whose prompt or rubric file failed to load: cross-file checks stay quiet about them."""


def _file_kind(path: Path) -> str:
    """Tell a framework, prompt or rubric file apart by its name and folder, or by its top-level keys."""
    if path.name == FRAMEWORK_FILE:
        return "framework"
    if path.parent.name in ("prompts", "rubrics"):
        return path.parent.name[:-1]
    try:
        head = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "unknown"
    if re.search(r"^steps\s*:", head, re.M) and re.search(r"^prompt\s*:", head, re.M):
        return "rubric"
    if re.search(r"^(question|facts)\s*:", head, re.M):
        return "prompt"
    return "unknown"


def _load_file(path: Path, kind: str, loaded: _Loaded, problems: list[Problem]) -> None:
    data, lines, file_problems = _parse_yaml(path)
    problems.extend(file_problems)
    if file_problems:
        loaded.broken.add(path.stem)
        return
    r = _Reader(_display(path), lines)
    if kind == "framework":
        loaded.framework = _read_framework(data, r)
    elif kind == "prompt":
        prompt = _read_prompt(data, r, path.stem)
        if prompt is not None:
            loaded.prompts[path.stem] = (prompt, lines)
    elif kind == "rubric":
        rubric = _read_rubric(data, r, path.stem)
        if rubric is not None:
            loaded.rubrics[path.stem] = (rubric, lines)
    else:
        r.error((), "cannot tell what this file is: put prompts under prompts/ and rubrics under rubrics/")
    problems.extend(r.problems)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml") and p.is_file())


def _cross_check(loaded: _Loaded, problems: list[Problem], require_rubrics: bool) -> None:
    """Checks that span files: every prompt has a rubric with all steps, probes aim at real criteria."""
    for prompt_id, (prompt, lines) in loaded.prompts.items():
        entry = loaded.rubrics.get(prompt_id)
        if entry is None:
            if require_rubrics and prompt_id not in loaded.broken:
                problems.append(
                    Problem(prompt.source, 1, f"prompt {prompt_id!r} has no rubric (rubrics/{prompt_id}.yaml)")
                )
            continue
        rubric = entry[0]
        for step_id, step in rubric.steps.items():
            known = {c.id for c in step.criteria}
            for index, probe in enumerate(prompt.probes_for(step_id)):
                if probe.target not in known:
                    line = lines.get(("probes", step_id, index, "target"), 1)
                    message = f"probe targets unknown criterion {probe.target!r} of step {step_id!r}"
                    problems.append(Problem(prompt.source, line, message))
    for prompt_id, (rubric, lines) in loaded.rubrics.items():
        missing = [s for s in STEP_IDS if s not in rubric.steps]
        if missing:
            problems.append(Problem(rubric.source, lines.get(("steps",), 1), f"missing steps: {', '.join(missing)}"))
        if require_rubrics and prompt_id not in loaded.prompts and prompt_id not in loaded.broken:
            problems.append(
                Problem(rubric.source, 1, f"rubric for unknown prompt {prompt_id!r} (no prompts/{prompt_id}.yaml)")
            )


def _load_dirs(dirs: Sequence[Path], rubrics: bool, problems: list[Problem]) -> _Loaded:
    loaded = _Loaded()
    for folder in dirs:
        if not folder.is_dir():
            problems.append(Problem(str(folder), 1, "content folder does not exist"))
            continue
        for path in _yaml_files(folder / "prompts"):
            _load_file(path, "framework" if path.name == FRAMEWORK_FILE else "prompt", loaded, problems)
        if rubrics:
            for path in _yaml_files(folder / "rubrics"):
                _load_file(path, "rubric", loaded, problems)
    return loaded


def _ordered(ids: Iterable[str]) -> list[str]:
    ids = list(ids)
    return [i for i in SHIPPED_PROMPT_IDS if i in ids] + sorted(i for i in ids if i not in SHIPPED_PROMPT_IDS)


def load_catalog(extra_dirs: Sequence[Path | str] = (), *, rubrics: bool = True, shipped: bool = True) -> Catalog:
    """Load the framework, prompts and (unless ``rubrics=False``) rubrics from every content folder.

    ``shipped=False`` leaves out the content that ships with the package (tests, authoring).
    Raises :class:`ContentError` with every problem found when any file is broken.
    """
    problems: list[Problem] = []
    loaded = _load_dirs(content_dirs(extra_dirs, shipped=shipped), rubrics, problems)
    if not problems:
        _cross_check(loaded, problems, require_rubrics=rubrics)
    if loaded.framework is None and not problems:
        problems.append(Problem(str(shipped_content_dir() / "prompts" / FRAMEWORK_FILE), 1, "framework file missing"))
    if problems or loaded.framework is None:
        raise ContentError(problems)
    if not loaded.prompts:
        raise ContentError([Problem(str(content_dirs(extra_dirs, shipped=shipped)[-1]), 1, "no prompts found")])
    order = _ordered(loaded.prompts)
    return Catalog(
        framework=loaded.framework,
        prompts=MappingProxyType({i: loaded.prompts[i][0] for i in order}),
        rubrics=MappingProxyType({i: loaded.rubrics[i][0] for i in order if i in loaded.rubrics}),
    )


def validate_paths(paths: Sequence[Path | str] = (), extra_dirs: Sequence[Path | str] = ()) -> list[Problem]:
    """Validate content files or folders (the shipped content when ``paths`` is empty); return all problems.

    A folder is read like a content folder (``prompts/`` and ``rubrics/`` inside it) or, when it has neither,
    as a flat folder of YAML files. Cross-file checks run over everything that was given.
    """
    problems: list[Problem] = []
    if not paths:
        dirs = content_dirs(extra_dirs)
        loaded = _load_dirs(dirs, True, problems)
        if loaded.framework is None and not any(p.message.startswith("YAML") for p in problems):
            problems.append(Problem(str(dirs[0] / "prompts" / FRAMEWORK_FILE), 1, "framework file missing"))
        _cross_check(loaded, problems, require_rubrics=True)
        return sorted(set(problems))

    loaded = _Loaded()
    files: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            nested = _yaml_files(given / "prompts") + _yaml_files(given / "rubrics")
            found = nested or _yaml_files(given)
            if not found:
                problems.append(Problem(_display(given), 1, "no .yaml files found in this folder"))
            files += found
        elif given.exists():
            files.append(given)
        else:
            problems.append(Problem(str(given), 1, "no such file or folder"))
    for path in files:
        _load_file(path, _file_kind(path), loaded, problems)
    _cross_check(loaded, problems, require_rubrics=False)
    return sorted(set(problems))
