"""mlsd-coach: a terminal tutor for the ML system design interview.

The public API is imported lazily (PEP 562), so that ``mlsd --help`` pays only for what it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "ContentError",
    "ScoreResult",
    "Scorer",
    "__version__",
    "load_catalog",
    "score_answer",
    "validate_paths",
]

_HOMES = {
    "Catalog": "mlsd_coach.catalog",
    "ContentError": "mlsd_coach.catalog",
    "load_catalog": "mlsd_coach.catalog",
    "validate_paths": "mlsd_coach.catalog",
    "ScoreResult": "mlsd_coach.scoring",
    "Scorer": "mlsd_coach.scoring",
    "score_answer": "mlsd_coach.scoring",
}

if TYPE_CHECKING:
    from mlsd_coach.catalog import Catalog, ContentError, load_catalog, validate_paths
    from mlsd_coach.scoring import Scorer, ScoreResult, score_answer


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mlsd_coach' has no attribute {name!r}")
