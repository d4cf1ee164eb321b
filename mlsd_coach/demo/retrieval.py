"""Nearest-neighbour retrievers over embeddings with one shape: ``fit(vectors)``, ``search(queries, k)``.

Thin wrappers around faiss, all by inner product (cosine on normalised vectors): exact search
(``IndexFlatIP``), the HNSW graph and IVF-PQ (coarse clusters + product-quantised codes) — the
approximate indexes the candidate-generation stage of a recommender or search engine relies on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    import faiss

__all__ = ["ExactRetriever", "HNSWRetriever", "IVFPQRetriever", "Retriever", "make_retriever"]


def _as_matrix(values: ArrayLike, name: str, dim: int | None = None) -> NDArray[np.float32]:
    matrix = np.ascontiguousarray(values, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (rows × dimensions)")
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"{name} have {matrix.shape[1]} dimensions, the index has {dim}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return matrix


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class Retriever:
    """Common behaviour: validation, search, and an estimate of the index's memory."""

    name = "retriever"

    def __init__(self) -> None:
        self._index: faiss.Index | None = None
        self.n_items_ = 0
        self.dim_ = 0

    def _build(self, vectors: NDArray[np.float32]) -> faiss.Index:
        raise NotImplementedError

    def fit(self, vectors: ArrayLike) -> Retriever:
        """Index the item vectors (one row per item; row number = item id)."""
        matrix = _as_matrix(vectors, "vectors")
        self.n_items_, self.dim_ = matrix.shape
        self._index = self._build(matrix)
        return self

    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k item ids and inner-product scores for each query row (best first)."""
        if self._index is None:
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(vectors) first")
        k = _positive_int("k", k)
        if k > self.n_items_:
            raise ValueError(f"k={k} is larger than the {self.n_items_} indexed items")
        matrix = _as_matrix(queries, "queries", self.dim_)
        scores, ids = self._index.search(matrix, k)
        return scores, ids

    def memory_bytes(self) -> int:
        """Approximate size of the index in memory."""
        raise NotImplementedError


class ExactRetriever(Retriever):
    """Brute-force inner-product search: exact, the reference the approximate indexes are judged by."""

    name = "exact"

    def _build(self, vectors: NDArray[np.float32]) -> faiss.Index:
        import faiss

        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index

    def memory_bytes(self) -> int:
        """n × d float32 values."""
        return self.n_items_ * self.dim_ * 4


class HNSWRetriever(Retriever):
    """Hierarchical navigable small-world graph: fast, high recall, memory for the links.

    Inner product is served through the standard reduction to Euclidean search: each item gets an
    extra coordinate sqrt(M² − |x|²) so all items share the norm M, and queries get a 0 there; then
    the nearest items in L2 are exactly those with the largest inner product. Graph search navigates
    badly when item norms differ, which is what an extra feature coordinate (e.g. recency) causes.
    """

    name = "hnsw"

    def __init__(self, m: int = 16, ef_construction: int = 40, ef_search: int = 800) -> None:
        super().__init__()
        self.m = _positive_int("m", m)
        self.ef_construction = _positive_int("ef_construction", ef_construction)
        self.ef_search = _positive_int("ef_search", ef_search)
        self.max_norm_ = 0.0

    def _build(self, vectors: NDArray[np.float32]) -> faiss.Index:
        import faiss

        norms = np.linalg.norm(vectors, axis=1)
        self.max_norm_ = float(norms.max())
        lift = np.sqrt(np.maximum(self.max_norm_**2 - norms**2, 0.0)).astype(np.float32)
        index = faiss.IndexHNSWFlat(vectors.shape[1] + 1, self.m)
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        # Added in slices so the padded copy never holds the whole catalog at once.
        with _deterministic_hnsw_build():
            for start in range(0, vectors.shape[0], 250_000):
                stop = start + 250_000
                index.add(np.hstack([vectors[start:stop], lift[start:stop, None]]))
        return index

    def search(self, queries: ArrayLike, k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k by inner product; the beam width is raised to k when k exceeds ``ef_search``."""
        if self._index is None:
            raise ValueError("HNSWRetriever is not fitted; call fit(vectors) first")
        k = _positive_int("k", k)
        if k > self.n_items_:
            raise ValueError(f"k={k} is larger than the {self.n_items_} indexed items")
        matrix = _as_matrix(queries, "queries", self.dim_)
        graph: Any = self._index  # an IndexHNSWFlat; faiss's stubs only know the base class
        graph.hnsw.efSearch = max(self.ef_search, k)
        padded = np.hstack([matrix, np.zeros((matrix.shape[0], 1), dtype=np.float32)])
        distances, ids = self._index.search(padded, k)
        # |q − x'|² = |q|² + M² − 2⟨q, x⟩, so the inner product comes straight back.
        scores = (np.sum(matrix**2, axis=1, keepdims=True) + self.max_norm_**2 - distances) / 2
        return scores.astype(np.float32), ids

    def memory_bytes(self) -> int:
        """Vectors (plus the norm coordinate) and about 2·M level-0 links of 4 bytes per item."""
        return int(self.n_items_ * ((self.dim_ + 1) * 4 + 2 * self.m * 4 * 1.07 + 8))


