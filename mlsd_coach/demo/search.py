"""The search demo: marketplace search in two stages on a synthetic catalogue with known graded relevance.

Laptop-scale version of the prompt (rank ~60M listings for ~150M searches a day in < 200 ms): listings
are written by sellers in their own words (sofa / couch / settee) and carry model numbers; buyers type
their own words. Stage 1 retrieves with BM25 and with dense word-vector embeddings in a faiss index and
fuses the two lists with reciprocal rank fusion; stage 2 re-ranks the fused candidates with gradient
boosting trained on today's engine's click logs — once on raw clicks, once with the clicks reweighted
by an examination curve measured on a small slice of randomised result swaps. Every grade is known,
so every NDCG in the report is measured against the truth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlsd_coach.demo.options import DemoError, DemoOptions
from mlsd_coach.demo.ranking import single_threaded
from mlsd_coach.demo.report import FeatureSpec, ProgressCallback, Stages
from mlsd_coach.demo.world import rng_for

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from mlsd_coach.demo.report import DemoReport, Section

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# --- the catalogue's vocabulary -------------------------------------------------------------------


@dataclass(frozen=True)
class CategorySpec:
    """A product type: the words sellers and buyers use for it and what its listings talk about."""

    name: str
    department: str
    synonyms: tuple[str, ...]
    """Head nouns for the type; sellers favour the first, buyers use all of them about equally."""
    descriptors: tuple[str, ...]
    """Words listings of this type use to describe themselves."""
    has_models: bool = False
    """Listings carry a model number buyers search for (electronics, appliances, tools)."""
    parent: str = ""
    """For accessories: the product type they fit (a phone case is not a phone)."""


_CATEGORY_TABLE = """
[furniture]
sofa          | -       | sofa couch settee                    | cushions seater upholstered armrest recliner sectional
bed           | -       | bed bedframe bedstead                | headboard slats mattress double divan storage
wardrobe      | -       | wardrobe closet armoire              | hanging rail doors shelves mirrored hinged
desk          | -       | desk workstation bureau              | drawers study office writing computer legs
lamp          | -       | lamp light lantern                   | bulb shade bedside dimmable led lighting
sofa cover    | sofa    | slipcover cover throw                | stretch fitted washable protector elastic
[electronics]
laptop        | models  | laptop notebook ultrabook            | processor ssd ram display keyboard battery core
headphones    | models  | headphones earphones headset earbuds | wireless noise cancelling bluetooth ear bass
tv            | models  | tv television telly                  | hdr screen smart inch uhd remote hdmi
phone         | models  | smartphone phone mobile cellphone    | camera unlocked dual sim gb battery android
speaker       | models  | speaker soundbar boombox             | bass portable waterproof bluetooth stereo subwoofer
camera        | models  | camera dslr mirrorless               | lens megapixel zoom tripod sensor shutter
phone case    | phone   | case cover bumper                    | protective shockproof slim clear silicone compatible
laptop sleeve | laptop  | sleeve bag                           | padded fits zip carry neoprene compatible
tv mount      | tv      | mount bracket stand                  | wall tilt swivel vesa fits
[appliances]
fridge        | models  | fridge refrigerator icebox           | freezer frost litre compartment chiller door
vacuum        | models  | vacuum hoover sweeper                | cordless suction bagless cyclone filter carpet
kettle        | models  | kettle boiler                        | boil litre cordless stainless rapid limescale
washer        | models  | washer                               | spin rpm load drum laundry kg
microwave     | models  | microwave                            | oven grill watts turntable defrost countertop
coffee        | models  | coffeemaker brewer                   | espresso grinder filter barista pods cappuccino
[clothing]
sneakers      | -       | sneakers trainers runners kicks      | running sole laces mesh cushioned gym
sweater       | -       | sweater jumper pullover              | knit wool crew neck cosy cashmere
trousers      | -       | trousers pants slacks                | slim fit waist leg chino pockets
jacket        | -       | jacket coat parka anorak             | hooded waterproof zip padded winter lined
handbag       | -       | handbag purse tote                   | strap shoulder leather clutch zip compartment
[sports]
bicycle       | -       | bicycle bike cycle                   | gears frame wheels brakes mountain saddle
tent          | -       | tent shelter                         | camping poles waterproof person pitch groundsheet
backpack      | -       | backpack rucksack knapsack           | hiking straps litre pockets padded daypack
dumbbells     | -       | dumbbells weights                    | adjustable kg rack gym set hex
bike helmet   | bicycle | helmet                               | cycling vents adjustable safety visor
[kitchen]
pan           | -       | pan skillet frypan                   | nonstick induction handle fry cast iron
blender       | models  | blender liquidiser mixer             | jug blades smoothie pulse watts crush
mug           | -       | mug cup beaker                       | ceramic coffee tea dishwasher handle stoneware
[tools]
drill         | models  | drill driver screwdriver             | cordless battery chuck torque bits volt
mower         | models  | lawnmower mower                      | grass cutting petrol cordless blade mulching
hose          | -       | hose hosepipe                        | garden reel spray nozzle metre watering
[baby]
stroller      | -       | stroller pushchair pram buggy        | foldable infant canopy wheels harness newborn
crib          | -       | crib cot                             | mattress baby sides convertible nursery rails
"""
"""Product types of the synthetic marketplace under their department: name | "models" (listings carry model
numbers), the product an accessory fits, or "-" | synonyms, catalogue word first | descriptors. Shared
words (cordless, waterproof, cover) are deliberate: real catalogues are full of them, and they are what
makes lexical matching imprecise."""


def _parse_categories(table: str) -> tuple[CategorySpec, ...]:
    """CategorySpecs from the table above: "[department]" lines, then one product type per line."""
    specs = []
    department = ""
    for line in table.strip().splitlines():
        if line.startswith("["):
            department = line.strip("[] ")
            continue
        name, kind, synonyms, descriptors = (cell.strip() for cell in line.split("|"))
        specs.append(
            CategorySpec(
                name=name,
                department=department,
                synonyms=tuple(synonyms.split()),
                descriptors=tuple(descriptors.split()),
                has_models=kind == "models",
                parent="" if kind in ("-", "models") else kind,
            )
        )
    return tuple(specs)


CATEGORIES: tuple[CategorySpec, ...] = _parse_categories(_CATEGORY_TABLE)
"""Every product type, parsed from the table."""

COLORS: tuple[tuple[str, ...], ...] = (
    ("black",), ("white",), ("grey", "gray"), ("red",), ("blue",), ("green",), ("silver",), ("pink",),
    ("brown",), ("beige",), ("navy",), ("yellow",),
)  # fmt: skip
"""Colours and their spellings (sellers mostly write "grey", buyers type both)."""
COLOR_POPULARITY = (0.2, 0.16, 0.12, 0.08, 0.1, 0.06, 0.07, 0.05, 0.06, 0.04, 0.03, 0.03)

FILLERS: tuple[str, ...] = (
    "new", "sale", "free", "delivery", "deal", "best", "quality", "premium", "original", "genuine", "fast",
    "gift", "offer", "warranty", "authentic", "discount", "limited", "edition", "stock", "rated", "value",
    "pack", "official", "bundle", "cheap", "ideal", "perfect", "modern", "classic", "stylish",
)  # fmt: skip
"""Sales talk sellers pad listings with: frequent, so BM25 gives it little weight."""
QUERY_MODIFIERS: tuple[str, ...] = ("cheap", "best", "new", "sale", "deal")

_BRAND_HEADS = tuple("zor vel kam tri bel nox lum dra qui fen mar quo ark tav ven oru".split())
_BRAND_TAILS = tuple("vek ude ara orn ento ola ux ar eon ika ano esk".split())
BRANDS_PER_DEPARTMENT = 10

QUERY_KINDS: tuple[str, ...] = ("colour + type", "brand + type", "model number")
"""What buyers search for: "grey couch", "zorvek headphones", "zv4521"."""


# --- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchConfig:
    """Sizes and hidden rules of one search world; the defaults are the demo's default run."""

    n_listings: int = 30_000
    """Listings in the catalogue (``--items``)."""
    n_train_queries: int = 3_000
    """Distinct queries in today's engine's click logs."""
    n_test_queries: int = 600
    """Distinct queries in the judged set (never seen in the logs)."""
    n_sessions: int = 300_000
    """Logged search sessions over the training queries (Zipf-distributed: a head and a long tail)."""
    slate_size: int = 20
    """Results on the first page, where clicks are logged."""
    swap_share: float = 0.03
    """Share of sessions in the randomised slice: result 1 swapped with a random result 2..slate_size."""
    examination_eta: float = 1.0
    """Hidden position bias: a buyer looks at result p with probability p**-eta."""
    click_given_grade: tuple[float, float, float, float] = (0.02, 0.08, 0.25, 0.6)
    """Hidden click probability of an examined result of grade 0, 1, 2, 3."""
    query_mix: tuple[float, float, float] = (0.45, 0.3, 0.25)
    """Shares of QUERY_KINDS among distinct queries."""
    listings_per_product: float = 2.0
    """Mean listings (sellers) per product; all listings of a product share its model number."""
    n_candidates: int = 100
    """Candidates stage 1 hands to the re-ranker (and the Recall@k cut-off)."""
    dense_dim: int = 128
    """Dimensions of the dense word-vector embeddings."""
    rrf_k: int = 60
    """Reciprocal rank fusion constant: a result at rank r contributes 1 / (rrf_k + r)."""
    min_propensity: float = 0.05
    """Estimated examination probabilities are clipped here, capping inverse-propensity weights at 20."""
    sales_boost: float = 0.15
    """Today's engine ranks by BM25 × (1 + sales_boost · ln(1 + sales)): the hand-tuned best-seller boost."""
    zipf_exponent: float = 1.0
    """Sessions per query ∝ rank**-exponent: a few head queries and a long tail."""
    rerank_trees: int = 150
    """Boosting iterations of each re-ranker."""
    seed: int = 0

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, tuple):
                if any(v < 0 for v in value):
                    raise ValueError(f"{spec.name} must hold non-negative numbers")
            elif isinstance(value, bool) or value < 0:
                raise ValueError(f"{spec.name} must be non-negative, got {value!r}")
        for name in ("n_listings", "n_train_queries", "n_test_queries", "n_sessions", "n_candidates", "dense_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.slate_size < 2:
            raise ValueError("slate_size must be at least 2 (the swaps need a second slot)")
        if self.n_candidates < self.slate_size:
            raise ValueError("n_candidates must be at least slate_size")
        if not 0 < self.min_propensity <= 1 or not 0 <= self.swap_share < 1:
            raise ValueError("min_propensity must be in (0, 1] and swap_share in [0, 1)")
        if len(self.query_mix) != len(QUERY_KINDS) or sum(self.query_mix) <= 0:
            raise ValueError(f"query_mix needs {len(QUERY_KINDS)} shares with a positive sum")
        if self.listings_per_product < 1:
            raise ValueError("listings_per_product must be at least 1")


# --- the world: catalogue, queries and the truth --------------------------------------------------


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The listings sellers wrote, with the structured truth behind each text."""

    texts: tuple[str, ...]
    """Title and description of each listing, as one string."""
    category: IntArray
    """Index into CATEGORIES."""
    brand: IntArray
    color: IntArray
    """Index into COLORS (the item's real colour, whether or not the text says it)."""
    product: IntArray
    """Product id; listings of one product share its model number."""
    sales: FloatArray
    """Past sales of each listing: observable, and unrelated to relevance (price, marketing, luck)."""
    brand_names: tuple[str, ...]
    brand_department: tuple[str, ...]
    product_category: IntArray
    product_brand: IntArray
    product_model: tuple[str, ...]

    @property
    def n_listings(self) -> int:
        """Number of listings."""
        return int(self.category.size)


@dataclass(frozen=True, eq=False)
class QuerySet:
    """Distinct queries with the intent each one was typed with (the truth the grades come from)."""

    texts: tuple[str, ...]
    kind: IntArray
    """Index into QUERY_KINDS."""
    category: IntArray
    color: IntArray
    """Wanted colour (−1: any)."""
    brand: IntArray
    """Wanted brand (−1: any)."""
    product: IntArray
    """Wanted product (−1: any)."""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: IntArray) -> QuerySet:
        """The queries at ``rows``."""
        return QuerySet(
            tuple(self.texts[i] for i in rows.tolist()),
            self.kind[rows],
            self.category[rows],
            self.color[rows],
            self.brand[rows],
            self.product[rows],
        )


_CATEGORY_INDEX = {spec.name: i for i, spec in enumerate(CATEGORIES)}
_PARENT = np.array([_CATEGORY_INDEX[spec.parent] if spec.parent else -1 for spec in CATEGORIES], dtype=np.int64)
_DEPARTMENTS = tuple(dict.fromkeys(spec.department for spec in CATEGORIES))


def _seller_weights(n: int) -> FloatArray:
    """Sellers write the catalogue word: weights 1, 1/3, 1/9, ... over a type's synonyms (colloquial last)."""
    weights = (1 / 3) ** np.arange(n, dtype=float)
    return weights / weights.sum()


def _brand_names(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Invented brand names and a distinct two-letter model-number prefix for each."""
    n = BRANDS_PER_DEPARTMENT * len(_DEPARTMENTS)
    pairs = [(h, t) for h in _BRAND_HEADS for t in _BRAND_TAILS]
    chosen = rng.choice(len(pairs), size=n, replace=False)
    names = [pairs[i][0] + pairs[i][1] for i in chosen.tolist()]
    letters = "bcdfghjklmnpqrstvwxz"
    prefixes = [
        letters[i // len(letters)] + letters[i % len(letters)] for i in rng.choice(len(letters) ** 2, n, replace=False)
    ]
    return names, prefixes


def make_catalogue(config: SearchConfig) -> Catalogue:
    """Products (type, brand, colour, model number) and the listings sellers wrote for them."""
    rng = rng_for(config.seed, "search/catalogue")
    names, prefixes = _brand_names(rng)
    brand_department = [_DEPARTMENTS[i // BRANDS_PER_DEPARTMENT] for i in range(len(names))]
    n_categories = len(CATEGORIES)
    # Accessories are a smaller share of the catalogue than the products they fit.
    share = rng.dirichlet(np.full(n_categories, 8.0)) * np.where(_PARENT >= 0, 0.5, 1.0)
    share /= share.sum()
    n_products = max(1, round(config.n_listings / config.listings_per_product))
    product_category = rng.choice(n_categories, size=n_products, p=share)
    department_of = np.array([_DEPARTMENTS.index(spec.department) for spec in CATEGORIES])
    product_brand = department_of[product_category] * BRANDS_PER_DEPARTMENT + rng.integers(
        0, BRANDS_PER_DEPARTMENT, n_products
    )
    product_color = rng.choice(len(COLORS), size=n_products, p=np.asarray(COLOR_POPULARITY) / sum(COLOR_POPULARITY))
    numbers = rng.choice(np.arange(100, 10_000), size=n_products, replace=False) if n_products <= 9_900 else None
    if numbers is None:
        numbers = rng.permutation(np.arange(100, 100 + 10 * n_products, 10))
    product_model = tuple(prefixes[b] + str(n) for b, n in zip(product_brand.tolist(), numbers.tolist(), strict=True))
    # A few products have many sellers, most have one or two.
    popularity = rng.lognormal(0.0, 1.0, n_products)
    product = np.sort(rng.choice(n_products, size=config.n_listings, p=popularity / popularity.sum()))
    category = product_category[product]
    n = config.n_listings
    coin = rng.random((n, 6))
    # Per-listing word choices, drawn for all listings at once: the first few entries of a random
    # permutation of the type's descriptors, of the fillers, and a seller's choice of synonym.
    desc_order = np.argsort(rng.random((n, max(len(spec.descriptors) for spec in CATEGORIES))), axis=1)
    n_desc = rng.integers(3, 7, n)
    filler_order = np.argsort(rng.random((n, len(FILLERS))), axis=1)
    n_fill = rng.integers(2, 6, n)
    head_draw, parent_draw, second_draw = rng.random(n), rng.random(n), rng.random(n)
    cumulative = {k: np.cumsum(_seller_weights(k))[:-1] for k in range(1, 5)}
    texts = []
    for i, (p, c) in enumerate(zip(product.tolist(), category.tolist(), strict=True)):
        spec = CATEGORIES[c]
        words: list[str] = []
        if coin[i, 0] < 0.9:
            words.append(names[product_brand[p]])
        if spec.has_models and coin[i, 1] < 0.85:
            words.append(product_model[p])
        if coin[i, 2] < 0.85:  # the rest leave the colour to a photo or a drop-down
            spellings = COLORS[product_color[p]]
            words.append(spellings[0] if len(spellings) == 1 or coin[i, 3] < 0.75 else spellings[1])
        n_syn = len(spec.synonyms)
        head = int(np.searchsorted(cumulative[n_syn], head_draw[i], side="right"))
        words.append(spec.synonyms[head])
        if spec.parent and coin[i, 4] < 0.85:
            parent = CATEGORIES[_PARENT[c]].synonyms
            words.append(parent[int(np.searchsorted(cumulative[len(parent)], parent_draw[i], side="right"))])
        size = len(spec.descriptors)
        picks = [j for j in desc_order[i].tolist() if j < size][: min(int(n_desc[i]), size)]
        words.extend(spec.descriptors[j] for j in picks)
        if n_syn > 1 and coin[i, 5] < 0.1:  # keyword stuffing: a second name for the thing
            words.append(spec.synonyms[(head + 1 + int(second_draw[i] * (n_syn - 1))) % n_syn])
        words.extend(FILLERS[j] for j in filler_order[i, : n_fill[i]].tolist())
        texts.append(" ".join(words))
    return Catalogue(
        texts=tuple(texts),
        category=category,
        brand=product_brand[product],
        color=product_color[product],
        product=product,
        sales=np.floor(rng.lognormal(1.5, 1.5, n)),
        brand_names=tuple(names),
        brand_department=tuple(brand_department),
        product_category=product_category,
        product_brand=product_brand,
        product_model=product_model,
    )


def make_queries(catalogue: Catalogue, n: int, rng: np.random.Generator, mix: Sequence[float]) -> QuerySet:
    """``n`` distinct queries drawn from buyers' intents and written in buyers' words, ``mix`` of each kind."""
    main = np.flatnonzero(_PARENT < 0)
    listed = np.unique(catalogue.product)
    modelled = listed[np.array([CATEGORIES[c].has_models for c in catalogue.product_category[listed]], dtype=bool)]
    color_p = np.asarray(COLOR_POPULARITY) / sum(COLOR_POPULARITY)
    shares = np.asarray(mix, dtype=float) / sum(mix)
    quota = np.floor(shares * n).astype(int)
    quota[int(np.argmax(shares))] += n - int(quota.sum())
    if not modelled.size:
        quota[0] += quota[2]
        quota[2] = 0
    seen: dict[str, tuple[int, int, int, int, int]] = {}
    for kind, wanted in enumerate(quota.tolist()):
        found = 0
        for _ in range(50 * wanted):
            if found == wanted:
                break
            color = brand = product = -1
            if kind == 2:
                product = int(rng.choice(modelled))
                category = int(catalogue.product_category[product])
                brand = int(catalogue.product_brand[product])
            else:
                category = int(rng.choice(main))
            spec = CATEGORIES[category]
            # Buyers use every name for a thing about equally often; sellers favour one.
            noun = spec.synonyms[int(rng.integers(len(spec.synonyms)))]
            if kind == 0:
                color = int(rng.choice(len(COLORS), p=color_p))
                words = [COLORS[color][int(rng.integers(len(COLORS[color])))], noun]
            elif kind == 1:
                brand = _DEPARTMENTS.index(spec.department) * BRANDS_PER_DEPARTMENT + int(
                    rng.integers(BRANDS_PER_DEPARTMENT)
                )
                words = [catalogue.brand_names[brand], noun]
            else:
                model = catalogue.product_model[product]
                form = rng.random()
                words = (
                    [model] if form < 0.4 else [catalogue.brand_names[brand], model] if form < 0.75 else [model, noun]
                )
            if kind < 2 and rng.random() < 0.15:
                words.insert(0, QUERY_MODIFIERS[int(rng.integers(len(QUERY_MODIFIERS)))])
            text = " ".join(words)
            if text not in seen:
                seen[text] = (kind, category, color, brand, product)
                found += 1
        if found < wanted:
            raise ValueError(
                f"the catalogue supports only {found} distinct {QUERY_KINDS[kind]} queries, {wanted} were asked for"
            )
    intents = np.array(list(seen.values()), dtype=np.int64).reshape(-1, 5)
    return QuerySet(tuple(seen), intents[:, 0], intents[:, 1], intents[:, 2], intents[:, 3], intents[:, 4])


def relevance_grades(catalogue: Catalogue, queries: QuerySet, listings: IntArray | None = None) -> NDArray[np.int8]:
    """The true grade of listings for each query: of every listing (rows = queries), or of ``listings[i]``.

    3 exact match · 2 substitute (right type, wrong colour or brand) · 1 related (an accessory for the
    type, the brand's other products, another model of the same brand and type) · 0 irrelevant.
    ``listings`` is a (queries × m) id array; ids below zero (empty slots) get grade 0.
    """
    if listings is None:
        # Every listing: broadcast the catalogue's columns instead of gathering them.
        cat, brand = catalogue.category[None, :], catalogue.brand[None, :]
        color, product, empty = catalogue.color[None, :], catalogue.product[None, :], None
    else:
        docs = np.asarray(listings)
        if docs.ndim != 2 or docs.shape[0] != len(queries):
            raise ValueError("listings must be 2-D with one row per query")
        ids, empty = np.maximum(docs, 0), docs < 0
        cat, brand, color, product = (
            catalogue.category[ids],
            catalogue.brand[ids],
            catalogue.color[ids],
            catalogue.product[ids],
        )
    want = queries.category[:, None]
    kind = queries.kind[:, None]
    same_type = cat == want
    same_brand = brand == queries.brand[:, None]
    exact = np.where(
        kind == 0,
        same_type & (color == queries.color[:, None]),
        np.where(kind == 1, same_type & same_brand, product == queries.product[:, None]),
    )
    # Someone who types a model number wants that product: another model is at best related.
    substitute = (kind < 2) & same_type
    related = np.where(kind == 2, same_type & same_brand, (_PARENT[cat] == want) | ((kind == 1) & same_brand))
    grades = np.where(exact, np.int8(3), np.where(substitute, np.int8(2), related.astype(np.int8)))
    if empty is not None:
        grades[empty] = 0
    return grades.astype(np.int8, copy=False)


# --- stage 1: lexical, dense, fused ---------------------------------------------------------------


class WordVectorEncoder:
    """Dense text encoder: word vectors from the catalogue's co-occurrence statistics, averaged per text.

    Word vectors are the SVD of the positive pointwise mutual information between words that appear in
    the same listing (the classic count-based equivalent of word2vec); a text is the idf-weighted sum of
    its words' unit vectors, normalised. A stand-in for a learned two-tower or sentence encoder with the
    same strengths and weaknesses: words used in the same contexts ("couch", "sofa") get the same
    vector, while a word outside the vocabulary — here anything in fewer than ``min_df`` listings, such
    as most model numbers — contributes nothing, as a rare token does to a pretrained encoder.
    """

    def __init__(self, dim: int = 128, min_df: int = 5, seed: int = 0) -> None:
        if dim < 1 or min_df < 1:
            raise ValueError("dim and min_df must be positive")
        self.dim = dim
        self.min_df = min_df
        self.seed = seed
        self.vectorizer_: Any = None
        self.word_vectors_: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)

    def fit(self, documents: Sequence[str]) -> WordVectorEncoder:
        """Learn the vocabulary, the idf and one vector per word from the documents."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        from mlsd_coach.demo.world import normalize_rows

        self.vectorizer_ = TfidfVectorizer(min_df=self.min_df, binary=True, norm=None, dtype=np.float32)
        try:
            weighted = self.vectorizer_.fit_transform(documents)
        except ValueError as error:  # every word rarer than min_df
            raise ValueError(f"no word appears in {self.min_df} documents: {error}") from None
        present = (weighted > 0).astype(np.float32)
        together = np.asarray((present.T @ present).todense(), dtype=np.float64)
        np.fill_diagonal(together, 0.0)
        total = together.sum()
        marginal = together.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            pmi = np.log(together * total / np.outer(marginal, marginal))
        ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0)
        dim = max(1, min(self.dim, ppmi.shape[0] - 1))
        svd = TruncatedSVD(n_components=dim, n_iter=5, random_state=self.seed)
        projected = svd.fit_transform(ppmi)
        # Scaling by sqrt(singular value) is the usual symmetric split of the factorisation.
        vectors = projected / np.sqrt(np.maximum(svd.singular_values_, 1e-12))
        self.word_vectors_ = normalize_rows(vectors)
        return self

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit-length embeddings (all-zero for a text with no word in the vocabulary)."""
        from mlsd_coach.demo.world import normalize_rows

        if self.vectorizer_ is None:
            raise ValueError("WordVectorEncoder is not fitted; call fit(documents) first")
        weighted = self.vectorizer_.transform(list(texts))
        return normalize_rows(weighted @ self.word_vectors_)


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("bm25", "query×listing", "BM25 score of the listing for the query"),
    FeatureSpec("dense_cosine", "query×listing", "cosine of the query and listing embeddings"),
    FeatureSpec("term_coverage", "query×listing", "share of the query's words found in the listing"),
    FeatureSpec(
        "idf_coverage", "query×listing", "the same, each word weighted by its rarity (a model number weighs most)"
    ),
    FeatureSpec("type_affinity", "query×listing", "cosine of the query and the centroid of the listing's product type"),
    FeatureSpec("type_rank", "query×listing", "rank of the listing's product type among all types for the query"),
    FeatureSpec("brand_match", "query×listing", "the query names the listing's brand"),
    FeatureSpec("listing_words", "listing", "length of the listing's text"),
    FeatureSpec("sales", "listing", "log of the listing's past sales (today's engine boosts them)"),
)
FEATURE_NAMES = tuple(spec.name for spec in FEATURES)
MONOTONIC: dict[str, int] = {"bm25": 1, "idf_coverage": 1}
"""Directions the re-ranker may not contradict: a stronger lexical match never lowers the score. The logs
hold only what today's engine showed, so listings that share no word with the query never appear in
training; without the constraint the trees extrapolate to them arbitrarily — and noisy inverse-propensity
targets make that worse — ranking whatever dense found above an exact model-number match. Everything
else, sales included, is left free: whether the model leans on sales is the lesson."""


@dataclass(frozen=True, eq=False)
class Candidates:
    """Stage 1 for a batch of queries: each retriever's ranked ids (−1 = empty slot) and the query encodings."""

    lexical: IntArray
    """Today's engine: BM25 with the sales boost."""
    dense: IntArray
    fused: IntArray
    terms: csr_matrix
    """Binary query-term matrix over the BM25 vocabulary."""
    vectors: NDArray[np.float32]
    """Query embeddings (all-zero when no query word is in the encoder's vocabulary)."""


class SearchEngine:
    """Stage 1 (BM25 ∥ dense → reciprocal rank fusion) over one catalogue, and the re-ranker's features."""

    def __init__(self, catalogue: Catalogue, config: SearchConfig) -> None:
        from mlsd_coach.demo.retrieval import BM25Retriever, ExactRetriever
        from mlsd_coach.demo.world import normalize_rows

        self.catalogue = catalogue
        self.config = config
        self.bm25 = BM25Retriever().fit(catalogue.texts)
        # Listing × term BM25 weights, for scoring arbitrary (query, listing) pairs.
        self.listing_weights = self.bm25.weights_.T.tocsr()
        presence = self.listing_weights.copy()
        presence.data[:] = 1.0
        self.presence = presence
        doc_freq = np.bincount(presence.indices, minlength=presence.shape[1])
        n = catalogue.n_listings
        self.idf = np.log1p((n - doc_freq + 0.5) / (doc_freq + 0.5))
        self.encoder = WordVectorEncoder(dim=config.dense_dim, seed=config.seed).fit(catalogue.texts)
        self.listing_vectors = self.encoder.encode(catalogue.texts)
        self.index = ExactRetriever().fit(self.listing_vectors)
        self.boost = (1.0 + config.sales_boost * np.log1p(catalogue.sales)).astype(np.float32)
        centroids = np.zeros((len(CATEGORIES), self.listing_vectors.shape[1]), dtype=np.float32)
        np.add.at(centroids, catalogue.category, self.listing_vectors)
        self.type_centroids = normalize_rows(centroids)
        vocabulary = self.bm25.vectorizer_.vocabulary_
        self.brand_term = np.array([vocabulary.get(name, -1) for name in catalogue.brand_names])
        self.listing_words = np.array([len(text.split()) for text in catalogue.texts], dtype=np.float32)

    def query_terms(self, queries: Sequence[str]) -> csr_matrix:
        """Binary query-term matrix over the BM25 vocabulary (words the catalogue never uses are dropped)."""
        terms = self.bm25.vectorizer_.transform(list(queries)).tocsr()
        terms.data[:] = 1.0
        return terms

    def lexical_scores(self, terms: csr_matrix) -> NDArray[np.float32]:
        """Today's ranking score of every listing: BM25 × the sales boost (0 when no word matches)."""
        return np.asarray((terms @ self.bm25.weights_).toarray(), dtype=np.float32) * self.boost[None, :]

    def retrieve(self, queries: Sequence[str], chunk: int = 256) -> Candidates:
        """Lexical, dense and fused top-k lists for every query."""
        from mlsd_coach.demo.ranking import top_k
        from mlsd_coach.demo.retrieval import reciprocal_rank_fusion

        k = min(self.config.n_candidates, self.catalogue.n_listings)
        terms = self.query_terms(queries)
        lexical = []
        for start in range(0, len(queries), chunk):
            scores = self.lexical_scores(terms[start : start + chunk])
            ids = top_k(scores, k)
            # A listing sharing no word with the query is not a lexical match, whatever its rank.
            lexical.append(np.where(np.take_along_axis(scores, ids, axis=1) > 0, ids, -1))
        vectors = self.encoder.encode(queries)
        _, dense = self.index.search(vectors, k)
        # A query with no word the encoder knows has no embedding to search with.
        dense = np.where(np.any(vectors != 0, axis=1)[:, None], dense, -1)
        lexical_ids = np.vstack(lexical)
        fused = reciprocal_rank_fusion([lexical_ids, dense], k, self.config.rrf_k)
        return Candidates(lexical_ids, dense, fused, terms, vectors)

    def features(self, candidates: Candidates, rows: IntArray, listings: IntArray) -> NDArray[np.float32]:
        """Feature rows (columns = FEATURE_NAMES) for (query row, listing) pairs of one Candidates batch."""
        from mlsd_coach.demo.world import rowwise_dot

        terms = candidates.terms
        query_terms = terms[rows]
        present = self.presence[listings]
        n_terms = np.asarray(terms.sum(axis=1)).ravel()[rows]
        idf_terms = terms.multiply(self.idf[None, :]).tocsr()
        idf_total = np.asarray(idf_terms.sum(axis=1)).ravel()[rows]
        affinity = candidates.vectors @ self.type_centroids.T
        own_type = affinity[rows, self.catalogue.category[listings]]
        brand_column = self.brand_term[self.catalogue.brand[listings]]
        columns = {
            "bm25": np.asarray(self.listing_weights[listings].multiply(query_terms).sum(axis=1)).ravel(),
            "dense_cosine": rowwise_dot(candidates.vectors, rows, self.listing_vectors, listings),
            "term_coverage": np.asarray(present.multiply(query_terms).sum(axis=1)).ravel() / np.maximum(n_terms, 1),
            "idf_coverage": np.asarray(present.multiply(idf_terms[rows]).sum(axis=1)).ravel()
            / np.maximum(idf_total, 1e-9),
            "type_affinity": own_type,
            "type_rank": 1 + np.sum(affinity[rows] > own_type[:, None], axis=1),
            "brand_match": np.where(
                brand_column >= 0, np.asarray(terms[rows, np.maximum(brand_column, 0)]).ravel(), 0.0
            ),
            "listing_words": self.listing_words[listings],
            "sales": np.log1p(self.catalogue.sales[listings]),
        }
        out = np.empty((rows.size, len(FEATURES)), dtype=np.float32)
        for j, name in enumerate(FEATURE_NAMES):
            out[:, j] = columns[name]
        return out


# --- click logs, position bias and the swap slice --------------------------------------------------


@dataclass(frozen=True)
class SwapCounts:
    """Clicks at slots 1 and k in sessions where results 1 and k were swapped, and in untouched sessions.

    Index i holds slot k = i + 2. Untouched (control) counts cover only queries with at least k results.
    """

    swapped_sessions: FloatArray
    swapped_top: FloatArray
    """Clicks at slot 1 (on the result that was at slot k)."""
    swapped_k: FloatArray
    """Clicks at slot k (on the result that was at slot 1)."""
    control_sessions: FloatArray
    control_top: FloatArray
    control_k: FloatArray


@dataclass(frozen=True, eq=False)
class ClickLog:
    """Today's engine's search logs, aggregated per (query, listing, slot)."""

    query: IntArray
    """Row in the training QuerySet."""
    listing: IntArray
    position: IntArray
    """Slot on the page, 1 = top."""
    impressions: FloatArray
    clicks: FloatArray
    sessions: IntArray
    """Sessions of each training query (Zipf over queries)."""
    swaps: SwapCounts


def examination_from_swaps(swaps: SwapCounts) -> FloatArray:
    """Examination of slots 1..K relative to slot 1, from the swap slice (NaN where a slot has no data).

    Swapping results 1 and k keeps the pair of results and moves only their slots, so summed over the
    swapped and the untouched sessions the relevance cancels out:
    θ_k / θ_1 = (click rate at k, swapped + untouched) / (click rate at 1, swapped + untouched).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        at_k = swaps.swapped_k / swaps.swapped_sessions + swaps.control_k / swaps.control_sessions
        at_top = swaps.swapped_top / swaps.swapped_sessions + swaps.control_top / swaps.control_sessions
        ratio = at_k / at_top
    usable = (swaps.swapped_sessions > 0) & (swaps.control_sessions > 0) & (at_top > 0)
    return np.concatenate([[1.0], np.where(usable, ratio, np.nan)])


def smooth_examination(raw: FloatArray, weights: FloatArray, floor: float) -> FloatArray:
    """A non-increasing curve through the raw ratios (isotonic regression), clipped to [floor, 1]."""
    from sklearn.isotonic import IsotonicRegression

    slots = np.arange(1, raw.size + 1, dtype=float)
    known = np.isfinite(raw)
    # Slot 1 is the reference (exactly 1); give it the weight of all the swap data.
    weight = np.concatenate([[max(float(np.sum(weights)), 1.0)], np.asarray(weights, dtype=float)])[known]
    model = IsotonicRegression(increasing=False, y_min=floor, y_max=1.0, out_of_bounds="clip")
    model.fit(slots[known], raw[known], sample_weight=weight)
    return np.asarray(model.predict(slots), dtype=float)


def simulate_click_logs(
    catalogue: Catalogue,
    queries: QuerySet,
    slates: IntArray,
    config: SearchConfig,
    rng: np.random.Generator,
) -> ClickLog:
    """Sessions of today's engine under a position-based click model, with the randomised swap slice.

    A buyer looks at slot p with probability p**-eta and clicks what they look at with a probability
    set by its grade alone. In ``swap_share`` of sessions result 1 trades places with a random result
    2..k (k = the page's length); everything is aggregated per (query, listing, slot).
    """
    n_queries, slots = slates.shape
    weights = np.arange(1, n_queries + 1, dtype=float) ** -config.zipf_exponent
    sessions = rng.multinomial(config.n_sessions, weights[rng.permutation(n_queries)] / weights.sum())
    lengths = (slates >= 0).sum(axis=1)
    # Arrangement 0 is the engine's order; arrangement a ≥ 1 swaps slot 1 with slot a + 1.
    shares = np.zeros((n_queries, slots))
    shares[:, 0] = np.where(lengths >= 2, 1 - config.swap_share, 1.0)
    for a in range(1, slots):
        shares[:, a] = np.where(lengths > a, config.swap_share / np.maximum(lengths - 1, 1), 0.0)
    arrangement = np.array([rng.multinomial(n, p) for n, p in zip(sessions.tolist(), shares, strict=True)])
    examination = np.arange(1, slots + 1, dtype=float) ** -config.examination_eta
    click_given_grade = np.asarray(config.click_given_grade)
    zeros = np.zeros(slots - 1)
    counts = {name: zeros.copy() for name in ("ss", "st", "sk", "cs", "ct", "ck")}
    parts: list[tuple[IntArray, IntArray, IntArray, IntArray, IntArray]] = []
    for a in range(slots):
        rows = np.flatnonzero(arrangement[:, a] > 0)
        order = np.tile(np.arange(slots), (rows.size, 1))
        order[:, [0, a]] = order[:, [a, 0]]
        shown = np.take_along_axis(slates[rows], order, axis=1)
        grades = relevance_grades(catalogue, queries.subset(rows), shown)
        n = np.broadcast_to(arrangement[rows, a][:, None], shown.shape)
        clicks = rng.binomial(n, examination[None, :] * click_given_grade[grades]) * (shown >= 0)
        if a == 0:
            for k in range(2, slots + 1):
                eligible = lengths[rows] >= k
                counts["cs"][k - 2] += n[eligible, 0].sum()
                counts["ct"][k - 2] += clicks[eligible, 0].sum()
                counts["ck"][k - 2] += clicks[eligible, k - 1].sum()
        else:
            counts["ss"][a - 1] += n[:, 0].sum()
            counts["st"][a - 1] += clicks[:, 0].sum()
            counts["sk"][a - 1] += clicks[:, a].sum()
        valid = shown >= 0
        slot = np.broadcast_to(np.arange(1, slots + 1), shown.shape)
        parts.append(
            (np.broadcast_to(rows[:, None], shown.shape)[valid], shown[valid], slot[valid], n[valid], clicks[valid])
        )
    query, listing, position, impressions, clicks = (np.concatenate(column) for column in zip(*parts, strict=True))
    key = (query * catalogue.n_listings + listing) * (slots + 1) + position
    unique, inverse = np.unique(key, return_inverse=True)
    swaps = SwapCounts(counts["ss"], counts["st"], counts["sk"], counts["cs"], counts["ct"], counts["ck"])
    return ClickLog(
        query=unique // (slots + 1) // catalogue.n_listings,
        listing=(unique // (slots + 1)) % catalogue.n_listings,
        position=unique % (slots + 1),
        impressions=np.bincount(inverse, weights=impressions).astype(float),
        clicks=np.bincount(inverse, weights=clicks).astype(float),
        sessions=sessions,
        swaps=swaps,
    )


# --- stage 2: the re-ranker -----------------------------------------------------------------------


class ClickRegressionRanker:
    """Pointwise re-ranker: gradient-boosted regression of a per-impression target, weighted by impressions.

    With target clicks / impressions it learns P(click | shown there), position bias included; with
    clicks / (impressions · θ(slot)) its target's expectation is P(click | examined) — the listing's
    attractiveness, whatever slot it was logged in (inverse propensity weighting).
    """

    def __init__(
        self,
        max_iter: int = 150,
        learning_rate: float = 0.1,
        min_samples_leaf: int = 50,
        monotonic: Sequence[int] | None = None,
        seed: int = 0,
    ) -> None:
        if max_iter < 1 or min_samples_leaf < 1 or not 0 < learning_rate <= 1:
            raise ValueError("max_iter and min_samples_leaf must be positive, learning_rate in (0, 1]")
        if monotonic is not None and any(direction not in (-1, 0, 1) for direction in monotonic):
            raise ValueError("monotonic directions must be -1, 0 or 1")
        self.monotonic = None if monotonic is None else tuple(monotonic)
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed
        self.model_: Any = None
        self.edges_: list[FloatArray] = []

    def _codes(self, features: NDArray[np.float32]) -> NDArray[np.float32]:
        """Each feature replaced by the index of its quantile bin (order-preserving, so constraints hold)."""
        codes = np.empty(features.shape, dtype=np.float32)
        for j, edges in enumerate(self.edges_):
            codes[:, j] = np.searchsorted(edges, features[:, j], side="right")
        return codes

    def fit(
        self, features: NDArray[np.float32], target: FloatArray, weight: FloatArray | None = None
    ) -> ClickRegressionRanker:
        """Fit on feature rows, a target per row and optional row weights."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        if features.ndim != 2 or target.shape != (features.shape[0],):
            raise ValueError("features must be 2-D with one target per row")
        # The same 255 quantile bins the booster would build, computed once per feature: with sample
        # weights scikit-learn's own binning sorts the data once per bin edge, most of the fit's time.
        levels = np.linspace(0.0, 1.0, 256)[1:-1]
        self.edges_ = [np.unique(np.quantile(features[:, j], levels)) for j in range(features.shape[1])]
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=31,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=False,
            monotonic_cst=None if self.monotonic is None else list(self.monotonic),
            random_state=self.seed,
        )
        self.model_.fit(self._codes(features), target, sample_weight=weight)
        return self

    def predict(self, features: NDArray[np.float32]) -> FloatArray:
        """Ranking score of each row."""
        if self.model_ is None:
            raise ValueError("ClickRegressionRanker is not fitted; call fit(...) first")
        if features.ndim != 2 or features.shape[1] != len(self.edges_):
            raise ValueError(f"features must be 2-D with {len(self.edges_)} columns")
        return np.asarray(self.model_.predict(self._codes(features)), dtype=float)


def rerank(candidates: IntArray, scores: FloatArray) -> IntArray:
    """Candidate ids reordered by score, best first (empty slots last)."""
    from mlsd_coach.demo.ranking import top_k

    masked = np.where(candidates >= 0, scores.reshape(candidates.shape), -np.inf)
    return np.take_along_axis(candidates, top_k(masked, candidates.shape[1]), axis=1)


# --- evaluation -----------------------------------------------------------------------------------

NDCG_K = 10
"""Cut-off of the headline metric: the first screen and a half of a results page."""


def graded_gain(grades: ArrayLike) -> FloatArray:
    """Exponential gain 2**grade − 1 (7, 3, 1, 0): an exact match is worth far more than a substitute."""
    return 2.0 ** np.asarray(grades, dtype=float) - 1.0


def judge(
    all_grades: NDArray[np.int8], ranked: IntArray, k_ndcg: int = NDCG_K, k_recall: int = 100
) -> tuple[FloatArray, FloatArray]:
    """Per-query NDCG@k_ndcg (ideal from every listing's grade) and Recall@k_recall of the exact matches.

    Recall is NaN for a query with no exact match in the catalogue.
    """
    from mlsd_coach.demo import metrics

    ndcg = np.zeros(len(ranked))
    recall = np.full(len(ranked), np.nan)
    for i, (grades, ids) in enumerate(zip(all_grades, ranked, strict=True)):
        shown = ids[ids >= 0]
        counts = np.bincount(grades, minlength=4)
        # The ideal list needs only the best k grades, which the grade counts give directly.
        ideal = np.repeat([3, 2, 1], [min(int(counts[g]), k_ndcg) for g in (3, 2, 1)])[:k_ndcg]
        ndcg[i] = metrics.ndcg_at_k(graded_gain(grades[shown[:k_ndcg]]), k_ndcg, graded_gain(ideal))
        exact = np.flatnonzero(grades == 3)
        if exact.size:
            recall[i] = metrics.recall_at_k(shown.tolist(), exact.tolist(), k_recall)
    return ndcg, recall


def paired_interval(
    baseline: FloatArray, model: FloatArray, seed: int, n_resamples: int = 2000, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean of model − baseline over the same queries and a percentile bootstrap interval (resampling queries)."""
    diff = np.asarray(model, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.ndim != 1 or diff.size < 2:
        raise ValueError("need per-query scores for at least two queries")
    rng = rng_for(seed, "search/bootstrap")
    means = diff[rng.integers(0, diff.size, (n_resamples, diff.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(diff.mean()), float(low), float(high)


def team_draft_interleave(
    first: Sequence[int], second: Sequence[int], k: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Team-draft interleaving of two rankings: the merged top k and, per slot, which ranking (0 or 1) gave it."""
    merged: list[int] = []
    team: list[int] = []
    taken: set[int] = set()
    picks = [0, 0]
    lists = (list(first), list(second))
    cursor = [0, 0]
    while len(merged) < k:
        # The side with fewer picks goes next; a coin decides ties, so neither side owns slot 1.
        side = 0 if picks[0] < picks[1] else 1 if picks[1] < picks[0] else int(rng.random() < 0.5)
        for turn in (side, 1 - side):
            while cursor[turn] < len(lists[turn]) and lists[turn][cursor[turn]] in taken:
                cursor[turn] += 1
            if cursor[turn] < len(lists[turn]):
                doc = lists[turn][cursor[turn]]
                merged.append(doc)
                team.append(turn)
                taken.add(doc)
                picks[turn] += 1
                break
        else:
            break
    return merged, team


def simulate_interleaving(
    grades: NDArray[np.int8],
    first: IntArray,
    second: IntArray,
    sessions_per_query: int,
    config: SearchConfig,
    rng: np.random.Generator,
    k: int = NDCG_K,
) -> dict[str, float]:
    """Sessions of team-draft interleaving with position-biased clicks: share won by each side, and ties."""
    examination = np.arange(1, k + 1, dtype=float) ** -config.examination_eta
    click_given_grade = np.asarray(config.click_given_grade)
    wins = np.zeros(3)
    for row in range(len(first)):
        a = [int(d) for d in first[row, :k] if d >= 0]
        b = [int(d) for d in second[row, :k] if d >= 0]
        for _ in range(sessions_per_query):
            merged, team = team_draft_interleave(a, b, k, rng)
            if not merged:
                wins[2] += 1
                continue
            n = len(merged)
            clicked = rng.random(n) < examination[:n] * click_given_grade[grades[row, merged]]
            credit = np.bincount(np.asarray(team)[clicked], minlength=2)
            wins[0 if credit[0] > credit[1] else 1 if credit[1] > credit[0] else 2] += 1
    total = max(float(wins.sum()), 1.0)
    decided = max(float(wins[0] + wins[1]), 1.0)
    preference = wins[0] / decided
    # Normal interval of the first side's share of the sessions that had a winner.
    half = 1.96 * math.sqrt(preference * (1 - preference) / decided)
    return {
        "first": float(wins[0] / total),
        "second": float(wins[1] / total),
        "tie": float(wins[2] / total),
        "sessions": total,
        "preference": float(preference),
        "preference_low": float(preference - half),
        "preference_high": float(preference + half),
    }


# --- the scenario ---------------------------------------------------------------------------------

SEED_SCALE = {"listings": 60_000_000, "searches_per_day": 150_000_000, "p99_ms": 200, "ranking_ms": 120}
"""The prompt's real-world numbers, which the demo scales down."""
DEFAULT_LISTINGS = SearchConfig().n_listings
MIN_LISTINGS = 2_000
MAX_LISTINGS = 200_000
LATENCY_QUERIES = 150
INTERLEAVING_SESSIONS = 10
"""Interleaved sessions simulated per judged query."""
CEILING_QUERIES = 300
"""Training queries whose every candidate gets its true grade for the judged-candidates ceiling."""

SYSTEMS: tuple[tuple[str, str], ...] = (
    ("lexical", "Lexical: BM25 + sales boost (today)"),
    ("dense", "Dense: word vectors, faiss"),
    ("fused", "Fused: reciprocal rank fusion"),
    ("naive", "Re-ranked on raw clicks"),
    ("ipw", "Re-ranked on clicks ÷ propensity (IPW)"),
    ("grades_logged", "Re-ranked on true grades of logged rows"),
    ("grades_all", "Re-ranked on true grades of all candidates"),
)
"""The rankings the report compares: key and label."""
ABLATIONS: tuple[tuple[str, str], ...] = (
    ("ipw_lexical", "IPW re-ranker over lexical's own 100 candidates"),
    ("grades_all_lexical", "grade-trained re-ranker over lexical's own 100 candidates"),
)
"""Rankings judged only to answer one question: does fusion pay once a re-ranker sorts the candidates?"""


@dataclass
class SearchResults:
    """Everything one search run measured; the report is built from this and nothing else."""

    config: SearchConfig
    stage_seconds: dict[str, float]
    query_kinds: dict[str, dict[str, Any]]
    logs: dict[str, float]
    ctr_by_position: FloatArray
    examination_raw: FloatArray
    examination_estimated: FloatArray
    examination_true: FloatArray
    swap_cost: float
    """Relative DCG@10 lost on a swapped page."""
    ndcg: dict[str, float]
    recall: dict[str, float]
    ndcg_by_kind: dict[str, dict[str, float]]
    per_query_ndcg: dict[str, FloatArray]
    intervals: dict[str, tuple[float, float, float]]
    bestseller_share: dict[str, float]
    lexical_overlap: dict[str, float]
    interleaving: dict[str, dict[str, float]]
    latency: dict[str, dict[str, float]]
    index_mb: dict[str, float]
    head_share: dict[str, float]
    train_rows: int
    vocabulary: dict[str, int]
    test_queries: int
    examples: list[dict[str, Any]] = field(default_factory=list)


_STAGES: tuple[tuple[str, float], ...] = (
    ("Writing the catalogue and the queries", 1),
    ("Indexing: BM25 and dense vectors", 3),
    ("Retrieving candidates (BM25, dense, fusion)", 2),
    ("Simulating click logs and the swap slice", 1),
    ("Training the re-rankers", 5),
    ("Judging every stage against the truth", 2),
    ("Interleaving the re-ranker with today's engine", 1),
    ("Measuring per-query latency", 1),
)


def search_config(options: DemoOptions) -> SearchConfig:
    """World configuration for the requested size (``--items`` = listings), refusing what cannot run."""
    if options.users is not None:
        raise DemoError("the search demo has no users to size; use --items for the number of listings")
    if options.export_dir is not None:
        raise DemoError("the search demo has nothing to export; run it without --export")
    listings = DEFAULT_LISTINGS if options.items is None else options.items
    if not MIN_LISTINGS <= listings <= MAX_LISTINGS:
        raise DemoError(
            f"--items must be between {MIN_LISTINGS} and {MAX_LISTINGS} for the search demo, got {listings}"
        )
    # Logs and judged queries grow with the catalogue, up to the default run's sizes.
    return SearchConfig(
        n_listings=listings,
        n_train_queries=int(np.clip(listings // 10, 300, 3_000)),
        n_test_queries=int(np.clip(listings // 50, 100, 600)),
        n_sessions=int(np.clip(listings * 10, 20_000, 300_000)),
        seed=options.seed,
    )


def simulate_search(config: SearchConfig, progress: ProgressCallback | None = None) -> SearchResults:
    """Run the whole search scenario on a world built from ``config`` and return what it measured.

    Everything runs on one thread: per-request latency is measured the way a serving process handles
    one query, and the matrices here are too small to gain from BLAS / OpenMP threads, which on a
    busy shared machine make the run several times slower.
    """
    with single_threaded():
        return _simulate_search(config, progress)


def _simulate_search(config: SearchConfig, progress: ProgressCallback | None) -> SearchResults:
    stages = Stages(progress, _STAGES)
    lap, stage_seconds = stages.lap, stages.seconds

    seed = config.seed
    stages.start("Writing the catalogue and the queries")
    catalogue = make_catalogue(config)
    everything = make_queries(
        catalogue, config.n_train_queries + config.n_test_queries, rng_for(seed, "search/queries"), config.query_mix
    )
    # Judged queries are distinct from logged ones: the re-ranker is tested on queries it never saw.
    order = rng_for(seed, "search/split").permutation(len(everything))
    test = everything.subset(np.sort(order[: config.n_test_queries]))
    train = everything.subset(np.sort(order[config.n_test_queries :]))
    lap("world")

    stages.start("Indexing: BM25 and dense vectors")
    engine = SearchEngine(catalogue, config)
    lap("indexing")

    stages.start("Retrieving candidates (BM25, dense, fusion)")
    train_cands = engine.retrieve(train.texts)
    test_cands = engine.retrieve(test.texts)
    lap("retrieval")

    stages.start("Simulating click logs and the swap slice")
    slates = train_cands.lexical[:, : config.slate_size]
    log = simulate_click_logs(catalogue, train, slates, config, rng_for(seed, "search/logs"))
    raw = examination_from_swaps(log.swaps)
    estimated = smooth_examination(raw, log.swaps.swapped_sessions, config.min_propensity)
    true_curve = np.arange(1, config.slate_size + 1, dtype=float) ** -config.examination_eta
    ctr_by_position = np.array(
        [
            log.clicks[log.position == p].sum() / max(log.impressions[log.position == p].sum(), 1.0)
            for p in range(1, config.slate_size + 1)
        ]
    )
    swap_cost = _swap_cost(catalogue, train, slates)
    lap("logs")

    stages.start("Training the re-rankers")
    x_log = engine.features(train_cands, log.query, log.listing)
    ctr = log.clicks / log.impressions
    propensity = estimated[log.position - 1]
    logged_grades = relevance_grades(catalogue, train.subset(log.query), log.listing[:, None])[:, 0].astype(float)
    n_ceiling = min(CEILING_QUERIES, len(train))
    ceiling_rows = np.sort(rng_for(seed, "search/ceiling").choice(len(train), n_ceiling, replace=False))
    # The ceiling: a judged set grading every fused candidate of some training queries, which no
    # click log can give, because clicks only ever label what today's engine chose to show.
    ceiling_ids = train_cands.fused[ceiling_rows]
    valid = ceiling_ids >= 0
    ceiling_q = np.broadcast_to(ceiling_rows[:, None], ceiling_ids.shape)[valid]
    x_ceiling = engine.features(train_cands, ceiling_q, ceiling_ids[valid])
    ceiling_grades = relevance_grades(catalogue, train.subset(ceiling_rows), ceiling_ids)[valid].astype(float)

    def ranker() -> ClickRegressionRanker:
        directions = [MONOTONIC.get(name, 0) for name in FEATURE_NAMES]
        return ClickRegressionRanker(max_iter=config.rerank_trees, monotonic=directions, seed=seed)

    rankers = {
        "naive": ranker().fit(x_log, ctr, log.impressions),
        "ipw": ranker().fit(x_log, ctr / propensity, log.impressions),
        "grades_logged": ranker().fit(x_log, logged_grades, log.impressions),
        "grades_all": ranker().fit(x_ceiling, ceiling_grades),
    }
    lap("training")

    stages.start("Judging every stage against the truth")
    test_grades = relevance_grades(catalogue, test)
    ranked: dict[str, IntArray] = {"lexical": test_cands.lexical, "dense": test_cands.dense, "fused": test_cands.fused}
    x_fused = _candidate_features(engine, test_cands, test_cands.fused)
    for name, model in rankers.items():
        ranked[name] = rerank(test_cands.fused, model.predict(x_fused))
    # Does fusion matter once a re-ranker sorts the candidates? Re-rank BM25's own 100 to see.
    x_lexical = _candidate_features(engine, test_cands, test_cands.lexical)
    for name in ("ipw", "grades_all"):
        ranked[f"{name}_lexical"] = rerank(test_cands.lexical, rankers[name].predict(x_lexical))
    per_ndcg: dict[str, FloatArray] = {}
    per_recall: dict[str, FloatArray] = {}
    for name, lists in ranked.items():
        per_ndcg[name], per_recall[name] = judge(test_grades, lists)
    has_exact = np.isfinite(per_recall["lexical"])
    ndcg = {name: float(values.mean()) for name, values in per_ndcg.items()}
    recall = {
        name: float(np.mean(values[has_exact])) if has_exact.any() else 0.0 for name, values in per_recall.items()
    }
    ndcg_by_kind = {
        kind: {
            name: float(values[test.kind == i].mean()) if np.any(test.kind == i) else 0.0
            for name, values in per_ndcg.items()
        }
        for i, kind in enumerate(QUERY_KINDS)
    }
    intervals = {
        "ipw_vs_lexical": paired_interval(per_ndcg["lexical"], per_ndcg["ipw"], seed),
        "ipw_vs_naive": paired_interval(per_ndcg["naive"], per_ndcg["ipw"], seed),
        "fused_vs_lexical": paired_interval(per_ndcg["lexical"], per_ndcg["fused"], seed),
        "fused_vs_lexical_candidates": paired_interval(per_ndcg["ipw_lexical"], per_ndcg["ipw"], seed),
        "fused_vs_lexical_candidates_graded": paired_interval(
            per_ndcg["grades_all_lexical"], per_ndcg["grades_all"], seed
        ),
    }
    bestseller = np.quantile(catalogue.sales, 0.9)
    top = {name: lists[:, :NDCG_K] for name, lists in ranked.items()}
    bestseller_share = {
        name: float(np.mean(catalogue.sales[ids[ids >= 0]] >= bestseller)) if np.any(ids >= 0) else 0.0
        for name, ids in top.items()
    }
    # Share of each system's top 10 that today's engine also puts in its top 10 (queries with results).
    lexical_overlap = {
        name: float(
            np.nanmean(
                [
                    np.isin(a[a >= 0], b[b >= 0]).mean() if np.any(a >= 0) else np.nan
                    for a, b in zip(ids, top["lexical"], strict=True)
                ]
            )
        )
        for name, ids in top.items()
    }
    query_kinds = _describe_queries(test, test_grades)
    examples = _examples(test, test_grades, ranked, catalogue)
    lap("evaluation")

    stages.start("Interleaving the re-ranker with today's engine")
    interleaving = {
        "ipw_vs_lexical": simulate_interleaving(
            test_grades,
            ranked["ipw"],
            ranked["lexical"],
            INTERLEAVING_SESSIONS,
            config,
            rng_for(seed, "search/interleave-lexical"),
        ),
        "ipw_vs_naive": simulate_interleaving(
            test_grades,
            ranked["ipw"],
            ranked["naive"],
            INTERLEAVING_SESSIONS,
            config,
            rng_for(seed, "search/interleave-naive"),
        ),
    }
    lap("interleaving")

    stages.start("Measuring per-query latency")
    latency = _measure_latency(engine, rankers["ipw"], test.texts[:LATENCY_QUERIES])
    lap("latency")
    stages.finish()

    sessions_sorted = np.sort(log.sessions)[::-1]
    total_sessions = max(float(sessions_sorted.sum()), 1.0)
    head_share = {
        f"top {share:.0%} of queries": float(
            sessions_sorted[: max(1, round(share * sessions_sorted.size))].sum() / total_sessions
        )
        for share in (0.01, 0.1)
    }
    bm25_bytes = (
        engine.bm25.weights_.data.nbytes + engine.bm25.weights_.indices.nbytes + engine.bm25.weights_.indptr.nbytes
    )
    index_mb = {"bm25": bm25_bytes / 2**20, "dense": engine.index.memory_bytes() / 2**20}
    return SearchResults(
        config=config,
        stage_seconds=stage_seconds,
        query_kinds=query_kinds,
        logs={
            "sessions": float(log.sessions.sum()),
            "queries": float(len(train)),
            "impressions": float(log.impressions.sum()),
            "clicks": float(log.clicks.sum()),
            "swapped_sessions": float(log.swaps.swapped_sessions.sum()),
        },
        ctr_by_position=ctr_by_position,
        examination_raw=raw,
        examination_estimated=estimated,
        examination_true=true_curve,
        swap_cost=swap_cost,
        ndcg=ndcg,
        recall=recall,
        ndcg_by_kind=ndcg_by_kind,
        per_query_ndcg=per_ndcg,
        intervals=intervals,
        bestseller_share=bestseller_share,
        lexical_overlap=lexical_overlap,
        interleaving=interleaving,
        latency=latency,
        index_mb=index_mb,
        head_share=head_share,
        train_rows=int(log.query.size),
        vocabulary={"bm25": int(engine.idf.size), "dense": int(engine.encoder.word_vectors_.shape[0])},
        test_queries=len(test),
        examples=examples,
    )


def _candidate_features(engine: SearchEngine, candidates: Candidates, ids: IntArray) -> NDArray[np.float32]:
    """Feature rows for every slot of a (queries × k) candidate array, row-major; empty slots get zeros."""
    valid = ids >= 0
    rows = np.broadcast_to(np.arange(ids.shape[0])[:, None], ids.shape)
    out = np.zeros((ids.size, len(FEATURES)), dtype=np.float32)
    out[valid.ravel()] = engine.features(candidates, rows[valid], ids[valid])
    return out


def _swap_cost(catalogue: Catalogue, queries: QuerySet, slates: IntArray) -> float:
    """Mean relative DCG@10 a page loses when result 1 trades places with a random result 2..k."""
    gains = graded_gain(relevance_grades(catalogue, queries, slates))
    slots = slates.shape[1]
    discount = np.where(np.arange(slots) < NDCG_K, 1.0 / np.log2(np.arange(2, slots + 2)), 0.0)
    base = gains @ discount
    # Swapping slots 1 and k changes only those two terms of the sum.
    swapped = base[:, None] + (gains[:, 1:] - gains[:, :1]) * discount[0] + (gains[:, :1] - gains[:, 1:]) * discount[1:]
    lengths = (slates >= 0).sum(axis=1)
    possible = (np.arange(2, slots + 1)[None, :] <= lengths[:, None]) & (base[:, None] > 0)
    if not possible.any():
        return 0.0
    return float(np.mean((1 - swapped / np.where(base > 0, base, 1.0)[:, None])[possible]))


def _describe_queries(queries: QuerySet, grades: NDArray[np.int8]) -> dict[str, dict[str, Any]]:
    """Per query kind: share of judged queries, one example, and the mean number of exact matches."""
    exact = (grades == 3).sum(axis=1)
    out: dict[str, dict[str, Any]] = {}
    for i, kind in enumerate(QUERY_KINDS):
        rows = np.flatnonzero(queries.kind == i)
        out[kind] = {
            "share": float(rows.size / max(len(queries), 1)),
            "example": queries.texts[rows[0]] if rows.size else "",
            "exact_matches": float(exact[rows].mean()) if rows.size else 0.0,
        }
    return out


def _examples(
    queries: QuerySet, grades: NDArray[np.int8], ranked: dict[str, IntArray], catalogue: Catalogue
) -> list[dict[str, Any]]:
    """One judged query per failure mode: the top-3 grades each system returns, and what won.

    Vocabulary mismatch: the colour + type query where dense beats lexical the most; exact rare
    terms: the model-number query where lexical beats dense the most.
    """
    out = []
    for kind, better, worse in ((0, "dense", "lexical"), (2, "lexical", "dense")):
        rows = np.flatnonzero(queries.kind == kind)
        if not rows.size:
            continue
        ids = {name: ranked[name][rows, :3] for name in ("lexical", "dense", "fused", "ipw")}
        top3 = {name: np.where(v >= 0, grades[rows[:, None], np.maximum(v, 0)], 0) for name, v in ids.items()}
        gap = graded_gain(top3[better]).sum(axis=1) - graded_gain(top3[worse]).sum(axis=1)
        pick = int(np.argmax(gap))
        first = int(ids[better][pick, 0])
        out.append(
            {
                "kind": QUERY_KINDS[kind],
                "query": queries.texts[int(rows[pick])],
                "winner": better,
                "winner_top_listing": catalogue.texts[first] if first >= 0 else "",
                **{name: [int(g) for g in top3[name][pick]] for name in top3},
            }
        )
    return out


def _measure_latency(
    engine: SearchEngine, ranker: ClickRegressionRanker, queries: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Serve queries one at a time, as the endpoint would, and time each stage (p50 / p99, ms)."""
    from mlsd_coach.demo import metrics
    from mlsd_coach.demo.ranking import top_k
    from mlsd_coach.demo.retrieval import reciprocal_rank_fusion

    stages = ("lexical", "dense", "fusion", "features", "rerank", "total")
    samples: dict[str, list[float]] = {stage: [] for stage in stages}
    k = min(engine.config.n_candidates, engine.catalogue.n_listings)
    warmup = min(5, len(queries))
    for i, query in enumerate([*queries[:warmup], *queries]):
        t0 = time.perf_counter()
        terms = engine.query_terms([query])
        scores = engine.lexical_scores(terms)
        ids = top_k(scores, k)
        lexical = np.where(np.take_along_axis(scores, ids, axis=1) > 0, ids, -1)
        t1 = time.perf_counter()
        vector = engine.encoder.encode([query])
        dense = engine.index.search(vector, k)[1] if np.any(vector) else np.full((1, k), -1)
        t2 = time.perf_counter()
        fused = reciprocal_rank_fusion([lexical, dense], k, engine.config.rrf_k)
        t3 = time.perf_counter()
        cands = Candidates(lexical, dense, fused, terms, vector)
        valid = fused[0] >= 0
        x = engine.features(cands, np.zeros(int(valid.sum()), dtype=np.int64), fused[0][valid])
        t4 = time.perf_counter()
        if x.shape[0]:
            ranker.predict(x)
        t5 = time.perf_counter()
        if i >= warmup:
            for stage, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0), strict=True):
                samples[stage].append(value * 1e3)
    return {stage: metrics.latency_percentiles(values) for stage, values in samples.items() if values}


# --- the report -----------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _signed(value: float) -> str:
    rounded = round(value, 3)
    return f"{rounded if rounded != 0 else 0.0:+.3f}"


def _interval_text(interval: tuple[float, float, float]) -> str:
    mean, low, high = interval
    verdict = "" if low > 0 or high < 0 else ", no clear difference"
    return f"{_signed(mean)} [95% CI {_signed(low)}, {_signed(high)}{verdict}]"


def _better(a: float, b: float, tolerance: float = 0.005) -> str:
    """'beats', 'trails' or 'ties with' for a vs b on a higher-is-better score."""
    return "beats" if a > b + tolerance else "trails" if a < b - tolerance else "ties with"


def build_report(results: SearchResults) -> DemoReport:
    """Turn one run's measurements into the seven-step report; every number comes from ``results``."""
    from mlsd_coach.demo.report import DemoReport, Headline

    cfg = results.config
    nd = results.ndcg
    sections = (
        _clarify_section(results),
        _frame_section(cfg),
        _data_section(results),
        _features_section(results),
        _model_section(results),
        _evaluation_section(results),
        _serving_section(results),
    )
    headline = Headline(
        metric="ndcg@10",
        model=nd["ipw"],
        baseline=nd["lexical"],
        higher_is_better=True,
        model_name="ipw",
        baseline_name="lexical",
    )
    ctr_top = results.ctr_by_position[0] or 1.0
    metrics_out: dict[str, Any] = {
        "ndcg@10": dict(nd),
        "recall@100": dict(results.recall),
        "ndcg@10_by_kind": results.ndcg_by_kind,
        "ndcg@10_difference": {
            name: dict(zip(("mean", "low", "high"), value, strict=True)) for name, value in results.intervals.items()
        },
        "examination": {
            "estimated": results.examination_estimated.tolist(),
            "true": results.examination_true.tolist(),
            "ctr_relative": (results.ctr_by_position / ctr_top).tolist(),
        },
        "logs": dict(results.logs),
        "swap_page_dcg_loss": results.swap_cost,
        "bestseller_share_top10": dict(results.bestseller_share),
        "overlap_with_lexical_top10": dict(results.lexical_overlap),
        "interleaving": results.interleaving,
        "index_mb": dict(results.index_mb),
        "head_query_share": dict(results.head_share),
    }
    return DemoReport(
        scenario="search",
        title="Marketplace search: BM25 + dense retrieval, fused, re-ranked on debiased clicks",
        seed=cfg.seed,
        sections=sections,
        headline=headline,
        metrics=metrics_out,
        latency_ms=results.latency,
        params={
            "listings": cfg.n_listings,
            "train_queries": cfg.n_train_queries,
            "test_queries": cfg.n_test_queries,
            "sessions": cfg.n_sessions,
            "slate_size": cfg.slate_size,
            "swap_share": cfg.swap_share,
            "candidates": cfg.n_candidates,
        },
    )


def _clarify_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import KeyValues, Section, Text

    cfg, logs = results.config, results.logs
    total_p99 = results.latency.get("total", {}).get("p99", 0.0)
    scale = (
        ("Listings", f"{SEED_SCALE['listings']:,} → {cfg.n_listings:,} in this demo"),
        (
            "Searches",
            f"{SEED_SCALE['searches_per_day']:,}/day → {logs['sessions']:,.0f} logged sessions "
            f"over {logs['queries']:,.0f} distinct queries",
        ),
        (
            "Judged queries",
            f"25,000 rated by people → {results.test_queries} here, each listing graded by the simulation's truth",
        ),
        (
            "Latency",
            f"p99 < {SEED_SCALE['p99_ms']} ms ({SEED_SCALE['ranking_ms']} ms for the ranking stack) "
            f"→ measured here: p99 {total_p99:.1f} ms",
        ),
    )
    return Section(
        "clarify",
        (
            Text(
                "A buyer types a query; we return a results page. Search should sell, so relevance comes first; the "
                "page must come back within 200 ms at p99; today's engine is BM25 with a hand-tuned best-seller "
                "boost and no learned ranker."
            ),
            KeyValues(scale, title="Real system → this demo"),
            Text(
                "[bold]Assumptions.[/bold] Sellers write the catalogue word (sofa, tv); buyers type any name for a "
                "thing (couch, settee, telly) about equally often. Electronics, appliances and tools carry model "
                "numbers that buyers search for. Clicks follow a position-based model: a buyer looks at result p "
                f"with probability p^-{cfg.examination_eta:g} and clicks what they look at with a probability set "
                "by its grade alone — nobody prefers a best-seller for being one, so past sales carry no relevance "
                "here. No typos, no personalisation, no purchases: one text field and clicks."
            ),
        ),
    )


def _frame_section(cfg: SearchConfig) -> Section:
    from mlsd_coach.demo.report import KeyValues, Section, Text

    grades = (
        ("3 exact", "the right type in the wanted colour or brand, or the very model typed"),
        ("2 substitute", "the right type, another colour or brand"),
        ("1 related", "an accessory for the type, the brand's other products, a sister model"),
        ("0", "anything else"),
    )
    pipeline = (
        (
            "Stage 1a lexical",
            f"BM25 × (1 + {cfg.sales_boost:g}·ln(1 + sales)) over all listings → top {cfg.n_candidates}",
        ),
        ("Stage 1b dense", f"word-vector embeddings in a faiss inner-product index → top {cfg.n_candidates}"),
        ("Fusion", f"reciprocal rank fusion, Σ 1/({cfg.rrf_k} + rank) → {cfg.n_candidates} candidates"),
        ("Stage 2", "gradient-boosted re-ranker trained on click logs → top 10"),
    )
    return Section(
        "frame",
        (
            Text(
                "Search is retrieval, then ranking. Stage 1 must not lose the right listing — judged by Recall@100 "
                "of the exact matches; stage 2 must put it first — judged by NDCG@10 with gain 2^grade − 1, so an "
                "exact match (7) counts far more than a substitute (3) or a related item (1)."
            ),
            KeyValues(grades, title="Graded relevance (known for every query × listing)"),
            KeyValues(pipeline, title="The pipeline"),
        ),
    )


def _data_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import BarChart, KeyValues, Section, Table, Text

    cfg, logs = results.config, results.logs
    est, true, ctr = results.examination_estimated, results.examination_true, results.ctr_by_position
    ctr_top = ctr[0] or 1.0
    curve = tuple(
        (str(slot), f"{ctr[slot - 1] / ctr_top:.3f}", f"{est[slot - 1]:.3f}", f"{true[slot - 1]:.3f}")
        for slot in sorted({1, 2, 3, 5, 10, cfg.slate_size})
        if slot <= cfg.slate_size
    )
    max_error = float(np.max(np.abs(est - np.maximum(true, cfg.min_propensity))))
    head = _pct(results.head_share["top 1% of queries"])
    log_pairs = (
        ("Logged sessions", f"{logs['sessions']:,.0f} (Zipf: the top 1% of queries carry {head})"),
        (
            "Impressions / clicks",
            f"{logs['impressions']:,.0f} / {logs['clicks']:,.0f} "
            f"(CTR {logs['clicks'] / max(logs['impressions'], 1):.3f})",
        ),
        (
            "Randomised slice",
            f"{logs['swapped_sessions']:,.0f} sessions ({_pct(cfg.swap_share)}): "
            f"result 1 swapped with a random result 2..{cfg.slate_size}",
        ),
        ("Training rows", f"{results.train_rows:,} (query, listing, slot) aggregates of today's first page"),
    )
    return Section(
        "data",
        (
            Table(
                ("query kind", "share", "example", "exact matches (mean)"),
                tuple(
                    (kind, _pct(v["share"]), v["example"], f"{v['exact_matches']:.1f}")
                    for kind, v in results.query_kinds.items()
                ),
                title="The judged queries (never seen in the logs)",
            ),
            KeyValues(log_pairs, title="Today's click logs"),
            BarChart(
                tuple((f"slot {p}", float(ctr[p - 1])) for p in (1, 2, 3, 4, 5, 10, 15, 20) if p <= cfg.slate_size),
                title="Click-through rate by slot in the logs: position bias and relevance mixed together",
            ),
            Table(
                ("slot", "CTR ÷ CTR at slot 1", "examination from swaps", "true examination"),
                curve,
                title="Separating the two: the swap slice measures the examination curve",
            ),
            Text(
                "Raw CTR falls faster than attention does, because today's engine also puts its best results on top: "
                "reading the CTR curve as position bias would overcorrect. Swapping result 1 with result k keeps the "
                "same pair of listings and moves only their slots, so relevance cancels out; an isotonic fit gives a "
                f"curve within {max_error:.3f} of the truth (clipped at {cfg.min_propensity:g}). The price: a swapped "
                f"page loses {_pct(results.swap_cost)} of its DCG@10, on {_pct(cfg.swap_share)} of traffic — "
                f"{100 * results.swap_cost * cfg.swap_share:.2f}% overall."
            ),
        ),
    )


def _features_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import Section, Table, Text

    labels = dict(SYSTEMS)
    share, overlap = results.bestseller_share, results.lexical_overlap
    return Section(
        "features",
        (
            Table(
                ("feature", "group", "what it measures"),
                tuple((spec.name, spec.group, spec.description) for spec in FEATURES),
                title="Re-ranker inputs",
            ),
            Text(
                "No rank or position features: a rank in the logs is today's engine's rank — exactly what position "
                "bias is entangled with — and the slot is unknown at serving time. The sales feature is there "
                "because every marketplace has one; whether the model leans on it tests its training labels."
            ),
            Table(
                ("ranking", "best-sellers in the top 10", "shared with today's top 10"),
                tuple(
                    (labels[name], _pct(share[name]), _pct(overlap[name]))
                    for name in ("lexical", "naive", "ipw", "grades_logged")
                ),
                title="What each re-ranker learned (best-seller = top 10% of sales)",
            ),
            Text(
                f"Today's engine fills {_pct(share['lexical'])} of its top 10 with best-sellers. Trained on raw "
                f"clicks, the re-ranker keeps {_pct(share['naive'])} and shares {_pct(overlap['naive'])} of today's "
                "top 10: best-sellers were shown higher, looked at more and so clicked more, and the model learned "
                f"the boost back from its own consequences. Corrected for examination it keeps {_pct(share['ipw'])}; "
                f"trained on the true grades of the same rows, {_pct(share['grades_logged'])}."
            ),
        ),
    )


def _model_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import KeyValues, Section, Text

    cfg, vocabulary = results.config, results.vocabulary
    pairs = (
        (
            "Lexical",
            f"Okapi BM25 (k1 1.2, b 0.75) over scikit-learn term counts, one sparse product per query batch; "
            f"{vocabulary['bm25']:,} words",
        ),
        (
            "Dense",
            f"PPMI word vectors ({cfg.dense_dim} dims, SVD) averaged by idf over the {vocabulary['dense']:,} words "
            "in ≥ 5 listings; faiss IndexFlatIP",
        ),
        ("Fusion", f"RRF with k = {cfg.rrf_k}: ranks only, no scores"),
        ("Re-ranker", f"scikit-learn HistGradientBoostingRegressor, {cfg.rerank_trees} trees, weighted by impressions"),
        ("Naive target", "clicks ÷ impressions: P(click | shown in that slot)"),
        (
            "IPW target",
            f"clicks ÷ (impressions × θ̂(slot)), θ̂ ≥ {cfg.min_propensity:g}: its expectation is P(click | examined)",
        ),
    )
    return Section(
        "model",
        (
            KeyValues(pairs, title="Stage 1 and stage 2"),
            Text(
                "Baseline first: today's engine is the bar. The dense encoder stands in for a two-tower model — it "
                "learns from co-occurrence that couch and sofa are one thing, and knows nothing of a model number it "
                "has seen in two listings. The re-ranker is a pointwise regression so that the only difference "
                "between the naive and the corrected model is the target: same rows, same features, same trees."
            ),
        ),
    )


def _evaluation_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import BarChart, Section, Table, Text

    cfg, nd, rc, iv = results.config, results.ndcg, results.recall, results.intervals
    labels = dict(SYSTEMS)
    order = [name for name, _ in SYSTEMS]
    by_kind = results.ndcg_by_kind
    mismatch, exact_kind = QUERY_KINDS[0], QUERY_KINDS[2]
    shown = ("lexical", "dense", "fused", "ipw")
    examples = tuple(
        (e["kind"], e["query"], *(" ".join(str(g) for g in e[name]) for name in shown)) for e in results.examples
    )
    online = results.interleaving["ipw_vs_lexical"]
    blind_spots = (
        f"[bold]Two retrievers, two blind spots.[/bold] On {mismatch} queries dense scores "
        f"{by_kind[mismatch]['dense']:.3f} against lexical's {by_kind[mismatch]['lexical']:.3f}: a buyer's couch is "
        f"a seller's sofa. On {exact_kind} queries lexical scores {by_kind[exact_kind]['lexical']:.3f} and dense "
        f"{by_kind[exact_kind]['dense']:.3f}: a model number is a rare token the encoder has no vector for, and "
        "BM25's idf loves it."
    )
    fusion = (
        f"[bold]Fusion is for recall.[/bold] RRF lifts Recall@100 from {rc['lexical']:.3f} (lexical) and "
        f"{rc['dense']:.3f} (dense) to {rc['fused']:.3f}. Its own top 10 {_better(nd['fused'], nd['lexical'])} "
        f"lexical's, {nd['fused']:.3f} vs {nd['lexical']:.3f} ({_interval_text(iv['fused_vs_lexical'])}): RRF keeps "
        "ranks and drops scores, so an exact model-number match counts no more than whatever dense put first. "
        "Behind a re-ranker, fused candidates against lexical's own 100: the IPW re-ranker gains "
        f"{_interval_text(iv['fused_vs_lexical_candidates'])}; the grade-trained one, which has seen labels on "
        f"dense-only finds, gains {_interval_text(iv['fused_vs_lexical_candidates_graded'])}. Recall is only worth "
        "what the ranker has learned to use."
    )
    position = (
        f"[bold]Position bias.[/bold] Trained on raw clicks the re-ranker reaches {nd['naive']:.3f}; on clicks "
        f"divided by the swap-estimated examination, {nd['ipw']:.3f}: IPW − naive {_interval_text(iv['ipw_vs_naive'])} "
        f"over the same queries. On the true grades of the same logged rows it reaches {nd['grades_logged']:.3f}: "
        f"the correction recovers {_pct(_recovered(nd['naive'], nd['ipw'], nd['grades_logged']))} of what the "
        "bias cost."
    )
    selection = (
        "[bold]Selection bias remains.[/bold] Clicks only label what today's engine showed — its own top "
        f"{cfg.slate_size}. Trained on true grades of every fused candidate of {CEILING_QUERIES} training queries (a "
        f"judged set of the new candidates) the same re-ranker reaches {nd['grades_all']:.3f}: listings only dense "
        "finds never appear in the logs, and swaps within the page cannot fix that; exploration or judging can."
    )
    headline = (
        f"[bold]Headline.[/bold] Re-ranked (IPW) {nd['ipw']:.3f} vs lexical-only {nd['lexical']:.3f}: "
        f"{_interval_text(iv['ipw_vs_lexical'])}. Online, team-draft interleaving against today's engine "
        f"({online['sessions']:,.0f} simulated sessions) prefers the re-ranker in {_pct(online['preference'])} of "
        f"sessions with a winner (95% CI {_pct(online['preference_low'])}–{_pct(online['preference_high'])}; "
        f"{_pct(online['tie'])} ties). Offline NDCG picks what to test; the A/B test on search conversion decides."
    )
    return Section(
        "evaluation",
        (
            Table(
                ("ranking", "NDCG@10", "Recall@100"),
                tuple((labels[name], f"{nd[name]:.3f}", f"{rc[name]:.3f}") for name in order),
                title=f"Every stage against the truth ({results.test_queries} judged queries; "
                "re-rankers reorder the fused 100)",
            ),
            BarChart(tuple((labels[name], nd[name]) for name in order), title="NDCG@10"),
            Table(
                ("query kind", "lexical", "dense", "fused", "naive", "IPW"),
                tuple(
                    (kind, *(f"{by_kind[kind][name]:.3f}" for name in ("lexical", "dense", "fused", "naive", "ipw")))
                    for kind in QUERY_KINDS
                ),
                title="NDCG@10 by query kind: each retriever has its own failure mode",
            ),
            Table(
                ("kind", "query", "lexical", "dense", "fused", "IPW"),
                examples,
                title="Top-3 grades (3 exact … 0 irrelevant) on two queries",
            ),
            Text(blind_spots),
            Text(fusion),
            Text(position),
            Text(selection),
            Text(headline),
        ),
    )


def _serving_section(results: SearchResults) -> Section:
    from mlsd_coach.demo.report import KeyValues, Section, Table, Text

    cfg = results.config
    scale = SEED_SCALE["listings"] / cfg.n_listings
    index = results.index_mb
    head = results.head_share
    pairs = (
        (
            "BM25 index",
            f"{index['bm25']:.1f} MB here → ~{index['bm25'] * scale / 1024:.0f} GB at 60M listings: shard it",
        ),
        (
            "Dense vectors",
            f"{index['dense']:.1f} MB here → ~{index['dense'] * scale / 1024:.0f} GB of float32 at 60M: "
            "HNSW or IVF-PQ shards (see the feed demo)",
        ),
        (
            "Head-query cache",
            f"the top 1% of queries carry {_pct(head['top 1% of queries'])} of sessions, "
            f"the top 10% carry {_pct(head['top 10% of queries'])}",
        ),
    )
    return Section(
        "serving",
        (
            Table(
                ("stage", "p50 ms", "p99 ms"),
                tuple((stage, f"{v['p50']:.2f}", f"{v['p99']:.2f}") for stage, v in results.latency.items()),
                title=f"Per-query latency, one thread, {cfg.n_listings:,} listings",
            ),
            KeyValues(pairs, title="Scale"),
            Text(
                "Run BM25 and the ANN search in parallel and fuse; score only the fused 100 with the re-ranker; cache "
                "head queries with a short TTL so price and stock stay fresh. New listings enter the BM25 index at "
                "once and the dense index as soon as they are embedded; words new to the encoder count for nothing "
                "until it is retrained. Keep the swap slice running — the examination curve moves with every page "
                "redesign — retrain the re-ranker weekly, watch zero-result rate and latency, and fall back to BM25."
            ),
        ),
    )


def _recovered(naive: float, corrected: float, truth: float) -> float:
    """Share of the naive model's gap to the truth-trained model that the correction closes (0 if no gap)."""
    gap = truth - naive
    return float(np.clip((corrected - naive) / gap, 0.0, 1.0)) if gap > 1e-9 else 0.0


def run(options: DemoOptions, progress: ProgressCallback | None = None) -> DemoReport:
    """The search demo for the given options (``--items`` sets the number of listings)."""
    options.validate()
    return build_report(simulate_search(search_config(options), progress))
