"""mlsd-coach: a terminal tutor for the ML system design interview."""

from mlsd_coach.catalog import Catalog, ContentError, load_catalog, validate_paths
from mlsd_coach.scoring import ScoreResult, Scorer, score_answer

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