class IVFPQRetriever(Retriever):
    """Inverted file over k-means cells with product-quantised codes: small and fast, lossy distances."""

    name = "ivf_pq"

    def __init__(
        self,
        n_lists: int | None = None,
        n_subquantizers: int = 8,
        n_bits: int = 8,
        n_probe: int = 32,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.n_lists = None if n_lists is None else _positive_int("n_lists", n_lists)
        self.n_subquantizers = _positive_int("n_subquantizers", n_subquantizers)
        if not 1 <= n_bits <= 16:
            raise ValueError(f"n_bits must be between 1 and 16, got {n_bits}")
        self.n_bits = n_bits
        self.n_probe = _positive_int("n_probe", n_probe)
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.seed = seed
        self.n_lists_ = 0

    def _build(self, vectors: NDArray[np.float32]) -> faiss.Index:
        import faiss

        n, dim = vectors.shape
        if dim % self.n_subquantizers:
            raise ValueError(f"dimension {dim} is not divisible by n_subquantizers={self.n_subquantizers}")
        # faiss wants ~39 training points per centroid, both for the cells and for the PQ codebooks.
        if n < 39 * 2**self.n_bits:
            raise ValueError(f"IVF-PQ with {self.n_bits}-bit codes needs at least {39 * 2**self.n_bits} vectors")
        self.n_lists_ = self.n_lists or max(1, min(int(2 * np.sqrt(n)), n // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(
            quantizer, dim, self.n_lists_, self.n_subquantizers, self.n_bits, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.seed = self.seed
        index.pq.cp.seed = self.seed
        # Ten k-means rounds and 64 sample points per cell are plenty for coarse cells and codebooks,
        # and keep training to seconds at a million vectors (faiss's defaults are 25 and 256).
        index.cp.niter = 10
        index.pq.cp.niter = 10
        index.cp.max_points_per_centroid = 64
        index.train(vectors)
        index.add(vectors)
        index.nprobe = min(self.n_probe, self.n_lists_)
        # The index holds a raw pointer to the quantizer and does not own it: keep it alive here.
        self._quantizer = quantizer
        return index

    def memory_bytes(self) -> int:
        """Codes and ids per item plus the coarse centroids and PQ codebooks."""
        code_bytes = self.n_subquantizers * self.n_bits / 8
        codebooks = self.n_subquantizers * 2**self.n_bits * (self.dim_ // self.n_subquantizers) * 4
        return int(self.n_items_ * (code_bytes + 8) + self.n_lists_ * self.dim_ * 4 + codebooks)


class _deterministic_hnsw_build:
    """Older faiss builds HNSW graphs in a thread-order-dependent way; build single-threaded there."""

    def __enter__(self) -> None:
        import faiss

        major, minor = (int(part) for part in faiss.__version__.split(".")[:2])
        # faiss >= 1.15 always uses its deterministic lock-free build.
        self._restore = None if (major, minor) >= (1, 15) else faiss.omp_get_max_threads()
        if self._restore is not None:
            faiss.omp_set_num_threads(1)

    def __exit__(self, *exc: Any) -> None:
        if self._restore is not None:
            import faiss

            faiss.omp_set_num_threads(self._restore)


def make_retriever(name: str, **params: Any) -> Retriever:
    """Build a retriever by name: "exact", "hnsw" or "ivf_pq"."""
    kinds: dict[str, type[Retriever]] = {
        "exact": ExactRetriever,
        "hnsw": HNSWRetriever,
        "ivf_pq": IVFPQRetriever,
    }
    if name not in kinds:
        raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(kinds)}")
    return kinds[name](**params)


# --- lexical retrieval and rank fusion (appended for the llm demo; generic) ---------------------


class BM25Retriever:
    """Okapi BM25 over a bag of words: scikit-learn counts the terms, one sparse product scores a batch.

    Same two-method shape as the dense retrievers, but ``fit`` and ``search`` take texts. Each query
    term counts once; idf is the "+1" form, which stays positive for terms in most documents.
    """

    name = "bm25"

    def __init__(
        self,
        k1: float = 1.2,
        b: float = 0.75,
        token_pattern: str = r"(?u)\b\w+\b",
        stop_words: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1 = k1
        self.b = b
        self.token_pattern = token_pattern
        self.stop_words = None if stop_words is None else list(stop_words)
        self.vectorizer_: Any = None
        self.weights_: Any = None
        self.n_docs_ = 0

    def fit(self, texts: list[str] | tuple[str, ...]) -> BM25Retriever:
        """Index the documents (row number = document id)."""
        from sklearn.feature_extraction.text import CountVectorizer

        if len(texts) == 0:
            raise ValueError("need at least one document")
        vectorizer = CountVectorizer(token_pattern=self.token_pattern, stop_words=self.stop_words, dtype=np.float32)
        try:
            counts = vectorizer.fit_transform(list(texts)).tocsr()
        except ValueError as error:  # no document has a single term
            raise ValueError(f"no indexable term in the documents: {error}") from None
        n_docs = counts.shape[0]
        doc_freq = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / max(float(lengths.mean()), 1e-12))
        tf = counts.data
        row_norm = np.repeat(norm, np.diff(counts.indptr))
        counts.data = (idf[counts.indices] * tf * (self.k1 + 1) / (tf + row_norm)).astype(np.float32)
        # Stored term × document, so a batch of queries scores every document with one sparse product.
        self.weights_ = counts.T.tocsr()
        self.vectorizer_ = vectorizer
        self.n_docs_ = n_docs
        return self

    def score(self, queries: list[str] | tuple[str, ...]) -> NDArray[np.float32]:
        """BM25 score of every document for each query: a dense (queries × documents) array."""
        if self.vectorizer_ is None:
            raise ValueError("BM25Retriever is not fitted; call fit(texts) first")
        terms = self.vectorizer_.transform(list(queries)).tocsr()
        terms.data[:] = 1.0
        return np.asarray((terms @ self.weights_).toarray(), dtype=np.float32)

    def search(self, queries: list[str] | tuple[str, ...], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k scores and document ids per query, best first (ties: lower id); −1 pads the ids of
        documents that share no term with the query."""
        from mlsd_coach.demo.ranking import top_k

        k = _positive_int("k", k)
        scores = self.score(queries)
        ids = top_k(scores, min(k, self.n_docs_))
        top = np.take_along_axis(scores, ids, axis=1)
        return top, np.where(top > 0, ids, -1)


def reciprocal_rank_fusion(
    rankings: list[ArrayLike] | tuple[ArrayLike, ...], depth: int, k: float = 60.0
) -> NDArray[np.int64]:
    """Fuse ranked id lists (each queries × list length, −1 = empty) by Σ 1 / (k + rank), best first.

    Only ranks count, so retrievers whose scores live on different scales need no calibration.
    Returns ``depth`` ids per query (ties: lower id first), −1 padded when fewer distinct ids exist.
    """
    from mlsd_coach.demo.ranking import top_k

    depth = _positive_int("depth", depth)
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    lists = [np.asarray(r, dtype=np.int64) for r in rankings]
    if not lists or any(r.ndim != 2 or r.shape[0] != lists[0].shape[0] for r in lists):
        raise ValueError("need one or more 2-D rankings with the same number of queries")
    ids = np.hstack(lists)
    gains = np.hstack([np.broadcast_to(1.0 / (k + np.arange(1, r.shape[1] + 1)), r.shape) for r in lists])
    valid = ids >= 0
    # Sort each row by id so the copies of an id sit together, then sum each run of equal ids.
    order = np.argsort(np.where(valid, ids, np.iinfo(np.int64).max), axis=1, kind="stable")
    ids = np.take_along_axis(ids, order, axis=1)
    gains = np.take_along_axis(np.where(valid, gains, 0.0), order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    starts = np.ones(ids.shape, dtype=bool)
    starts[:, 1:] = ids[:, 1:] != ids[:, :-1]
    run = np.cumsum(starts, axis=1) - 1
    rows = np.broadcast_to(np.arange(ids.shape[0])[:, None], ids.shape)
    totals = np.zeros(ids.shape)
    np.add.at(totals, (rows, run), gains)
    fused = np.where(starts & valid, np.take_along_axis(totals, run, axis=1), -np.inf)
    best = top_k(fused, min(depth, ids.shape[1]))
    out = np.where(np.isfinite(np.take_along_axis(fused, best, axis=1)), np.take_along_axis(ids, best, axis=1), -1)
    if out.shape[1] < depth:
        out = np.hstack([out, np.full((out.shape[0], depth - out.shape[1]), -1, dtype=np.int64)])
    return out
