"""Retrievers: exact search is exact, the approximate indexes find most true neighbours, bad input is refused."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from mlsd_coach.demo import metrics
from mlsd_coach.demo.ranking import single_threaded
from mlsd_coach.demo.retrieval import ExactRetriever, HNSWRetriever, IVFPQRetriever, make_retriever
from mlsd_coach.demo.world import normalize_rows


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """As in the demos: one thread, so a busy machine cannot stall faiss's OpenMP barriers."""
    with single_threaded():
        yield


@pytest.fixture(scope="module")
def clustered() -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around 20 centres (like topic embeddings) and 50 queries near them."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16))
    items = normalize_rows(centres[rng.integers(0, 20, 10_000)] + 0.5 * rng.standard_normal((10_000, 16)))
    queries = normalize_rows(centres[rng.integers(0, 20, 50)] + 0.5 * rng.standard_normal((50, 16)))
    return items, queries


def test_exact_search_returns_the_true_top_k_by_inner_product(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = clustered
    scores, ids = ExactRetriever().fit(items).search(queries, 10)
    truth = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    assert metrics.neighbor_recall(ids, truth) == 1.0
    assert np.allclose(scores, np.take_along_axis(queries @ items.T, ids, axis=1), atol=1e-5)


def test_hnsw_finds_most_neighbours_and_reports_inner_products(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = clustered
    exact = ExactRetriever().fit(items).search(queries, 100)[1]
    scores, ids = HNSWRetriever(m=16, ef_construction=40, ef_search=200).fit(items).search(queries, 100)
    assert metrics.neighbor_recall(ids, exact) > 0.9
    assert np.allclose(scores, np.take_along_axis(queries @ items.T, ids, axis=1), atol=1e-4)


def test_hnsw_keeps_its_recall_when_item_norms_differ(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    # An extra coordinate (like recency) makes norms unequal; inner-product graphs break down there.
    items, queries = clustered
    rng = np.random.default_rng(1)
    extra = np.hstack([items, -rng.random((items.shape[0], 1)).astype(np.float32) * 0.7])
    asking = np.hstack([queries, np.ones((queries.shape[0], 1), dtype=np.float32)])
    exact = ExactRetriever().fit(extra).search(asking, 100)[1]
    approx = HNSWRetriever(ef_search=200).fit(extra).search(asking, 100)[1]
    assert metrics.neighbor_recall(approx, exact) > 0.85


def test_ivf_pq_is_small_and_finds_many_neighbours(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = clustered
    exact = ExactRetriever().fit(items).search(queries, 100)[1]
    index = IVFPQRetriever(n_subquantizers=8, n_bits=8, n_probe=16, seed=0).fit(items)
    ids = index.search(queries, 100)[1]
    assert metrics.neighbor_recall(ids, exact) > 0.5
    assert index.memory_bytes() < ExactRetriever().fit(items).memory_bytes() / 2


def test_same_data_same_index(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = clustered
    subset = items[:3000]
    for make in (lambda: HNSWRetriever(ef_search=100), lambda: IVFPQRetriever(n_bits=6, seed=3)):
        first = make().fit(subset).search(queries, 20)[1]
        second = make().fit(subset).search(queries, 20)[1]
        assert np.array_equal(first, second)


def test_bad_input_is_refused_with_clear_messages(clustered: tuple[np.ndarray, np.ndarray]) -> None:
    items, queries = clustered
    with pytest.raises(ValueError, match="not fitted"):
        ExactRetriever().search(queries, 5)
    fitted = ExactRetriever().fit(items[:100])
    with pytest.raises(ValueError, match="larger than"):
        fitted.search(queries, 101)
    with pytest.raises(ValueError, match="dimensions"):
        fitted.search(queries[:, :8], 5)
    with pytest.raises(ValueError, match="NaN"):
        ExactRetriever().fit(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="positive integer"):
        HNSWRetriever(m=0)
    with pytest.raises(ValueError, match="divisible"):
        IVFPQRetriever(n_subquantizers=5, n_bits=4).fit(items)
    with pytest.raises(ValueError, match="at least"):
        IVFPQRetriever(n_bits=8).fit(items[:500])
    with pytest.raises(ValueError, match="unknown retriever"):
        make_retriever("annoy")
    assert isinstance(make_retriever("hnsw", m=8), HNSWRetriever)
