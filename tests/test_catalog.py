"""The content model: the shipped content is complete and valid, and broken content is located to FILE:LINE."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from mlsd_coach.catalog import ContentError, load_catalog, reflow, shipped_content_dir, validate_paths
from mlsd_coach.schema import FACT_TOPICS, SHIPPED_PROMPT_IDS, STEP_IDS

LINE_RE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<message>.+)$")


def test_shipped_prompts_are_exactly_the_six(catalog) -> None:
    assert catalog.prompt_ids == SHIPPED_PROMPT_IDS
    assert set(catalog.rubrics) == set(SHIPPED_PROMPT_IDS)


def test_every_rubric_has_seven_steps_in_order_with_five_to_nine_criteria(catalog) -> None:
    for prompt_id, rubric in catalog.rubrics.items():
        assert tuple(rubric.steps) == STEP_IDS, prompt_id
        for step_id, step in rubric.steps.items():
            assert 5 <= len(step.criteria) <= 9, (prompt_id, step_id)
            assert len({c.id for c in step.criteria}) == len(step.criteria)
            assert all(0 < c.weight <= 3 for c in step.criteria), (prompt_id, step_id)
            assert all(c.hint and c.checks and c.concepts for c in step.criteria)
            assert len(step.model_answer.split()) >= 60, (prompt_id, step_id, "model answer too thin")


def test_every_prompt_has_facts_probes_and_a_full_sketch(catalog) -> None:
    for prompt in catalog.prompts.values():
        topics = {fact.topic for fact in prompt.facts}
        assert {"scale", "latency", "metric"} <= topics <= set(FACT_TOPICS), prompt.id
        assert all(len(fact.triggers) >= 2 for fact in prompt.facts)
        assert set(prompt.sketch) == set(STEP_IDS)
        rubric = catalog.rubric(prompt.id)
        for step_id in STEP_IDS:
            probes = prompt.probes_for(step_id)
            assert probes, (prompt.id, step_id, "no follow-up probe")
            targets = {c.id for c in rubric.step(step_id).criteria}
            assert {p.target for p in probes} <= targets


def test_every_clarify_step_flags_jumping_to_a_model(catalog) -> None:
    for rubric in catalog.rubrics.values():
        flags = rubric.step("clarify").all_red_flags()
        assert any("model" in flag.id for flag in flags), rubric.prompt


def test_framework_has_the_seven_steps_a_metric_table_and_a_45_minute_pace(catalog) -> None:
    framework = catalog.framework
    assert tuple(s.id for s in framework.steps) == STEP_IDS
    assert sum(s.minutes for s in framework.steps) == 45
    assert len(framework.metric_table) >= 5
    assert "CANDIDATE GENERATION" in framework.two_stage and "RANKING" in framework.two_stage


def test_validate_passes_on_shipped_content() -> None:
    assert validate_paths() == []


def test_unknown_ids_name_the_valid_choices(catalog) -> None:
    with pytest.raises(KeyError, match="choose one of: feed, search"):
        catalog.prompt("recsys")
    with pytest.raises(KeyError, match="clarify, frame, data"):
        catalog.step_rubric("feed", "deploy")


# ------------------------------------------------------------------------------------- broken content

GOOD_PROMPT = (shipped_content_dir() / "prompts" / "feed.yaml").read_text(encoding="utf-8")
GOOD_RUBRIC = (shipped_content_dir() / "rubrics" / "feed.yaml").read_text(encoding="utf-8")


def _problems(tmp_path: Path, name: str, text: str) -> list[tuple[str, int, str]]:
    folder = tmp_path / ("rubrics" if "rubric" in name else "prompts")
    folder.mkdir(exist_ok=True)
    path = folder / "feed.yaml"
    path.write_text(text, encoding="utf-8")
    out = []
    for problem in validate_paths([path]):
        match = LINE_RE.match(str(problem))
        assert match, f"not FILE:LINE: message: {problem}"
        out.append((match["file"], int(match["line"]), match["message"]))
    return out


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    broken = GOOD_RUBRIC.replace("        weight: 2\n", "        weight: [2\n", 1)
    problems = _problems(tmp_path, "rubric", broken)
    assert len(problems) == 1
    file, line, message = problems[0]
    assert file.endswith("feed.yaml") and "YAML syntax error" in message
    assert abs(line - _line_of(broken, "weight: [2")) <= 1


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("        weight: 3\n", "        weight: 3\n        colour: red\n", "unknown key 'colour'"),
        ("        weight: 3\n", "        weight: -1\n", "'weight' must be a number"),
        ("        weight: 3\n", "        weight: lots\n", "'weight' must be a number"),
        ("      - id: scale\n", "      - id: business-objective\n", "duplicate criterion id 'business-objective'"),
        ("  frame:\n", "  framing:\n", "unknown step 'framing'"),
        ("        hint: The label, the loss", "        tip: The label, the loss", "missing required key 'hint'"),
    ],
)
def test_schema_errors_are_reported_at_the_offending_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD_RUBRIC
    broken = GOOD_RUBRIC.replace(old, new, 1)
    problems = _problems(tmp_path, "rubric", broken)
    hits = [p for p in problems if expected in p[2]]
    assert hits, problems
    changed = _line_of(broken, new.strip().splitlines()[-1])
    assert any(abs(line - changed) <= 8 for _, line, _ in hits), (hits, changed)


def test_a_criterion_count_outside_five_to_nine_is_reported(tmp_path: Path) -> None:
    text = GOOD_RUBRIC
    start = text.index("      - id: existing-system")
    end = text.index("  frame:")
    broken = text[:start] + text[end:]  # clarify loses its last two criteria: 5 left, still valid
    assert _problems(tmp_path, "rubric", broken) == []
    start = text.index("      - id: constraints")
    broken = text[:start] + text[end:]  # now 4
    problems = _problems(tmp_path, "rubric", broken)
    assert any("has 4 criteria; it needs 5 to 9" in m for _, _, m in problems)


def test_prompt_schema_errors(tmp_path: Path) -> None:
    broken = GOOD_PROMPT.replace("task_type: ranking", "task_type: sorting")
    problems = _problems(tmp_path, "prompt", broken)
    assert [(line, m) for _, line, m in problems if "unknown task_type" in m] == [
        (
            _line_of(broken, "task_type: sorting"),
            "unknown task_type 'sorting'; choose one of: ranking, retrieval, classification, regression, generation",
        )
    ]


def test_yaml_tags_are_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = GOOD_PROMPT.replace("title: News feed ranking", f'title: !!python/object/apply:os.system ["touch {marker}"]')
    problems = _problems(tmp_path, "prompt", evil)
    assert not marker.exists()
    assert any("unsupported YAML tag" in m for _, _, m in problems)


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    broken = GOOD_PROMPT.replace("title: News feed ranking\n", "title: News feed ranking\ntitle: Again\n")
    problems = _problems(tmp_path, "prompt", broken)
    assert any("duplicate key 'title'" in m and line == _line_of(broken, "title: Again") for _, line, m in problems)


def test_text_that_yaml_reads_as_a_mapping_gets_a_quoting_hint(tmp_path: Path) -> None:
    broken = GOOD_PROMPT.replace("      - how many users\n", "      - how many users: roughly\n", 1)
    problems = _problems(tmp_path, "prompt", broken)
    assert any("quote text that contains ': '" in m for _, _, m in problems)


def test_not_utf8_and_empty_files(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "bad.yaml").write_bytes(b"id: bad\ntitle: caf\xe9\n")
    (folder / "empty.yaml").write_text("", encoding="utf-8")
    messages = [str(p) for p in validate_paths([folder])]
    assert any("bad.yaml:2: file is not valid UTF-8" in m for m in messages)
    assert any("empty.yaml:1: file is empty" in m for m in messages)


def test_a_self_defeating_unless_is_reported(tmp_path: Path) -> None:
    broken = GOOD_RUBRIC.replace("accuracy would mislead]", "accuracy would]")
    problems = _problems(tmp_path, "rubric", broken)
    assert any("can never fire" in m for _, _, m in problems)


def test_missing_path_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    problems = validate_paths([tmp_path / "nope.yaml"])
    assert len(problems) == 1 and "no such file or folder" in problems[0].message


def test_broken_user_content_raises_content_error_naming_file_and_line(tmp_path: Path) -> None:
    user = tmp_path / "user"
    (user / "rubrics").mkdir(parents=True)
    (user / "rubrics" / "feed.yaml").write_text("prompt: feed\nsteps: [", encoding="utf-8")
    with pytest.raises(ContentError, match=r"rubrics/feed.yaml:2: YAML syntax error"):
        load_catalog([user])


# ------------------------------------------------------------------------------------ user content


def test_a_user_folder_adds_and_overrides_prompts(tmp_path: Path) -> None:
    user = tmp_path / "mine"
    (user / "prompts").mkdir(parents=True)
    (user / "rubrics").mkdir()
    video = GOOD_PROMPT.replace("id: feed", "id: video").replace("title: News feed ranking", "title: Video recs")
    (user / "prompts" / "video.yaml").write_text(video, encoding="utf-8")
    (user / "rubrics" / "video.yaml").write_text(GOOD_RUBRIC.replace("prompt: feed", "prompt: video"), "utf-8")
    (user / "prompts" / "feed.yaml").write_text(GOOD_PROMPT.replace("News feed ranking", "My feed"), "utf-8")
    catalog = load_catalog([user])
    assert catalog.prompt_ids[:6] == SHIPPED_PROMPT_IDS and catalog.prompt_ids[-1] == "video"
    assert catalog.prompt("feed").title == "My feed"
    assert catalog.prompt("video").title == "Video recs"


def test_a_user_prompt_without_rubric_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "mine"
    (user / "prompts").mkdir(parents=True)
    (user / "prompts" / "video.yaml").write_text(GOOD_PROMPT.replace("id: feed", "id: video"), "utf-8")
    monkeypatch.setenv("MLSD_CONTENT", str(user))
    with pytest.raises(ContentError, match="prompt 'video' has no rubric"):
        load_catalog()


def test_reflow_joins_wrapped_lines_but_keeps_paragraphs_and_lists() -> None:
    text = textwrap.dedent(
        """\
        One sentence
        wrapped here.

        - a list item
        - another
        """
    )
    assert reflow(text) == "One sentence wrapped here.\n\n- a list item\n- another"
