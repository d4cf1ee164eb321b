"""Options shared by every demo scenario, their validation, and the one error type the CLI reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlsd_coach.schema import STEP_IDS

__all__ = ["STEP_IDS", "STEP_TITLES", "DemoError", "DemoOptions", "parse_steps"]

STEP_TITLES: dict[str, str] = {
    "clarify": "Clarify requirements",
    "frame": "Frame it as an ML problem",
    "data": "Data & labels",
    "features": "Features",
    "model": "Model",
    "evaluation": "Evaluation — offline and online",
    "serving": "Serve, scale & maintain",
}
"""Section titles for the seven steps."""


class DemoError(ValueError):
    """A problem with the user's input, reported as one line without a traceback."""


@dataclass(frozen=True)
class DemoOptions:
    """What the user asked a demo for; ``None`` sizes mean the scenario's defaults."""

    seed: int = 0
    """Seed of every random choice in the run: same seed, same numbers."""
    users: int | None = None
    """Number of synthetic users (scenarios that support ``--users``)."""
    items: int | None = None
    """Number of synthetic items (scenarios that support ``--items``)."""
    export_dir: Path | None = None
    """Folder for exported artefacts (scenarios that support ``--export``)."""

    def requested(self) -> frozenset[str]:
        """Names of the optional options the user actually set ("users", "items", "export")."""
        names = {
            "users": self.users is not None,
            "items": self.items is not None,
            "export": self.export_dir is not None,
        }
        return frozenset(name for name, given in names.items() if given)

    def validate(self) -> None:
        """Raise DemoError for values no scenario can accept."""
        if self.seed < 0:
            raise DemoError(f"--seed must be zero or a positive integer, got {self.seed}")
        for name in ("users", "items"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise DemoError(f"--{name} must be a positive integer, got {value}")
        if self.export_dir is not None and self.export_dir.exists() and not self.export_dir.is_dir():
            raise DemoError(f"--export {self.export_dir} exists and is not a directory")


def parse_steps(text: str | None) -> tuple[str, ...]:
    """Parse ``--steps`` ("1,5,6" or "model,evaluation") into step ids in framework order."""
    if text is None or not text.strip():
        return STEP_IDS
    chosen: set[str] = set()
    for raw in text.split(","):
        token = raw.strip().lower()
        if token.isdigit() and 1 <= int(token) <= len(STEP_IDS):
            chosen.add(STEP_IDS[int(token) - 1])
        elif token in STEP_IDS:
            chosen.add(token)
        else:
            raise DemoError(f"--steps: {raw.strip()!r} is not a step; use numbers 1-7 or ids ({', '.join(STEP_IDS)})")
    return tuple(step for step in STEP_IDS if step in chosen)
