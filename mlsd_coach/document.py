"""A tiny document model (headings, paragraphs, lists, tables, preformatted text) and its three renderings.

Views that must exist in the terminal, in Markdown and in HTML (the cheat-sheet) are built once as a list of
blocks and rendered by :func:`to_markdown`, :func:`to_html` or :func:`print_rich`, so the three never drift.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Heading:
    """A section title; level 1 is the document title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text; ``emphasis`` renders it in italics (used for the interviewer's question)."""

    text: str
    emphasis: bool = False


@dataclass(frozen=True)
class Bullets:
    """A bulleted (or numbered) list of plain-text items."""

    items: tuple[str, ...]
    numbered: bool = False


@dataclass(frozen=True)
class Table:
    """A table with a header row; cells are plain text."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Preformatted:
    """Text shown as-is in a monospace block (diagrams)."""

    text: str


Block = Heading | Paragraph | Bullets | Table | Preformatted


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """Render blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            out.append(f"*{block.text}*" if block.emphasis else block.text)
        elif isinstance(block, Bullets):
            marks = [f"{i}." if block.numbered else "-" for i in range(1, len(block.items) + 1)]
            out.append("\n".join(f"{mark} {item}" for mark, item in zip(marks, block.items, strict=True)))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(map(_md_cell, block.headers)) + " |"]
            lines.append("|" + "---|" * len(block.headers))
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Preformatted):
            out.append(f"```text\n{block.text.rstrip()}\n```")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 64rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #1d2433; }
h1 { border-bottom: 3px solid #3b6fd8; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; color: #23408e; }
h3 { margin-top: 1.4rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .93rem; }
th, td { border: 1px solid #cfd6e4; padding: .35rem .55rem; text-align: left; vertical-align: top; }
th { background: #eef2fa; }
pre { background: #f5f7fb; border: 1px solid #dde3ee; padding: .8rem; overflow-x: auto; }
em { color: #3b4a66; }
@media print { h2 { break-before: page; } }
"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    """Render blocks as a standalone HTML page (inline CSS, no scripts, no external assets)."""
    esc = html.escape
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{esc(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            text = esc(block.text)
            body.append(f"<p><em>{text}</em></p>" if block.emphasis else f"<p>{text}</p>")
        elif isinstance(block, Bullets):
            tag = "ol" if block.numbered else "ul"
            items = "".join(f"<li>{esc(item)}</li>" for item in block.items)
            body.append(f"<{tag}>{items}</{tag}>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Preformatted):
            body.append(f"<pre>{esc(block.text.rstrip())}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{esc(title)}</title>\n'
        f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def print_rich(blocks: Sequence[Block], console: Console) -> None:
    """Print blocks to a rich console (as one renderable: one print call is much cheaper than hundreds)."""
    from rich import box
    from rich.console import Group, RenderableType
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.rule import Rule
    from rich.table import Table as RichTable
    from rich.text import Text

    parts: list[RenderableType] = []
    for block in blocks:
        if isinstance(block, Heading):
            if block.level == 1:
                parts.append(Panel(Text(block.text, style="bold"), border_style="blue", expand=True))
            elif block.level == 2:
                parts.append(Text(""))
                parts.append(Rule(Text(block.text, style="bold cyan"), align="left", style="cyan"))
            else:
                parts.append(Text(block.text, style="bold"))
        elif isinstance(block, Paragraph):
            parts.append(Text(block.text, style="italic" if block.emphasis else ""))
        elif isinstance(block, Bullets):
            items = RichTable.grid(padding=(0, 1))
            items.add_column(no_wrap=True, style="cyan")
            items.add_column(ratio=1)
            for i, item in enumerate(block.items, 1):
                items.add_row(f"  {i}." if block.numbered else "  •", item)
            parts.append(items)
        elif isinstance(block, Table):
            table = RichTable(box=box.SIMPLE_HEAD, show_lines=False, header_style="bold", expand=False)
            for header in block.headers:
                table.add_column(header, overflow="fold")
            for row in block.rows:
                table.add_row(*row)
            parts.append(table)
        elif isinstance(block, Preformatted):
            parts.append(Padding(Text(block.text.rstrip(), style="green"), (0, 2)))
    console.print(Group(*parts))
