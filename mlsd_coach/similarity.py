"""TF-IDF similarity between an answer and the content (scikit-learn), for the scorer's topicality signals.

Documents are built from the content itself - each step's model answer and concept phrasings, and each
prompt's question, facts and model answers - and vectorised on the same stems the phrase matcher uses,
as unigrams and bigrams. Imported lazily: only scoring pays for scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlsd_coach.catalog import Catalog
from mlsd_coach.matching import NUMBER, AnalysedText, analyse
from mlsd_coach.schema import STEP_IDS

#: Similarity to the step's own model answer that maps to 0 and to 1 on the scaled signal.
STEP_SIMILARITY_FLOOR, STEP_SIMILARITY_CEILING = 0.04, 0.30


def _terms(stems: Sequence[str]) -> list[str]:
    words = [s for s in stems if s != NUMBER]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]  # noqa: RUF007 - 3.10 lacks pairwise


def _stems_of(text: str) -> list[str]:
    return analyse(text).stems


@dataclass
class SimilarityModel:
    """A fitted TF-IDF space with one vector per (prompt, step) and one per prompt."""

    vectorizer: Any
    prompt_ids: tuple[str, ...]
    step_index: dict[tuple[str, str], int]
    step_matrix: Any
    prompt_matrix: Any

    @classmethod
    def fit(cls, catalog: Catalog) -> SimilarityModel:
        """Build the documents from the catalog and fit the vectorizer on them."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        step_docs: list[list[str]] = []
        step_index: dict[tuple[str, str], int] = {}
        prompt_docs: list[list[str]] = []
        prompt_ids = tuple(pid for pid in catalog.prompts if pid in catalog.rubrics)
        for pid in prompt_ids:
            prompt, rubric = catalog.prompts[pid], catalog.rubrics[pid]
            whole = [prompt.question, prompt.pitch, *(f.answer for f in prompt.facts)]
            for sid in STEP_IDS:
                step = rubric.steps[sid]
                phrasings = [p for c in step.criteria for concept in c.concepts for p in concept]
                text = " \n".join([step.model_answer, prompt.sketch.get(sid, ""), *phrasings])
                step_index[(pid, sid)] = len(step_docs)
                step_docs.append(_stems_of(text))
                whole.append(text)
            prompt_docs.append(_stems_of(" \n".join(whole)))
        vectorizer = TfidfVectorizer(analyzer=_terms, sublinear_tf=True, norm="l2")
        vectorizer.fit(step_docs + prompt_docs)
        return cls(
            vectorizer=vectorizer,
            prompt_ids=prompt_ids,
            step_index=step_index,
            step_matrix=vectorizer.transform(step_docs),
            prompt_matrix=vectorizer.transform(prompt_docs),
        )

    def compare(
        self, text: AnalysedText, prompt_id: str, step_id: str, usable: Sequence[bool], topicality_exponent: float
    ) -> dict[str, Any]:
        """Similarity of the usable part of an answer to its step and to every prompt."""
        stems = [s for s, seg in zip(text.stems, text.segment_of, strict=True) if usable[seg]]
        vector = self.vectorizer.transform([stems])
        step_sim = float((self.step_matrix[self.step_index[(prompt_id, step_id)]] @ vector.T).toarray()[0, 0])
        prompt_sims = (self.prompt_matrix @ vector.T).toarray()[:, 0]
        this = float(prompt_sims[self.prompt_ids.index(prompt_id)]) if prompt_id in self.prompt_ids else 0.0
        others = [(float(s), pid) for s, pid in zip(prompt_sims, self.prompt_ids, strict=True) if pid != prompt_id]
        best_other, closest = max(others, default=(0.0, ""))
        topicality = 1.0
        if best_other > this and best_other > 0:
            topicality = (this / best_other) ** topicality_exponent
        span = STEP_SIMILARITY_CEILING - STEP_SIMILARITY_FLOOR
        return {
            "step_similarity": step_sim,
            "step_similarity_scaled": min(1.0, max(0.0, (step_sim - STEP_SIMILARITY_FLOOR) / span)),
            "prompt_similarity": this,
            "best_other": best_other,
            "closest_prompt": closest if best_other > this else "",
            "topicality": topicality,
        }
