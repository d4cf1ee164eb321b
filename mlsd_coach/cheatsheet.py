"""Build the cheat-sheet (framework, two-stage pattern, metric table, one sketch per prompt) as document blocks."""

from __future__ import annotations

from mlsd_coach.catalog import Catalog
from mlsd_coach.document import Block, Bullets, Heading, Paragraph, Preformatted, Table
from mlsd_coach.schema import STEP_IDS, Framework, Prompt, Rubric

CHEATSHEET_TITLE = "ML system design cheat-sheet"


def _framework_blocks(framework: Framework) -> list[Block]:
    blocks: list[Block] = [Heading("The framework: seven steps, in order")]
    pace = " → ".join(f"{s.number} {s.title.split(',')[0]} ({s.minutes}′)" for s in framework.steps)
    blocks.append(Paragraph(f"45-minute pace: {pace}"))
    for step in framework.steps:
        blocks.append(Heading(f"{step.number}. {step.title}", level=3))
        blocks.append(Paragraph(step.goal))
        blocks.append(Bullets(step.questions))
    blocks.append(Heading("The two-stage pattern: candidate generation → ranking"))
    blocks.append(Preformatted(framework.two_stage))
    blocks.append(Bullets(framework.two_stage_notes))
    blocks.append(Heading("Metrics by task type"))
    rows = tuple((r.task, ", ".join(r.offline), ", ".join(r.online), r.trap) for r in framework.metric_table)
    blocks.append(Table(("Task", "Offline", "Online", "Trap"), rows))
    blocks.append(Heading("Habits that hold for every prompt"))
    blocks.append(Bullets(framework.principles))
    return blocks


def _prompt_blocks(prompt: Prompt, framework: Framework, rubric: Rubric | None) -> list[Block]:
    blocks: list[Block] = [
        Heading(f"{prompt.title}  [{prompt.id}]"),
        Paragraph(f"“{prompt.question}”", emphasis=True),
        Paragraph(prompt.pitch),
    ]
    rows = tuple((f"{n}. {s}", prompt.sketch.get(s, "")) for n, s in enumerate(STEP_IDS, 1))
    blocks.append(Table(("Step", "What a strong answer says"), rows))
    if rubric is not None:
        must = []
        for step_id in STEP_IDS:
            step = rubric.steps.get(step_id)
            if step is None:
                continue
            top = [c.checks.rstrip(".") for c in step.criteria if c.weight >= 3]
            if top:
                must.append(f"{framework.step(step_id).title}: " + "; ".join(top))
        blocks.append(Heading("What the interviewer listens for", level=3))
        blocks.append(Bullets(tuple(must)))
        topics = sorted({fact.topic for fact in prompt.facts})
        blocks.append(Paragraph("Ask the interviewer about: " + ", ".join(topics) + "."))
    return blocks


def build_cheatsheet(catalog: Catalog, prompt_id: str | None = None) -> list[Block]:
    """The whole cheat-sheet, or with ``prompt_id`` the framework and that prompt's sheet in full detail."""
    framework = catalog.framework
    if prompt_id is not None:
        prompt = catalog.prompt(prompt_id)
        blocks: list[Block] = [Heading(f"{CHEATSHEET_TITLE}: {prompt.title}", level=1)]
        blocks += _prompt_blocks(prompt, framework, catalog.rubrics.get(prompt_id))
        blocks.append(Heading("The framework"))
        blocks.append(Bullets(tuple(f"{s.title}: {s.goal}" for s in framework.steps), numbered=True))
        return blocks
    blocks = [Heading(CHEATSHEET_TITLE, level=1)]
    blocks += _framework_blocks(framework)
    for prompt in catalog.prompts.values():
        blocks += _prompt_blocks(prompt, framework, None)
    return blocks
