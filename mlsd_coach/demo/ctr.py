"""The ctr demo: ad click-through-rate prediction for a bid × pCTR auction, on a synthetic world with known truth.

Laptop-scale version of the classic prompt (~5B impressions a day, ~10M ads, 300-500 candidates per
request scored in 20 ms, average CTR about 1 %): an incumbent auction writes impression logs; a
base-rate predictor, logistic regression on hashed sparse ids and crosses, and gradient boosting on
point-in-time counters learn from them with negative downsampling; the models are recalibrated on a
later held-out day and then run the test day's auctions, whose revenue and prices are scored against
the true click probabilities. Every printed lesson is measured in the simulation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlsd_coach.demo import metrics
from mlsd_coach.demo.options import DemoError, DemoOptions
from mlsd_coach.demo.ranking import GradientBoostedRanker, single_threaded
from mlsd_coach.demo.report import (
    BarChart,
    DemoReport,
    FeatureSpec,
    Headline,
    KeyValues,
    ProgressCallback,
    Section,
    Stages,
    Table,
    Text,
)
from mlsd_coach.demo.world import EventLog, rng_for, sigmoid, time_split, zipf_weights

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

SCORING_BUDGET_MS = 20.0
"""The prompt's p99 budget for scoring every candidate ad of one request."""
LATENCY_CANDIDATES = 500
"""Ads scored per request when timing the scorers (the prompt's 300-500 eligible ads)."""
LATENCY_REQUESTS = 100


# --- the world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CtrTruth:
    """The hidden click rule. Models never see it; the oracle auction and the Bayes bound use it.

    click log-odds = click_bias + user + ad + advertiser + site + placement + hour
                     + user×category interest + site×category topic match + device×category − fatigue
    """

    click_bias: float = -5.5
    """Log-odds of a click with every effect at zero."""
    user_sd: float = 0.5
    """Spread of users' own propensity to click ads."""
    ad_sd: float = 0.5
    """Spread of ads' creative appeal."""
    advertiser_sd: float = 0.4
    """Spread of advertisers' brand pull, shared by all their ads."""
    site_sd: float = 0.4
    """Spread of sites' (publishers') click rates."""
    placement_effect: tuple[float, float, float] = (0.9, -0.2, -0.7)
    """Log-odds of each placement (search top, search side, display)."""
    hour_amplitude: float = 0.2
    """Evening peak of the daily click-rate cycle."""
    interest_boost: float = 1.2
    """Extra log-odds when the ad's category is one of the user's interests (user × ad cross)."""
    topic_match_boost: float = 0.6
    """Extra log-odds when the ad's category is the site's topic (site × ad cross)."""
    device_category_sd: float = 0.4
    """Spread of how much better each category does on phones than on desktops (context × ad cross)."""
    fatigue_per_day: float = 0.03
    """Log-odds an ad loses per day since launch, up to 30 days: creatives wear out."""
    incumbent_noise: float = 0.6
    """Error of the incumbent model that ran the logged auctions (half per ad, half per request)."""


@dataclass(frozen=True)
class CtrConfig:
    """Sizes of the ads world and settings of the pipeline. Times are in days; day 0 only warms counters up."""

    n_users: int = 30_000
    n_ads: int = 6_000
    """Ads that exist at some point of the logs, including those launched during them."""
    n_advertisers: int = 600
    n_sites: int = 300
    n_categories: int = 20
    requests_per_day: int = 70_000
    """Ad requests per day; each one fills a single slot (if an ad clears the reserve)."""
    days: int = 7
    """Logged days: warm-up, training days, one calibration day, one test day."""
    candidates: int = 10
    """Eligible ads per request after targeting and budget filters."""
    new_ad_share: float = 0.25
    """Share of the ads launched during the logged days (the rest ran before): cold start."""
    reserve_cpm: float = 2.0
    """Reserve price in dollars per thousand impressions: below it the slot stays empty."""
    cpm_advertiser_share: float = 0.2
    """Advertisers who pay per thousand impressions (brand campaigns) rather than per click."""
    negative_keep_rate: float = 0.1
    """Share of non-clicks kept for training (all clicks are kept)."""
    hash_buckets: int = 2**20
    """Columns of the hashed sparse matrix."""
    auctions: int = 25_000
    """Requests sampled on the calibration and on the test day whose auctions are replayed with the models."""
    seed: int = 0
    truth: CtrTruth = field(default_factory=CtrTruth)

    def __post_init__(self) -> None:
        for spec in fields(self):
            if spec.name in {"seed", "truth"}:
                continue
            value = getattr(self, spec.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{spec.name} must be a positive number, got {value!r}")
        if self.days < 4:
            raise ValueError("days must be at least 4 (warm-up, training, calibration and test days)")
        if self.candidates < 2:
            raise ValueError("candidates must be at least 2: a second-price auction needs a runner-up")
        if not 0 < self.negative_keep_rate <= 1 or not 0 < self.new_ad_share < 1:
            raise ValueError("negative_keep_rate must be in (0, 1] and new_ad_share in (0, 1)")
        if self.seed < 0:
            raise ValueError("seed must be non-negative")

    @property
    def calibration_day(self) -> int:
        """The held-out day the calibrators are fitted on (after training, before the test)."""
        return self.days - 2

    @property
    def test_day(self) -> int:
        """The last logged day, used only for evaluation."""
        return self.days - 1


@dataclass(frozen=True)
class AdsWorld:
    """Users, ads, advertisers and sites with their hidden click effects."""

    config: CtrConfig
    user_activity: FloatArray
    user_bias: FloatArray
    user_interest: NDArray[np.bool_]
    """(users, categories): the categories each user cares about."""
    user_mobile: FloatArray
    """Share of each user's requests made from a phone."""
    ad_advertiser: IntArray
    ad_category: IntArray
    ad_appeal: FloatArray
    ad_launch: FloatArray
    """Launch time (days); ads are sorted by it."""
    ad_bid: FloatArray
    """Bid in dollars: per click for CPC ads, per thousand impressions for CPM ads."""
    ad_cpm: NDArray[np.bool_]
    """Brand campaigns that buy impressions (CPM) rather than clicks."""
    ad_weight: FloatArray
    """Relative budget: how often targeting picks the ad as a candidate."""
    advertiser_pull: FloatArray
    site_topic: IntArray
    site_bias: FloatArray
    site_is_search: NDArray[np.bool_]
    site_weight: FloatArray
    device_category: FloatArray
    """(2, categories): log-odds on desktop (row 0) and phone (row 1)."""

    @cached_property
    def interest_lists(self) -> tuple[IntArray, IntArray]:
        """Each user's interest categories, left-aligned in a padded (users, max interests) array, and their count."""
        counts = self.user_interest.sum(axis=1)
        order = np.argsort(~self.user_interest, axis=1, kind="stable")[:, : int(counts.max())]
        return order.astype(np.int64), counts.astype(np.int64)

    def click_logit(
        self,
        users: IntArray,
        ads: IntArray,
        sites: IntArray,
        placements: IntArray,
        mobile: BoolArray,
        times: FloatArray,
    ) -> FloatArray:
        """True click log-odds of showing each ad in each (user, site, placement, device, time) context."""
        truth = self.config.truth
        category = self.ad_category[ads]
        hours = (times % 1.0) * 24.0
        age = np.clip(times - self.ad_launch[ads], 0.0, 30.0)
        return (
            truth.click_bias
            + self.user_bias[users]
            + self.ad_appeal[ads]
            + self.advertiser_pull[self.ad_advertiser[ads]]
            + self.site_bias[sites]
            + np.asarray(truth.placement_effect)[placements]
            + truth.hour_amplitude * np.cos(2 * np.pi * (hours - 20.0) / 24.0)
            + truth.interest_boost * self.user_interest[users, category]
            + truth.topic_match_boost * (self.site_topic[sites] == category)
            + self.device_category[mobile.astype(np.int64), category]
            - truth.fatigue_per_day * age
        )


def make_ads_world(config: CtrConfig) -> AdsWorld:
    """Generate an ads world; the same config (including its seed) always gives the same world."""
    cfg, truth, seed = config, config.truth, config.seed
    n_cat = cfg.n_categories
    category_weights = zipf_weights(n_cat, 0.8)

    rng = rng_for(seed, "ctr/users")
    activity = np.exp(rng.normal(0.0, 1.0, cfg.n_users))
    user_bias = rng.normal(0.0, truth.user_sd, cfg.n_users)
    n_interests = 1 + rng.binomial(2, 0.5, cfg.n_users)
    # Gumbel top-k on log weights: each user's interests are distinct categories drawn by popularity.
    keys = np.log(category_weights)[None, :] + rng.gumbel(size=(cfg.n_users, n_cat))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    interest = rank < n_interests[:, None]
    mobile_share = rng.beta(3.0, 2.0, cfg.n_users)

    rng = rng_for(seed, "ctr/advertisers")
    advertiser_weights = zipf_weights(cfg.n_advertisers, 1.0)[rng.permutation(cfg.n_advertisers)]
    advertiser_category = rng.choice(n_cat, size=cfg.n_advertisers, p=category_weights)
    advertiser_pull = rng.normal(0.0, truth.advertiser_sd, cfg.n_advertisers)
    advertiser_bid = np.exp(rng.normal(math.log(0.6), 0.5, cfg.n_advertisers))
    # Brand advertisers buy impressions; their CPM bid is their click value at a typical 1.2 % CTR.
    advertiser_cpm = rng.random(cfg.n_advertisers) < cfg.cpm_advertiser_share

    rng = rng_for(seed, "ctr/ads")
    n_new = round(cfg.n_ads * cfg.new_ad_share)
    launch = np.sort(
        np.concatenate([rng.uniform(-30.0, 0.0, cfg.n_ads - n_new), rng.uniform(0.0, float(cfg.days), n_new)])
    )
    advertiser = rng.choice(cfg.n_advertisers, size=cfg.n_ads, p=advertiser_weights)
    # Most of an advertiser's ads sell in its own category; a few branch out.
    category = np.where(
        rng.random(cfg.n_ads) < 0.85, advertiser_category[advertiser], rng.choice(n_cat, size=cfg.n_ads)
    )
    appeal = rng.normal(0.0, truth.ad_sd, cfg.n_ads)
    bid = advertiser_bid[advertiser] * np.exp(rng.normal(0.0, 0.3, cfg.n_ads))
    cpm = advertiser_cpm[advertiser]
    bid = np.where(cpm, bid * 1000.0 * 0.012, bid)
    weight = np.exp(rng.normal(0.0, 0.7, cfg.n_ads))

    rng = rng_for(seed, "ctr/sites")
    site_topic = rng.choice(n_cat, size=cfg.n_sites, p=category_weights)
    site_bias = rng.normal(0.0, truth.site_sd, cfg.n_sites)
    site_is_search = rng.random(cfg.n_sites) < 0.3
    site_weight = zipf_weights(cfg.n_sites, 0.9)[rng.permutation(cfg.n_sites)]
    device_category = np.vstack([np.zeros(n_cat), rng.normal(0.0, truth.device_category_sd, n_cat)])

    return AdsWorld(
        config=cfg,
        user_activity=activity / activity.sum(),
        user_bias=user_bias,
        user_interest=interest,
        user_mobile=mobile_share,
        ad_advertiser=advertiser.astype(np.int64),
        ad_category=category.astype(np.int64),
        ad_appeal=appeal,
        ad_launch=launch,
        ad_bid=bid,
        ad_cpm=cpm,
        ad_weight=weight,
        advertiser_pull=advertiser_pull,
        site_topic=site_topic.astype(np.int64),
        site_bias=site_bias,
        site_is_search=site_is_search,
        site_weight=site_weight,
        device_category=device_category,
    )


@dataclass(frozen=True)
class Requests:
    """A day of ad requests, each with its eligible candidate ads (−1 marks an empty candidate slot)."""

    time: FloatArray
    user: IntArray
    site: IntArray
    placement: IntArray
    mobile: BoolArray
    candidates: IntArray
    """(requests, candidates) ad ids."""

    def __len__(self) -> int:
        return int(self.time.size)

    def candidate_context(self) -> tuple[IntArray, IntArray, IntArray, IntArray, BoolArray, FloatArray]:
        """(users, ads, sites, placements, mobile, times) of every candidate slot, row-major (empty slots: ad 0)."""
        k = self.candidates.shape[1]
        return (
            np.repeat(self.user, k),
            np.maximum(self.candidates, 0).ravel(),
            np.repeat(self.site, k),
            np.repeat(self.placement, k),
            np.repeat(self.mobile, k),
            np.repeat(self.time, k),
        )

    def select(self, rows: IntArray | BoolArray) -> Requests:
        """The requests picked by a mask or index array."""
        return Requests(
            self.time[rows],
            self.user[rows],
            self.site[rows],
            self.placement[rows],
            self.mobile[rows],
            self.candidates[rows],
        )


def _weighted_pick(cumulative: FloatArray, lo: IntArray, hi: IntArray, rng: np.random.Generator) -> IntArray:
    """For each [lo, hi) range of a weight array, one index drawn ∝ weight (−1 for an empty range)."""
    target = cumulative[lo] + rng.random(lo.size) * (cumulative[hi] - cumulative[lo])
    index = np.clip(np.searchsorted(cumulative, target, side="right") - 1, lo, np.maximum(hi - 1, lo))
    return np.where(hi > lo, index, -1)


def simulate_requests(world: AdsWorld, day: int, rng: np.random.Generator) -> Requests:
    """One day of requests: who asks, on which site and slot, and which live ads targeting makes eligible.

    Each candidate comes from one of three targeting sources: the site's topic, one of the user's
    interests, or run-of-network; within a source, ads already launched are picked by budget.
    """
    cfg = world.config
    n, k = cfg.requests_per_day, cfg.candidates
    times = day + np.sort(rng.random(n))
    users = rng.choice(cfg.n_users, size=n, p=world.user_activity)
    sites = rng.choice(cfg.n_sites, size=n, p=world.site_weight)
    mobile = rng.random(n) < world.user_mobile[users]
    placement = np.where(world.site_is_search[sites], (rng.random(n) < 0.5).astype(np.int64), 2)

    slot_time = np.repeat(times, k)
    source = rng.choice(3, size=n * k, p=[0.4, 0.3, 0.3])
    # One of the user's interests per slot, drawn uniformly.
    slot_user = np.repeat(users, k)
    interests, counts = world.interest_lists
    pick = np.floor(rng.random(n * k) * counts[slot_user]).astype(np.int64)
    category = np.where(source == 0, np.repeat(world.site_topic[sites], k), interests[slot_user, pick])

    # Ads sorted by (category, launch): the live ads of a category are one contiguous range.
    by_category = np.lexsort((world.ad_launch, world.ad_category))
    keys = world.ad_category[by_category] * 1_000.0 + world.ad_launch[by_category]
    cumulative = np.concatenate([[0.0], np.cumsum(world.ad_weight[by_category])])
    lo = np.searchsorted(keys, np.arange(cfg.n_categories) * 1_000.0 - 500.0)[category]
    hi = np.searchsorted(keys, category * 1_000.0 + slot_time)
    targeted = _weighted_pick(cumulative, lo, hi, rng)
    targeted = np.where(targeted >= 0, by_category[np.maximum(targeted, 0)], -1)
    all_cumulative = np.concatenate([[0.0], np.cumsum(world.ad_weight)])
    network = _weighted_pick(
        all_cumulative, np.zeros(n * k, dtype=np.int64), np.searchsorted(world.ad_launch, slot_time), rng
    )
    candidates = np.where(source == 2, network, targeted).reshape(n, k)
    # The same ad twice in one auction would compete with itself; keep its first copy.
    repeated = np.zeros_like(candidates, dtype=bool)
    for j in range(1, k):
        repeated[:, j] = (candidates[:, j : j + 1] == candidates[:, :j]).any(axis=1)
    candidates = np.where(repeated, -1, candidates)
    return Requests(times, users, sites, placement, mobile, candidates)


# --- the auction ----------------------------------------------------------------------------------


def _rate(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


@dataclass(frozen=True)
class AuctionOutcome:
    """Who won each one-slot auction and what it pays."""

    winner: IntArray
    """Column of the winning candidate, −1 when no ad clears the reserve."""
    price: FloatArray
    """What the winner pays: dollars per click for a CPC ad, per thousand impressions for a CPM ad (0 if empty)."""

    @property
    def filled(self) -> BoolArray:
        """Auctions that showed an ad."""
        return self.winner >= 0


def expected_cpm(bids: FloatArray, pctr: FloatArray, per_impression: BoolArray) -> FloatArray:
    """Expected revenue per thousand impressions: the bid of a CPM ad, 1000 × bid × pCTR of a CPC ad (−inf if empty)."""
    bid = np.nan_to_num(np.asarray(bids, dtype=float))
    ecpm = np.where(per_impression, bid, bid * np.asarray(pctr, dtype=float) * 1000.0)
    return np.where(np.isnan(bids), -np.inf, ecpm)


def second_price_auction(
    bids: FloatArray, pctr: FloatArray, reserve_cpm: float, per_impression: BoolArray | None = None
) -> AuctionOutcome:
    """Rank each row's ads by eCPM; the winner pays the least that would still have kept it first.

    ``bids`` and ``pctr`` are (auctions, candidates); a NaN bid marks an empty candidate slot, and
    ``per_impression`` marks CPM bids (per thousand impressions) among the CPC bids (per click).
    The threshold is max(runner-up eCPM, reserve): a CPC winner pays threshold / (1000 × its pCTR)
    per click, a CPM winner pays the threshold per thousand impressions (one-slot generalised second price).
    """
    bid = np.asarray(bids, dtype=float)
    prob = np.asarray(pctr, dtype=float)
    if bid.shape != prob.shape or bid.ndim != 2 or bid.shape[1] < 2:
        raise ValueError("bids and pctr must be (auctions, candidates) arrays with at least two candidates")
    cpm = np.zeros(bid.shape, dtype=bool) if per_impression is None else np.asarray(per_impression, dtype=bool)
    ecpm = expected_cpm(bid, prob, cpm)
    rows = np.arange(bid.shape[0])
    first = np.argmax(ecpm, axis=1)
    best = ecpm[rows, first]
    others = ecpm.copy()
    others[rows, first] = -np.inf
    threshold = np.maximum(others.max(axis=1), reserve_cpm)
    filled = best >= reserve_cpm
    winner_prob = np.where(filled, prob[rows, first], 1.0)
    price = np.where(cpm[rows, first], threshold, threshold / (1000.0 * np.maximum(winner_prob, 1e-12)))
    return AuctionOutcome(np.where(filled, first, -1), np.where(filled, price, 0.0))


def auction_economics(
    bids: FloatArray,
    per_impression: BoolArray,
    true_ctr: FloatArray,
    pctr: FloatArray,
    reserve_cpm: float,
    oracle_winner: IntArray | None = None,
) -> dict[str, float]:
    """Run the auctions on ``pctr`` and score them with the true click probabilities (expected values).

    Revenue is what winners pay (CPC: price × true CTR, CPM: price / 1000 per impression); the
    forecast is the same with the model's pCTR; the fair price is what the winner would pay in an
    auction run on the true click rates (capped at its bid); the cost error compares the two.
    """
    outcome = second_price_auction(bids, pctr, reserve_cpm, per_impression)
    n = bids.shape[0]
    rows = np.flatnonzero(outcome.filled)
    won = outcome.winner[rows]
    cpm_w = per_impression[rows, won]
    true_w, pctr_w, bid_w = true_ctr[rows, won], pctr[rows, won], bids[rows, won]
    price = outcome.price[rows]
    true_ecpm = expected_cpm(bids, true_ctr, per_impression)[rows]
    winner_value = true_ecpm[np.arange(rows.size), won]
    true_ecpm[np.arange(rows.size), won] = -np.inf
    threshold = np.maximum(true_ecpm.max(axis=1), reserve_cpm)
    fair = np.minimum(np.where(cpm_w, threshold, threshold / (1000.0 * np.maximum(true_w, 1e-12))), bid_w)
    revenue = np.where(cpm_w, price / 1000.0, price * true_w)
    forecast = np.where(cpm_w, price / 1000.0, price * pctr_w)
    valid = ~np.isnan(bids)
    result = {
        "fill_rate": float(outcome.filled.mean()),
        "cpm_win_share": float(cpm_w.mean()) if rows.size else 0.0,
        "clicks_per_1000": 1000.0 * float(true_w.sum()) / n,
        "rpm": 1000.0 * float(revenue.sum()) / n,
        "forecast_rpm": 1000.0 * float(forecast.sum()) / n,
        "value_per_1000": float(winner_value.sum()) / n,
        "cost_error": float(np.mean(np.abs(price - fair) / fair)) if rows.size else 0.0,
        "overcharge": float(np.mean((price - fair) / fair)) if rows.size else 0.0,
        # Predicted / true clicks over every eligible ad, and over the ads that won: a model can be
        # calibrated on the logged impressions and still over-predict the ads its own auction picks.
        "candidate_calibration_ratio": _rate(pctr[valid].sum(), true_ctr[valid].sum()),
        "winner_calibration_ratio": _rate(pctr_w.sum(), true_w.sum()),
    }
    result["forecast_error"] = result["forecast_rpm"] / result["rpm"] - 1.0 if result["rpm"] > 0 else 0.0
    if oracle_winner is not None:
        result["same_winner_as_oracle"] = float(np.mean(outcome.winner == oracle_winner))
    return result


# --- logs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdLogs:
    """The incumbent's impression logs (one row per shown ad) and the test day's replayable auctions."""

    log: EventLog
    """Columns: time, user, ad, site, placement, mobile, clicked, true_ctr (oracle only)."""
    candidate_ctr: dict[int, float]
    """Mean true CTR of all eligible candidates, per day (what a random pick would get)."""
    auctions: dict[int, Requests]
    """Samples of the calibration and test days' requests with all their candidates, by day."""
    auction_true_ctr: dict[int, FloatArray]
    """(auctions, candidates) true click probabilities per sampled day; NaN for empty candidate slots."""


def simulate_logs(world: AdsWorld) -> AdLogs:
    """Every day's requests, the incumbent's auction (its noisy pCTR × bid, with the reserve) and the clicks."""
    cfg, truth, seed = world.config, world.config.truth, world.config.seed
    ad_error = rng_for(seed, "ctr/incumbent").normal(0.0, truth.incumbent_noise / math.sqrt(2), cfg.n_ads)
    parts: list[dict[str, np.ndarray]] = []
    candidate_ctr: dict[int, float] = {}
    auctions: dict[int, Requests] = {}
    auction_ctr: dict[int, FloatArray] = {}
    for day in range(cfg.days):
        rng = rng_for(seed, f"ctr/day-{day}")
        requests = simulate_requests(world, day, rng)
        valid = requests.candidates >= 0
        ads = np.maximum(requests.candidates, 0)
        k = cfg.candidates
        logit = world.click_logit(
            np.repeat(requests.user, k),
            ads.ravel(),
            np.repeat(requests.site, k),
            np.repeat(requests.placement, k),
            np.repeat(requests.mobile, k),
            np.repeat(requests.time, k),
        ).reshape(ads.shape)
        true_ctr = np.where(valid, sigmoid(logit), np.nan)
        candidate_ctr[day] = float(np.nanmean(true_ctr))
        noise = ad_error[ads] + rng.normal(0.0, truth.incumbent_noise / math.sqrt(2), ads.shape)
        bids = np.where(valid, world.ad_bid[ads], np.nan)
        outcome = second_price_auction(bids, sigmoid(logit + noise), cfg.reserve_cpm, world.ad_cpm[ads])
        shown = np.flatnonzero(outcome.filled)
        ad = requests.candidates[shown, outcome.winner[shown]]
        p_click = true_ctr[shown, outcome.winner[shown]]
        parts.append(
            {
                "time": requests.time[shown],
                "user": requests.user[shown],
                "ad": ad,
                "site": requests.site[shown],
                "placement": requests.placement[shown],
                "mobile": requests.mobile[shown],
                "clicked": rng.random(shown.size) < p_click,
                "true_ctr": p_click,
            }
        )
        if day in (cfg.calibration_day, cfg.test_day):
            picked = np.sort(rng.choice(len(requests), size=min(cfg.auctions, len(requests)), replace=False))
            auctions[day], auction_ctr[day] = requests.select(picked), true_ctr[picked]
    log = EventLog({name: np.concatenate([part[name] for part in parts]) for name in parts[0]})
    return AdLogs(log, candidate_ctr, auctions, auction_ctr)


# --- features -------------------------------------------------------------------------------------


HASHED_FIELDS: tuple[FeatureSpec, ...] = (
    FeatureSpec("user", "user", "user id (30K values here, ~1B in production)"),
    FeatureSpec("ad", "ad", "ad id"),
    FeatureSpec("advertiser", "ad", "advertiser id"),
    FeatureSpec("category", "ad", "ad category"),
    FeatureSpec("site", "context", "site (publisher) id"),
    FeatureSpec("placement", "context", "search top, search side or display"),
    FeatureSpec("device", "context", "phone or desktop"),
    FeatureSpec("hour", "context", "hour of day"),
    FeatureSpec("user×category", "cross", "does this user click this kind of ad"),
    FeatureSpec("site×category", "cross", "does this kind of ad fit this site"),
    FeatureSpec("device×category", "cross", "does this kind of ad work on a phone"),
    FeatureSpec("placement×category", "cross", "does this kind of ad work in this slot"),
)
"""Token fields of the logistic regression: one "field=value" token per field per impression, hashed."""
CROSS_FIELDS = frozenset(spec.name for spec in HASHED_FIELDS if spec.group == "cross")

COUNTER_FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("user_ctr", "user", "the user's smoothed click-through rate on ads"),
    FeatureSpec("user_impressions", "user", "log of ads shown to the user"),
    FeatureSpec("ad_ctr", "ad", "the ad's smoothed click-through rate"),
    FeatureSpec("ad_impressions", "ad", "log of the ad's impressions (0 for a new ad)"),
    FeatureSpec("advertiser_ctr", "ad", "the advertiser's smoothed click-through rate"),
    FeatureSpec("ad_age_days", "ad", "days since the ad launched"),
    FeatureSpec("site_ctr", "context", "the site's smoothed click-through rate"),
    FeatureSpec("placement", "context", "slot type (0 search top, 1 search side, 2 display)"),
    FeatureSpec("device_mobile", "context", "request from a phone"),
    FeatureSpec("hour_of_day", "context", "hour of the request"),
    FeatureSpec("user_category_ctr", "cross", "the user's smoothed CTR on ads of this category"),
    FeatureSpec("site_category_ctr", "cross", "the site's smoothed CTR on ads of this category"),
    FeatureSpec("device_category_ctr", "cross", "this category's smoothed CTR on this device"),
    FeatureSpec("topic_match", "cross", "the ad's category is the site's topic"),
)
"""Dense inputs of the gradient-boosted model: counters read as of the start of the impression's day."""
COUNTER_NAMES = tuple(spec.name for spec in COUNTER_FEATURES)

_COUNTER_STRENGTH = {
    "user": 20.0,
    "ad": 50.0,
    "advertiser": 100.0,
    "site": 100.0,
    "user_category": 20.0,
    "site_category": 50.0,
    "device_category": 100.0,
}
"""Pseudo-impressions of the prior in each smoothed rate: how much evidence it takes to move off the mean."""


def _id_fields(
    world: AdsWorld,
    users: IntArray,
    ads: IntArray,
    sites: IntArray,
    placements: IntArray,
    mobile: BoolArray,
    times: FloatArray,
) -> dict[str, IntArray]:
    """The integer value of every hashed field (crosses combined into one integer) for each impression."""
    n_cat = world.config.n_categories
    category = world.ad_category[ads]
    device = mobile.astype(np.int64)
    return {
        "user": users,
        "ad": ads,
        "advertiser": world.ad_advertiser[ads],
        "category": category,
        "site": sites,
        "placement": placements,
        "device": device,
        "hour": ((times % 1.0) * 24).astype(np.int64),
        "user×category": users * n_cat + category,
        "site×category": sites * n_cat + category,
        "device×category": device * n_cat + category,
        "placement×category": placements * n_cat + category,
    }


def _factorize(values: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct values of a non-negative integer array (sorted) and each element's index among them.

    Same result as ``np.unique(values, return_inverse=True)`` in linear time: ids here are dense.
    """
    array = np.asarray(values, dtype=np.int64)
    if array.size == 0:
        return array.copy(), array.copy()
    if array.min() < 0:
        raise ValueError("factorize needs non-negative integers")
    present = np.zeros(int(array.max()) + 1, dtype=bool)
    present[array] = True
    distinct = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return distinct, position[array]


def hash_fields(values: Mapping[str, IntArray], n_features: int) -> csr_matrix:
    """Hashed one-hot rows: sklearn's FeatureHasher over one "field=value" token per field and row.

    Equal to ``FeatureHasher(n_features).transform`` of the per-row token lists, but each distinct
    token is hashed once and rows gather their columns, so the cost of Python strings grows with the
    vocabulary rather than with the rows.
    """
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction import FeatureHasher

    if not values:
        raise ValueError("need at least one field to hash")
    n_rows = {np.asarray(column).shape[0] for column in values.values()}
    if len(n_rows) != 1:
        raise ValueError("every field needs one value per row")
    rows = n_rows.pop()
    hasher = FeatureHasher(n_features=n_features, input_type="string")
    width = len(values)
    # 32-bit positions keep scipy from copying everything to 64-bit indices (the matrix is the run's largest object).
    position_type = np.int32 if rows * width < 2**31 and n_features < 2**31 else np.int64
    columns = np.empty((rows, width), dtype=position_type)
    signs = np.empty((rows, width), dtype=np.float64)
    for j, (name, column) in enumerate(values.items()):
        distinct, inverse = _factorize(column)
        tokens = hasher.transform([[f"{name}={value}"] for value in distinct.tolist()]).tocsr()
        if tokens.nnz != distinct.size:
            raise AssertionError("FeatureHasher returned a token without exactly one column")
        # One token per row of ``tokens``, so row i's single entry sits at position i.
        columns[:, j] = tokens.indices[inverse]
        signs[:, j] = tokens.data[inverse]
    indptr = np.arange(0, rows * width + 1, width, dtype=position_type)
    matrix = csr_matrix((signs.ravel(), columns.ravel(), indptr), shape=(rows, n_features))
    matrix.sum_duplicates()
    return matrix


class CounterStore:
    """Decayed impression and click counts per user, ad, advertiser, site and cross, updated a day at a time.

    Features are read as of the store's clock from events strictly before it: a training row never
    sees its own click or anything later (point-in-time correctness).
    """

    def __init__(self, world: AdsWorld, prior_ctr: float, half_life_days: float = 3.0) -> None:
        if not 0 < prior_ctr < 1:
            raise ValueError(f"prior_ctr must be in (0, 1), got {prior_ctr!r}")
        cfg = world.config
        self.world = world
        self.prior_ctr = prior_ctr
        self.half_life_days = half_life_days
        self.now = 0.0
        sizes = {
            "user": cfg.n_users,
            "ad": cfg.n_ads,
            "advertiser": cfg.n_advertisers,
            "site": cfg.n_sites,
            "user_category": cfg.n_users * cfg.n_categories,
            "site_category": cfg.n_sites * cfg.n_categories,
            "device_category": 2 * cfg.n_categories,
        }
        self.impressions = {name: np.zeros(size) for name, size in sizes.items()}
        self.clicks = {name: np.zeros(size) for name, size in sizes.items()}

    def _keys(self, users: IntArray, ads: IntArray, sites: IntArray, mobile: BoolArray) -> dict[str, IntArray]:
        n_cat = self.world.config.n_categories
        category = self.world.ad_category[ads]
        return {
            "user": users,
            "ad": ads,
            "advertiser": self.world.ad_advertiser[ads],
            "site": sites,
            "user_category": users * n_cat + category,
            "site_category": sites * n_cat + category,
            "device_category": mobile.astype(np.int64) * n_cat + category,
        }

    def _rate(self, name: str, keys: IntArray) -> FloatArray:
        strength = _COUNTER_STRENGTH[name]
        return (self.clicks[name][keys] + strength * self.prior_ctr) / (self.impressions[name][keys] + strength)

    def ingest(self, log: EventLog, until: float) -> None:
        """Add the log's impressions (all in [now, until)) and move the clock to ``until``."""
        times = log.times
        if len(log) and (times.min() < self.now or times.max() >= until):
            raise ValueError("ingest events in time order, each batch within [now, until)")
        decay = 0.5 ** ((until - self.now) / self.half_life_days)
        weight = 0.5 ** ((until - times) / self.half_life_days)
        keys = self._keys(log["user"], log["ad"], log["site"], log["mobile"])
        for name, key in keys.items():
            size = self.impressions[name].size
            self.impressions[name] = self.impressions[name] * decay + np.bincount(key, weights=weight, minlength=size)
            self.clicks[name] = self.clicks[name] * decay + np.bincount(
                key, weights=weight * log["clicked"], minlength=size
            )
        self.now = until

    def features(
        self,
        users: IntArray,
        ads: IntArray,
        sites: IntArray,
        placements: IntArray,
        mobile: BoolArray,
        times: FloatArray,
    ) -> NDArray[np.float32]:
        """Dense feature rows (columns = COUNTER_NAMES) for impressions at ``times`` (all ≥ the store's clock)."""
        world = self.world
        keys = self._keys(users, ads, sites, mobile)
        columns = {
            "user_ctr": self._rate("user", keys["user"]),
            "user_impressions": np.log1p(self.impressions["user"][users]),
            "ad_ctr": self._rate("ad", keys["ad"]),
            "ad_impressions": np.log1p(self.impressions["ad"][ads]),
            "advertiser_ctr": self._rate("advertiser", keys["advertiser"]),
            "ad_age_days": times - world.ad_launch[ads],
            "site_ctr": self._rate("site", keys["site"]),
            "placement": placements,
            "device_mobile": mobile,
            "hour_of_day": (times % 1.0) * 24.0,
            "user_category_ctr": self._rate("user_category", keys["user_category"]),
            "site_category_ctr": self._rate("site_category", keys["site_category"]),
            "device_category_ctr": self._rate("device_category", keys["device_category"]),
            "topic_match": world.site_topic[sites] == world.ad_category[ads],
        }
        out = np.empty((users.size, len(COUNTER_NAMES)), dtype=np.float32)
        for j, name in enumerate(COUNTER_NAMES):
            out[:, j] = columns[name]
        return out


class HashedLogisticRegression:
    """L2-regularised logistic regression on hashed sparse rows (scikit-learn's lbfgs solver).

    It is fitted on the columns the training rows touch: under an L2 penalty a column no row uses
    gets weight exactly 0, so dropping them changes nothing but the cost of every solver step.
    """

    def __init__(self, c: float = 0.1, max_iter: int = 300) -> None:
        if not c > 0:
            raise ValueError(f"c must be positive, got {c!r}")
        self.c = c
        self.max_iter = max_iter
        self.coef_: FloatArray | None = None
        self.intercept_ = 0.0

    def fit(self, x: csr_matrix, clicked: BoolArray) -> HashedLogisticRegression:
        """Learn one weight per hashed column plus an intercept."""
        from sklearn.linear_model import LogisticRegression

        used = _factorize(x.indices)[0]
        model = LogisticRegression(C=self.c, max_iter=self.max_iter).fit(x[:, used], np.asarray(clicked))
        self.coef_ = np.zeros(x.shape[1])
        self.coef_[used] = model.coef_[0]
        self.intercept_ = float(model.intercept_[0])
        return self

    def predict(self, x: csr_matrix) -> FloatArray:
        """P(click) of each row."""
        if self.coef_ is None:
            raise ValueError("HashedLogisticRegression is not fitted; call fit(...) first")
        if x.shape[1] != self.coef_.size:
            raise ValueError(f"rows must have {self.coef_.size} hashed columns, got {x.shape[1]}")
        return sigmoid(x @ self.coef_ + self.intercept_)


# --- calibration ----------------------------------------------------------------------------------


def downsampling_correction(pctr: FloatArray, keep_rate: float) -> FloatArray:
    """Undo negative downsampling: keeping a share w of non-clicks multiplies the odds by 1/w; q = wp / (wp + 1 − p)."""
    if not 0 < keep_rate <= 1:
        raise ValueError(f"keep_rate must be in (0, 1], got {keep_rate!r}")
    prob = np.asarray(pctr, dtype=float)
    return keep_rate * prob / (keep_rate * prob + 1.0 - prob)


_PROB_FLOOR = 1e-5
"""Lowest probability a calibrator returns: an isotonic step without clicks would say exactly 0,
and a single click there would cost unbounded log loss."""


def _logit(prob: FloatArray) -> FloatArray:
    clipped = np.clip(prob, _PROB_FLOOR, 1 - _PROB_FLOOR)
    return np.log(clipped / (1 - clipped))


class Calibrator:
    """Maps raw pCTRs to calibrated ones, fitted on a held-out slice: Platt scaling on the log-odds, or isotonic."""

    def __init__(self, method: str = "isotonic") -> None:
        if method not in ("platt", "isotonic"):
            raise ValueError(f"method must be 'platt' or 'isotonic', got {method!r}")
        self.method = method
        self.model_: Any = None

    def fit(self, pctr: FloatArray, clicked: BoolArray) -> Calibrator:
        """Learn the map from raw pCTR to observed click rate on a held-out slice."""
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        prob, label = np.asarray(pctr, dtype=float), np.asarray(clicked).astype(int)
        if prob.shape != label.shape or prob.ndim != 1 or np.unique(label).size != 2:
            raise ValueError("need 1-D pctr and labels of the same length, with clicks and non-clicks")
        if self.method == "platt":
            # A logistic fit on the log-odds: a shift fixes downsampling exactly, a slope fixes over-confidence.
            self.model_ = LogisticRegression(C=1e6).fit(_logit(prob)[:, None], label)
        else:
            self.model_ = IsotonicRegression(y_min=_PROB_FLOOR, y_max=1 - _PROB_FLOOR, out_of_bounds="clip")
            self.model_.fit(prob, label)
        return self

    def predict(self, pctr: FloatArray) -> FloatArray:
        """Calibrated probabilities."""
        if self.model_ is None:
            raise ValueError("Calibrator is not fitted; call fit(...) first")
        prob = np.asarray(pctr, dtype=float)
        if self.method == "platt":
            return self.model_.predict_proba(_logit(prob)[:, None])[:, 1]
        return np.asarray(self.model_.predict(prob), dtype=float)


# --- the pipeline ---------------------------------------------------------------------------------

MODELS: tuple[str, ...] = ("logistic_regression", "gradient_boosting")
"""The two learned models: hashed sparse ids + crosses, and boosted trees on counters."""
MODEL_LABELS = {"logistic_regression": "LR on hashed ids + crosses", "gradient_boosting": "GBDT on counters"}
SHORT_LABELS = {
    "logistic_regression": "LR",
    "gradient_boosting": "GBDT",
    "raw": "raw",
    "downsampling_correction": "odds × w",
    "platt": "Platt",
    "isotonic": "isotonic",
}
VARIANTS: tuple[str, ...] = ("raw", "downsampling_correction", "platt", "isotonic")
"""Raw output of a model trained on downsampled data, then three ways to recalibrate it."""
VARIANT_LABELS = {
    "raw": "raw (trained on downsampled logs)",
    "downsampling_correction": "odds × keep rate",
    "platt": "Platt on the calibration day",
    "isotonic": "isotonic on the calibration day",
}
LR_C_GRID: tuple[float, ...] = (0.1, 0.3, 1.0)
"""Inverse L2 strengths tried for the logistic regression, chosen on the calibration day."""
ABLATION_BUCKETS = 2**12
"""A deliberately small hashing space, to show what collisions cost."""

_STAGES: tuple[tuple[str, float], ...] = (
    ("Generating users, ads and sites", 1),
    ("Simulating the incumbent's auctions and clicks", 4),
    ("Building point-in-time counters", 1),
    ("Hashing sparse ids and crosses", 2),
    ("Training logistic regression and gradient boosting", 6),
    ("Calibrating on the held-out day", 1),
    ("Replaying the test day's auctions", 1),
    ("Measuring scoring latency", 1),
)


@dataclass
class CtrResults:
    """Everything one ctr run measured; the report is built from this and nothing else."""

    config: CtrConfig
    stage_seconds: dict[str, float]
    days: list[dict[str, Any]]
    """Per logged day: impressions, clicks, CTR, mean true CTR of the shown ads and of all candidates, role."""
    train: dict[str, float]
    """Training set sizes before and after negative downsampling."""
    hashing: dict[str, float]
    lr_c: float
    lr_c_scores: dict[float, float]
    ablation: dict[str, dict[str, float]]
    """Log loss / AUC of LR variants on the test day: without crosses, with a small hash space, on all rows."""
    gbdt_iterations: int
    evaluation: dict[str, dict[str, dict[str, float]]]
    """model → variant → metric on the test day (log_loss, normalized_entropy, auc, ece, calibration_ratio)."""
    base_rate: float
    shipped: tuple[str, str]
    """(model, variant) picked on the calibration day's second half."""
    selection: dict[str, float]
    """Calibration-day second-half log loss of every (model, variant) candidate, keyed "model/variant"."""
    reliability: list[dict[str, float]]
    """Shipped model on the test day, bins of equal count by raw pCTR."""
    slices: dict[str, dict[str, float]]
    """Shipped model on new vs established ads."""
    daily_calibration: dict[str, dict[str, float]]
    """Mean predicted vs observed CTR of the shipped model on the calibration and test days."""
    auction: dict[str, dict[str, float]]
    """Test-day auctions replayed with each predictor, scored with the true CTRs."""
    served_traffic: dict[str, float]
    """The shipped model's own calibration-day impressions, used to refit its calibration."""
    example_auction: list[dict[str, float]]
    latency: dict[str, dict[str, float]]


def score_predictions(clicked: BoolArray, pctr: FloatArray, n_bins: int = 10) -> dict[str, float]:
    """Log loss, normalized entropy, AUC, ECE (equal-count bins) and predicted ÷ observed clicks."""
    from sklearn.metrics import log_loss, roc_auc_score

    label = np.asarray(clicked).astype(int)
    prob = np.asarray(pctr, dtype=float)
    loss = float(log_loss(label, prob, labels=[0, 1]))
    table = metrics.reliability_table(label, prob, n_bins=n_bins, strategy="quantile")
    return {
        "log_loss": loss,
        "normalized_entropy": metrics.normalized_entropy(label, prob),
        "auc": float(roc_auc_score(label, prob)) if 0 < label.sum() < label.size else float("nan"),
        "ece": table.ece,
        "calibration_ratio": _rate(prob.sum(), label.sum()),
    }


def simulate_ctr(config: CtrConfig, progress: ProgressCallback | None = None) -> CtrResults:
    """Run the whole ctr scenario on a world built from ``config`` and return what it measured."""
    # scikit-learn's OpenMP threads spin-wait for work; on a busy 2-core machine that made the
    # boosted-tree fit 30× slower (11.8 s vs 0.4 s measured), and the per-step work here is small.
    with single_threaded():
        return _simulate(config, progress)


def _simulate(config: CtrConfig, progress: ProgressCallback | None) -> CtrResults:
    from sklearn.metrics import log_loss, roc_auc_score

    cfg, seed = config, config.seed
    stages = Stages(progress, _STAGES)
    lap, stage_seconds = stages.lap, stages.seconds

    stages.start("Generating users, ads and sites")
    world = make_ads_world(cfg)
    lap("world")

    stages.start("Simulating the incumbent's auctions and clicks")
    logs = simulate_logs(world)
    log = logs.log
    day_of = np.floor(log.times).astype(np.int64)
    clicked = log["clicked"]
    roles = {0: "warm-up"} | {d: "train" for d in range(1, cfg.calibration_day)}
    roles |= {cfg.calibration_day: "calibration", cfg.test_day: "test"}
    days = []
    for day in range(cfg.days):
        mask = day_of == day
        days.append(
            {
                "day": float(day),
                "impressions": float(mask.sum()),
                "clicks": float(clicked[mask].sum()),
                "ctr": _rate(clicked[mask].sum(), mask.sum()),
                "shown_true_ctr": float(log["true_ctr"][mask].mean()) if mask.any() else 0.0,
                "candidate_true_ctr": logs.candidate_ctr[day],
                "new_ad_share": float(np.mean(log["time"][mask] - world.ad_launch[log["ad"][mask]] < 1.0))
                if mask.any()
                else 0.0,
            }
        )
    lap("logs")

    stages.start("Building point-in-time counters")
    warm = day_of == 0
    store = CounterStore(world, prior_ctr=min(max(_rate(clicked[warm].sum(), warm.sum()), 1e-4), 0.5))
    dense = np.zeros((len(log), len(COUNTER_NAMES)), dtype=np.float32)
    auction_days = (cfg.calibration_day, cfg.test_day)
    auction_context = {day: logs.auctions[day].candidate_context() for day in auction_days}
    auction_dense: dict[int, NDArray[np.float32]] = {}
    ads_seen_before_test = np.zeros(cfg.n_ads, dtype=bool)
    for day in range(cfg.days):
        rows = np.flatnonzero(day_of == day)
        if day >= 1:
            dense[rows] = store.features(
                log["user"][rows],
                log["ad"][rows],
                log["site"][rows],
                log["placement"][rows],
                log["mobile"][rows],
                log["time"][rows],
            )
        if day in auction_days:
            auction_dense[day] = store.features(*auction_context[day])
        if day == cfg.test_day:
            ads_seen_before_test = store.impressions["ad"] > 0
        store.ingest(log.select(rows), float(day + 1))
    lap("counters")

    # Time-based split: train on days 1..calibration−1, calibrate on the next day, test on the last.
    train_all, _ = time_split(log.times, float(cfg.calibration_day))
    train_all &= ~warm
    calibration = day_of == cfg.calibration_day
    test = day_of == cfg.test_day
    sample_rng = rng_for(seed, "ctr/downsample")
    kept = train_all & (clicked | (sample_rng.random(len(log)) < cfg.negative_keep_rate))
    train = np.flatnonzero(kept)
    train_full = np.flatnonzero(train_all)
    cal_rows, test_rows = np.flatnonzero(calibration), np.flatnonzero(test)
    base_rate = _rate(clicked[train_full].sum(), train_full.size)

    stages.start("Hashing sparse ids and crosses")
    ids = _id_fields(world, log["user"], log["ad"], log["site"], log["placement"], log["mobile"], log["time"])
    auction_ids = [_id_fields(world, *auction_context[day]) for day in auction_days]
    stacked = {name: np.concatenate([values, *(part[name] for part in auction_ids)]) for name, values in ids.items()}
    # Rows of x: the logged impressions first (same row numbers as the log), then each sampled day's
    # candidate slots. Rows are picked from it as needed rather than sliced into copies up front.
    x = hash_fields(stacked, cfg.hash_buckets)
    del stacked
    bounds = np.cumsum([len(log), *(auction_context[day][0].size for day in auction_days)])
    x_auction_rows = {day: np.arange(bounds[i], bounds[i + 1]) for i, day in enumerate(auction_days)}
    vocabulary = {name: _factorize(values[train_full])[0] for name, values in ids.items()}
    hashing = _hashing_stats(vocabulary, cfg.hash_buckets)
    lap("hashing")

    stages.start("Training logistic regression and gradient boosting")
    y_train = clicked[train]
    lr_c_scores: dict[float, float] = {}
    lr_models: dict[float, HashedLogisticRegression] = {}
    for c in LR_C_GRID:
        model = HashedLogisticRegression(c).fit(x[train], y_train)
        lr_models[c] = model
        # Compared on the calibration day after the exact downsampling correction (no fitting on that day).
        corrected = downsampling_correction(model.predict(x[cal_rows]), cfg.negative_keep_rate)
        lr_c_scores[c] = float(log_loss(clicked[cal_rows], corrected, labels=[0, 1]))
    lr_c = min(LR_C_GRID, key=lambda c: lr_c_scores[c])
    lr = lr_models[lr_c]
    gbdt = GradientBoostedRanker(
        max_iter=300, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=50, l2_regularization=1.0, seed=seed
    )
    gbdt.fit(dense[train], y_train, feature_names=COUNTER_NAMES)

    # Parts: the logged calibration and test days, and the sampled auctions of both days ("served"
    # is the calibration day's, where the shipped model runs its own auctions; "auction" the test day's).
    shapes = {
        part: logs.auctions[day].candidates.shape for part, day in zip(("served", "auction"), auction_days, strict=True)
    }
    raw: dict[str, dict[str, FloatArray]] = {
        "logistic_regression": {
            "calibration": lr.predict(x[cal_rows]),
            "test": lr.predict(x[test_rows]),
            "served": lr.predict(x[x_auction_rows[auction_days[0]]]).reshape(shapes["served"]),
            "auction": lr.predict(x[x_auction_rows[auction_days[1]]]).reshape(shapes["auction"]),
        },
        "gradient_boosting": {
            "calibration": gbdt.predict(dense[cal_rows]),
            "test": gbdt.predict(dense[test_rows]),
            "served": gbdt.predict(auction_dense[auction_days[0]]).reshape(shapes["served"]),
            "auction": gbdt.predict(auction_dense[auction_days[1]]).reshape(shapes["auction"]),
        },
    }

    # Ablations, all on the test day after the downsampling correction: what crosses, buckets and
    # the discarded negatives are worth.
    ablation: dict[str, dict[str, float]] = {}

    def score_ablation(name: str, test_pctr: FloatArray, keep_rate: float, train_rows: int) -> None:
        prob = downsampling_correction(test_pctr, keep_rate)
        ablation[name] = {
            "log_loss": float(log_loss(clicked[test_rows], prob, labels=[0, 1])),
            "auc": float(roc_auc_score(clicked[test_rows], prob)),
            "train_rows": float(train_rows),
        }

    def lr_ablation(name: str, x_train: Any, y: BoolArray, x_test: Any, keep_rate: float) -> None:
        model = HashedLogisticRegression(lr_c).fit(x_train, y)
        score_ablation(name, model.predict(x_test), keep_rate, x_train.shape[0])

    score_ablation("shipped_lr", raw["logistic_regression"]["test"], cfg.negative_keep_rate, train.size)
    plain = {name: values for name, values in ids.items() if name not in CROSS_FIELDS}
    x_plain = hash_fields(
        {name: values[np.concatenate([train, test_rows])] for name, values in plain.items()}, cfg.hash_buckets
    )
    lr_ablation("no_crosses", x_plain[: train.size], y_train, x_plain[train.size :], cfg.negative_keep_rate)
    x_small = hash_fields(
        {name: values[np.concatenate([train, test_rows])] for name, values in ids.items()}, ABLATION_BUCKETS
    )
    lr_ablation("small_hash_space", x_small[: train.size], y_train, x_small[train.size :], cfg.negative_keep_rate)
    lr_ablation("all_negatives", x[train_full], clicked[train_full], x[test_rows], 1.0)
    ablation["small_hash_space"]["collision_share"] = _hashing_stats(vocabulary, ABLATION_BUCKETS)[
        "colliding_token_share"
    ]
    lap("training")

    stages.start("Calibrating on the held-out day")
    y_cal, y_test = clicked[cal_rows], clicked[test_rows]
    predictions: dict[str, dict[str, dict[str, FloatArray]]] = {}
    for name in MODELS:
        calibrators = {
            method: Calibrator(method).fit(raw[name]["calibration"], y_cal) for method in ("platt", "isotonic")
        }
        predictions[name] = {}
        for variant in VARIANTS:
            predictions[name][variant] = {
                part: _apply_variant(variant, values, cfg.negative_keep_rate, calibrators)
                for part, values in raw[name].items()
            }
    evaluation: dict[str, dict[str, dict[str, float]]] = {
        name: {variant: score_predictions(y_test, predictions[name][variant]["test"]) for variant in VARIANTS}
        for name in MODELS
    }
    evaluation["base_rate"] = {"raw": score_predictions(y_test, np.full(y_test.size, base_rate))}
    evaluation["oracle"] = {"raw": score_predictions(y_test, log["true_ctr"][test_rows])}

    # The shipped (model, calibration) is chosen on the calibration day alone: calibrators fitted on
    # its first half, judged on its second half. The test day plays no part in the choice.
    half = log.times[cal_rows] < cfg.calibration_day + 0.5
    selection: dict[str, float] = {}
    for name in MODELS:
        fitted = {
            method: Calibrator(method).fit(raw[name]["calibration"][half], y_cal[half])
            for method in ("platt", "isotonic")
        }
        for variant in VARIANTS[1:]:
            prob = _apply_variant(variant, raw[name]["calibration"][~half], cfg.negative_keep_rate, fitted)
            selection[f"{name}/{variant}"] = float(log_loss(y_cal[~half], prob, labels=[0, 1]))
    shipped_key = min(selection, key=lambda key: selection[key])
    shipped_model, shipped_variant = shipped_key.split("/")
    shipped = predictions[shipped_model][shipped_variant]

    reliability = _reliability_rows(y_test, raw[shipped_model]["test"], shipped["test"])
    new_ad = ~ads_seen_before_test[log["ad"][test_rows]]
    slices = {
        label: {
            "impressions": float(mask.sum()),
            "observed_ctr": float(y_test[mask].mean()) if mask.any() else 0.0,
            "predicted_ctr": float(shipped["test"][mask].mean()) if mask.any() else 0.0,
            "log_loss": float(log_loss(y_test[mask], shipped["test"][mask], labels=[0, 1])) if mask.any() else 0.0,
        }
        for label, mask in (("new ads", new_ad), ("established ads", ~new_ad))
    }
    daily_calibration = {
        "calibration day": {"predicted": float(shipped["calibration"].mean()), "observed": float(y_cal.mean())},
        "test day": {"predicted": float(shipped["test"].mean()), "observed": float(y_test.mean())},
    }
    lap("calibration")

    stages.start("Replaying the test day's auctions")

    def market(day: int) -> tuple[FloatArray, BoolArray, FloatArray]:
        """Bids, CPM flags and true CTRs of a sampled day's candidates."""
        ads = np.maximum(logs.auctions[day].candidates, 0)
        bids = np.where(logs.auctions[day].candidates >= 0, world.ad_bid[ads], np.nan)
        return bids, world.ad_cpm[ads], np.nan_to_num(logs.auction_true_ctr[day])

    # After launch the model picks the winners itself. Serve the calibration day's sampled auctions
    # with it, draw the clicks of its winners, and refit a Platt map on that served traffic.
    served_bids, served_cpm, served_true = market(cfg.calibration_day)
    served = second_price_auction(served_bids, shipped["served"], cfg.reserve_cpm, served_cpm)
    served_rows = np.flatnonzero(served.filled)
    served_pctr = shipped["served"][served_rows, served.winner[served_rows]]
    served_ctr = served_true[served_rows, served.winner[served_rows]]
    served_clicks = rng_for(seed, "ctr/served-clicks").random(served_rows.size) < served_ctr
    recalibrator = Calibrator("platt").fit(served_pctr, served_clicks)
    served_traffic = {
        "impressions": float(served_rows.size),
        "clicks": float(served_clicks.sum()),
        "predicted_ctr": float(served_pctr.mean()),
        "observed_ctr": float(served_clicks.mean()),
    }

    bids, per_impression, true_ctr = market(cfg.test_day)
    oracle = second_price_auction(bids, true_ctr, cfg.reserve_cpm, per_impression)
    predictors = {
        "oracle": true_ctr,
        "recalibrated": recalibrator.predict(shipped["auction"].ravel()).reshape(bids.shape),
        "calibrated": shipped["auction"],
        "calibrated_x2": np.minimum(2.0 * shipped["auction"], 1.0),
        "raw": predictions[shipped_model]["raw"]["auction"],
        "base_rate": np.full(bids.shape, base_rate),
    }
    auction = {
        name: auction_economics(bids, per_impression, true_ctr, pctr, cfg.reserve_cpm, oracle.winner)
        for name, pctr in predictors.items()
    }
    candidates = logs.auctions[cfg.test_day].candidates
    example_auction = _example_auction(bids, per_impression, true_ctr, shipped["auction"], cfg.reserve_cpm, candidates)
    lap("auctions")

    stages.start("Measuring scoring latency")
    latency = _measure_latency(world, store, lr, gbdt, logs.auctions[cfg.test_day], rng_for(seed, "ctr/latency"))
    lap("latency")
    stages.finish()

    return CtrResults(
        config=cfg,
        stage_seconds=stage_seconds,
        days=[day | {"role": roles.get(int(day["day"]), "")} for day in days],
        train={
            "impressions": float(train_full.size),
            "clicks": float(clicked[train_full].sum()),
            "rows_after_downsampling": float(train.size),
            "ctr_after_downsampling": float(y_train.mean()),
        },
        hashing=hashing,
        lr_c=lr_c,
        lr_c_scores=lr_c_scores,
        ablation=ablation,
        gbdt_iterations=gbdt.n_iter_,
        evaluation=evaluation,
        base_rate=base_rate,
        shipped=(shipped_model, shipped_variant),
        selection=selection,
        reliability=reliability,
        slices=slices,
        daily_calibration=daily_calibration,
        auction=auction,
        served_traffic=served_traffic,
        example_auction=example_auction,
        latency=latency,
    )


def _apply_variant(
    variant: str, pctr: FloatArray, keep_rate: float, calibrators: Mapping[str, Calibrator]
) -> FloatArray:
    """One of VARIANTS applied to raw model output."""
    if variant == "raw":
        return pctr
    if variant == "downsampling_correction":
        return downsampling_correction(pctr, keep_rate)
    return calibrators[variant].predict(pctr.ravel()).reshape(pctr.shape)


def _hashing_stats(vocabulary: Mapping[str, IntArray], n_features: int) -> dict[str, float]:
    """How many distinct tokens the training days hold, and how many share a bucket with another token."""
    all_buckets = np.concatenate(
        [hash_fields({name: values}, n_features).indices for name, values in vocabulary.items()]
    )
    _, inverse = _factorize(all_buckets)
    counts = np.bincount(inverse)
    return {
        "tokens": float(all_buckets.size),
        "buckets": float(n_features),
        "used_buckets": float(counts.size),
        "colliding_token_share": float(np.mean(counts[inverse] > 1)),
    }


def _reliability_rows(
    clicked: BoolArray, raw: FloatArray, calibrated: FloatArray, n_bins: int = 10
) -> list[dict[str, float]]:
    """Reliability table of the shipped model: equal-count bins of raw pCTR, raw and calibrated means vs observed."""
    edges = np.quantile(raw, np.linspace(0.0, 1.0, n_bins + 1))
    bins = np.searchsorted(edges[1:-1], raw)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if not mask.any():
            continue
        rows.append(
            {
                "raw_low": float(raw[mask].min()),
                "raw_high": float(raw[mask].max()),
                "impressions": float(mask.sum()),
                "raw_mean": float(raw[mask].mean()),
                "calibrated_mean": float(calibrated[mask].mean()),
                "observed_ctr": float(clicked[mask].mean()),
            }
        )
    return rows


def _example_auction(
    bids: FloatArray,
    per_impression: BoolArray,
    true_ctr: FloatArray,
    pctr: FloatArray,
    reserve_cpm: float,
    candidates: IntArray,
) -> list[dict[str, float]]:
    """The first filled test auction with a full candidate list, its ads sorted by the model's eCPM."""
    outcome = second_price_auction(bids, pctr, reserve_cpm, per_impression)
    full = np.flatnonzero(outcome.filled & ~np.isnan(bids).any(axis=1))
    if full.size == 0:
        return []
    row = int(full[0])
    ecpm = expected_cpm(bids[row : row + 1], pctr[row : row + 1], per_impression[row : row + 1])[0]
    order = np.argsort(-ecpm, kind="stable")
    return [
        {
            "ad": float(candidates[row, j]),
            "cpm": float(per_impression[row, j]),
            "bid": float(bids[row, j]),
            "pctr": float(pctr[row, j]),
            "ecpm": float(ecpm[j]),
            "true_ctr": float(true_ctr[row, j]),
            "won": float(j == outcome.winner[row]),
            "price": float(outcome.price[row]) if j == outcome.winner[row] else 0.0,
        }
        for j in order
    ]


def _measure_latency(
    world: AdsWorld,
    store: CounterStore,
    lr: HashedLogisticRegression,
    gbdt: GradientBoostedRanker,
    auctions: Requests,
    rng: np.random.Generator,
) -> dict[str, dict[str, float]]:
    """Score LATENCY_CANDIDATES ads per request, one request at a time, as the ad server would."""
    from sklearn.feature_extraction import FeatureHasher

    cfg = world.config
    hasher = FeatureHasher(n_features=cfg.hash_buckets, input_type="string")
    live = int(np.searchsorted(world.ad_launch, float(cfg.test_day)))
    n = min(LATENCY_REQUESTS, len(auctions))
    timings: dict[str, list[float]] = {"logistic_regression": [], "gradient_boosting": []}
    for i in range(n + 5):
        row = i % len(auctions)
        ads = rng.choice(live, size=min(LATENCY_CANDIDATES, live), replace=False)
        size = ads.size
        context = (
            np.full(size, auctions.user[row]),
            ads,
            np.full(size, auctions.site[row]),
            np.full(size, auctions.placement[row]),
            np.full(size, auctions.mobile[row]),
            np.full(size, auctions.time[row]),
        )
        started = time.perf_counter()
        # The serving path hashes each request's tokens directly: the vocabulary trick only pays on big batches.
        columns = {name: values.tolist() for name, values in _id_fields(world, *context).items()}
        tokens = [[f"{name}={values[j]}" for name, values in columns.items()] for j in range(size)]
        lr.predict(hasher.transform(tokens))
        middle = time.perf_counter()
        gbdt.predict(store.features(*context))
        done = time.perf_counter()
        if i >= 5:  # the first requests warm caches up
            timings["logistic_regression"].append((middle - started) * 1e3)
            timings["gradient_boosting"].append((done - middle) * 1e3)
    return {name: metrics.latency_percentiles(values) for name, values in timings.items()}


# --- the report -----------------------------------------------------------------------------------

DEFAULT_USERS = CtrConfig.n_users
DEFAULT_ADS = CtrConfig.n_ads
MIN_USERS, MAX_USERS = 500, 500_000
MIN_ADS, MAX_ADS = 300, 1_000_000
"""Bounds of --users / --items: below them training has too few clicks per id, above them the
per-user counters outgrow a laptop's memory (request volume stays fixed)."""


def ctr_config(options: DemoOptions) -> CtrConfig:
    """World configuration for the requested sizes (--users: users, --items: ads), refusing sizes that cannot run."""
    users = DEFAULT_USERS if options.users is None else options.users
    ads = DEFAULT_ADS if options.items is None else options.items
    if not MIN_USERS <= users <= MAX_USERS:
        raise DemoError(f"--users must be between {MIN_USERS:,} and {MAX_USERS:,} for the ctr demo, got {users:,}")
    if not MIN_ADS <= ads <= MAX_ADS:
        raise DemoError(f"--items (ads) must be between {MIN_ADS:,} and {MAX_ADS:,} for the ctr demo, got {ads:,}")
    return CtrConfig(n_users=users, n_ads=ads, n_advertisers=max(10, min(600, ads // 10)), seed=options.seed)


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}%"


def _signed_pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:+.{digits}f}%"


def _usd(value: float, digits: int = 2) -> str:
    return f"${value:,.{digits}f}"


def _change(value: float, reference: float) -> str:
    """ "3.1% lower" / "2.0% higher" / "unchanged": value against a reference."""
    if reference == 0 or round(value / reference - 1, 3) == 0:
        return "unchanged"
    return f"{_pct(abs(value / reference - 1))} {'lower' if value < reference else 'higher'}"


def _label(model: str, variant: str) -> str:
    return f"{MODEL_LABELS[model]}, {VARIANT_LABELS[variant]}"


def _logged_ctr(r: CtrResults) -> float:
    return _rate(sum(d["clicks"] for d in r.days), sum(d["impressions"] for d in r.days))


def _section_clarify(r: CtrResults) -> Section:
    cfg = r.config
    per_day = float(np.mean([d["impressions"] for d in r.days]))
    candidate_ctr = float(np.mean([d["candidate_true_ctr"] for d in r.days]))
    return Section(
        "clarify",
        (
            Text(
                "[bold]Prompt:[/bold] predict the click-through rate behind the ad auction of a large ads platform: "
                "~5B impressions a day, a few hundred eligible ads per request scored in 20 ms, revenue as the "
                "goal with advertiser return as the guardrail."
            ),
            Table(
                ("", "the prompt", "this run"),
                (
                    ("impressions", "~5B a day", f"{per_day:,.0f} a day for {cfg.days} days"),
                    (
                        "ads",
                        "~10M active from ~1M advertisers",
                        f"{cfg.n_ads:,} from {cfg.n_advertisers:,} advertisers "
                        f"({_pct(cfg.cpm_advertiser_share, 0)} buy impressions, CPM)",
                    ),
                    ("users", "~800M a month", f"{cfg.n_users:,}"),
                    ("candidates per request", "300-500 after targeting", f"{cfg.candidates}"),
                    (
                        "click-through rate",
                        "~1 % (0.1-4 % by surface)",
                        f"{_pct(_logged_ctr(r), 2)} on shown ads, {_pct(candidate_ctr, 2)} across all eligible ads",
                    ),
                    ("scoring budget", "20 ms p99 for all candidates", f"timed in step 7 for {LATENCY_CANDIDATES} ads"),
                    (
                        "objective",
                        "revenue per 1000 requests (RPM)",
                        "expected RPM and advertiser value, from the true CTRs",
                    ),
                ),
            ),
            Text(
                f"Assumptions: one ad slot per request; a one-slot second-price auction on eCPM with a "
                f"{_usd(cfg.reserve_cpm)} reserve CPM; CPC advertisers bid per click, brand advertisers per thousand "
                "impressions; the label is the click (no late clicks, no conversions). The click rule is known, "
                "so this demo can score the ads that lost an auction — something no real log allows."
            ),
        ),
    )


def _section_frame(r: CtrResults) -> Section:
    cfg = r.config
    blocks: list[Any] = [
        KeyValues(
            (
                ("predict", "P(click | user, ad, context) for every eligible ad — a probability, not just a score"),
                ("task", "binary classification with ~2 % positives, trained on logged impressions"),
                ("how it is used", "eCPM = 1000 × bid × pCTR for CPC ads (the CPM bid as is); the highest eCPM wins"),
                ("price", "second price: the winner pays max(runner-up eCPM, reserve) ÷ (1000 × its pCTR) per click"),
                ("simplest version", "one base rate for every ad: the auction then ranks CPC ads by bid alone"),
            )
        )
    ]
    ex = r.example_auction
    if ex:
        rows = []
        for ad in ex:
            outcome = ""
            if ad["won"]:
                unit = "per 1000 impressions" if ad["cpm"] else "per click"
                outcome = f"wins, pays {_usd(ad['price'], 3)} {unit}"
            rows.append(
                (
                    f"ad {ad['ad']:.0f}",
                    "CPM" if ad["cpm"] else "CPC",
                    _usd(ad["bid"]),
                    "—" if ad["cpm"] else _pct(ad["pctr"], 2),
                    _usd(ad["ecpm"]),
                    _pct(ad["true_ctr"], 2),
                    outcome,
                )
            )
        blocks.append(
            Table(
                ("candidate", "pays per", "bid", "pCTR", "eCPM", "true CTR", ""),
                tuple(rows),
                title="One test-day auction, ranked by the shipped model's eCPM",
            )
        )
        winner = next(ad for ad in ex if ad["won"])
        runner_up = max((ad["ecpm"] for ad in ex if not ad["won"]), default=0.0)
        threshold = max(runner_up, cfg.reserve_cpm)
        if not winner["cpm"]:
            blocks.append(
                Text(
                    f"The winner pays the least that keeps it first: {_usd(threshold)} ÷ "
                    f"(1000 × {_pct(winner['pctr'], 2)}) = {_usd(winner['price'], 3)} per click, below its "
                    f"{_usd(winner['bid'])} bid. Both the ranking and "
                    "the price multiply pCTR by dollars, and CPM bids and the reserve are compared in dollars: a pCTR "
                    "that is off by a factor moves money, not just order (measured in step 6)."
                )
            )
        else:
            blocks.append(
                Text(
                    f"A CPM ad wins: its bid needs no pCTR, and it pays the runner-up's {_usd(threshold)} per thousand "
                    "impressions. The CPC ads it beat were judged by bid × pCTR: a pCTR that is off by a factor moves "
                    "money, not just order (measured in step 6)."
                )
            )
    return Section("frame", tuple(blocks))


def _section_data(r: CtrResults) -> Section:
    rows = tuple(
        (
            f"{d['day']:.0f}",
            str(d["role"]),
            f"{d['impressions']:,.0f}",
            f"{d['clicks']:,.0f}",
            _pct(d["ctr"], 2),
            _pct(d["candidate_true_ctr"], 2),
            _pct(d["new_ad_share"], 1),
        )
        for d in r.days
    )
    shown = float(np.mean([d["shown_true_ctr"] for d in r.days]))
    candidates = float(np.mean([d["candidate_true_ctr"] for d in r.days]))
    t = r.train
    return Section(
        "data",
        (
            Table(
                ("day", "role", "impressions", "clicks", "CTR", "true CTR of all candidates", "ads < 1 day old"),
                rows,
                title="The incumbent's impression logs, joined to their clicks",
            ),
            Text(
                "Split by time, never at random: counters warm up on day 0, the models train on the days before the "
                "calibration day, the calibrators fit on that day, and the last day is only ever used for the test — "
                "the same order in which data arrives in production, so new ads and worn-out creatives in the test "
                "day are as unseen as they will be after launch."
            ),
            Text(
                f"Selection bias: a log only holds the ads that won the incumbent's auctions. Their true CTR averages "
                f"{_pct(shown, 2)}; across every eligible ad it is {_pct(candidates, 2)}. The model learns from "
                "winners and is then asked about every candidate (step 6 measures what that costs)."
            ),
            KeyValues(
                (
                    ("training impressions", f"{t['impressions']:,.0f} ({t['clicks']:,.0f} clicks)"),
                    (
                        "after negative downsampling",
                        f"{t['rows_after_downsampling']:,.0f} rows: every click, "
                        f"{_pct(r.config.negative_keep_rate, 0)} "
                        f"of the non-clicks ({t['impressions'] / t['rows_after_downsampling']:.1f}× fewer rows)",
                    ),
                    ("CTR the model sees", f"{_pct(t['ctr_after_downsampling'], 1)} instead of {_pct(r.base_rate, 2)}"),
                ),
                title="Training set",
            ),
        ),
    )


def _section_features(r: CtrResults) -> Section:
    groups = ("user", "ad", "context", "cross")
    rows = tuple(
        (
            group,
            ", ".join(spec.name for spec in HASHED_FIELDS if spec.group == group),
            ", ".join(spec.name for spec in COUNTER_FEATURES if spec.group == group),
        )
        for group in groups
    )
    h = r.hashing
    a = r.ablation
    base = a["shipped_lr"]
    ablation_rows = (
        (f"shipped: ids + crosses, 2^{int(math.log2(r.config.hash_buckets))} buckets", base),
        (f"without the {len(CROSS_FIELDS)} cross fields", a["no_crosses"]),
        (f"2^{int(math.log2(ABLATION_BUCKETS))} buckets", a["small_hash_space"]),
        ("all negatives instead of downsampled", a["all_negatives"]),
    )
    table_rows = tuple(
        (
            name,
            f"{values['train_rows']:,.0f}",
            f"{values['log_loss']:.5f}",
            _signed_pct(values["log_loss"] / base["log_loss"] - 1, 2),
            f"{values['auc']:.4f}",
        )
        for name, values in ablation_rows
    )
    crosses_help = a["no_crosses"]["log_loss"] > base["log_loss"]
    lesson = (
        f"Crosses {'pay' if crosses_help else 'do not pay'} here: without them log loss moves "
        f"{_signed_pct(a['no_crosses']['log_loss'] / base['log_loss'] - 1, 2)}. Squeezing the ids into "
        f"{ABLATION_BUCKETS:,} buckets ({_pct(a['small_hash_space']['collision_share'], 0)} of tokens share a bucket) "
        f"costs {_signed_pct(a['small_hash_space']['log_loss'] / base['log_loss'] - 1, 2)}. Training on all "
        f"{a['all_negatives']['train_rows']:,.0f} impressions instead of the downsampled rows moves it "
        f"{_signed_pct(a['all_negatives']['log_loss'] / base['log_loss'] - 1, 2)} "
        f"for {a['all_negatives']['train_rows'] / base['train_rows']:.1f}× the rows — why production downsamples. "
        "All on the test day, after the downsampling correction."
    )
    return Section(
        "features",
        (
            Table(
                ("group", "logistic regression: hashed tokens", "gradient boosting: counters as of the day's start"),
                rows,
            ),
            Text(
                'High-cardinality ids go through the hashing trick: each "field=value" token (user=123, '
                "user×category=123_7) is hashed by scikit-learn's FeatureHasher into a fixed column space, so a "
                "new id needs no vocabulary update and memory is fixed; the price is collisions. The boosted trees "
                "get the same signals as smoothed click-through counters, read point-in-time from earlier days."
            ),
            KeyValues(
                (
                    ("distinct tokens in the training days", f"{h['tokens']:,.0f}"),
                    (
                        "hash buckets",
                        f"{h['buckets']:,.0f} (2^{int(math.log2(h['buckets']))}), {h['used_buckets']:,.0f} used",
                    ),
                    ("tokens sharing a bucket with another", _pct(h["colliding_token_share"])),
                ),
                title="Hashing",
            ),
            Table(
                ("logistic regression variant", "train rows", "test log loss", "vs shipped", "AUC"),
                table_rows,
                title="What crosses, buckets and the discarded negatives are worth",
            ),
            Text(lesson),
        ),
    )


def _section_model(r: CtrResults) -> Section:
    cfg = r.config
    c_scores = ", ".join(f"C={c:g}: {score:.5f}" for c, score in r.lr_c_scores.items())
    rows = []
    for name in MODELS:
        raw = r.evaluation[name]["raw"]
        corrected = r.evaluation[name]["downsampling_correction"]
        rows.append(
            (
                MODEL_LABELS[name],
                f"{raw['calibration_ratio']:.2f}×",
                f"{corrected['calibration_ratio']:.2f}×",
                f"{raw['auc']:.4f}",
                f"{corrected['auc']:.4f}",
            )
        )
    w = cfg.negative_keep_rate
    return Section(
        "model",
        (
            KeyValues(
                (
                    ("baseline", f"the training days' click rate for every impression: {_pct(r.base_rate, 3)}"),
                    (
                        "logistic regression",
                        f"L2 on {cfg.hash_buckets:,} hashed columns; C = {r.lr_c:g} chosen on the calibration day "
                        f"({c_scores})",
                    ),
                    (
                        "gradient boosting",
                        f"scikit-learn HistGradientBoosting on {len(COUNTER_NAMES)} counters, "
                        f"{r.gbdt_iterations} trees "
                        "(early stopping)",
                    ),
                    ("loss", "log loss on single impressions (pointwise), trained on the downsampled rows"),
                )
            ),
            Table(
                ("model", "predicted ÷ observed clicks, raw", "after odds × w", "AUC raw", "AUC after"),
                tuple(rows),
                title="Trained on downsampled logs, both models over-predict; the ranking does not care",
            ),
            Text(
                f"Keeping a share w = {w:g} of the non-clicks multiplies the odds of a click by 1/w, so the raw "
                f"outputs run up to {1 / w:.0f}× too high at low CTR. The exact fix is q = w·p / (w·p + 1 − p); a "
                "calibrator fitted on a later held-out day (Platt on the log-odds, or isotonic) learns the same map "
                "and also whatever drift or model bias is left. None of it changes the order of the ads, so AUC "
                "barely moves."
            ),
        ),
    )


def _section_evaluation(r: CtrResults) -> Section:
    m, v = r.shipped
    e = r.evaluation
    model = e[m][v]
    base = e["base_rate"]["raw"]
    oracle = e["oracle"]["raw"]
    raw = e[m]["raw"]
    rows = [("base rate", "—", base)]
    for name in MODELS:
        rows.extend(
            (
                SHORT_LABELS[name],
                SHORT_LABELS[variant] + (" ◀ shipped" if (name, variant) == (m, v) else ""),
                e[name][variant],
            )
            for variant in VARIANTS
        )
    rows.append(("oracle", "—", oracle))
    eval_table = Table(
        ("model", "calibration", "log loss", "NE", "AUC", "ECE", "pred/obs"),
        tuple(
            (
                name,
                variant,
                f"{s['log_loss']:.5f}",
                f"{s['normalized_entropy']:.3f}",
                f"{s['auc']:.4f}",
                f"{s['ece']:.4f}",
                f"{s['calibration_ratio']:.2f}×",
            )
            for name, variant, s in rows
        ),
        title="Offline, on the test day's logged impressions. LR: hashed ids + crosses; GBDT: counters; NE: "
        "normalized entropy (log loss ÷ entropy of the observed CTR); ECE over 10 equal-count bins",
    )
    gain = 1 - model["log_loss"] / base["log_loss"]
    reachable = (base["log_loss"] - model["log_loss"]) / max(base["log_loss"] - oracle["log_loss"], 1e-12)
    worse = raw["log_loss"] > base["log_loss"]
    same_auc = (
        f"the same AUC ({model['auc']:.4f})"
        if round(raw["auc"], 4) == round(model["auc"], 4)
        else f"an AUC of {raw['auc']:.4f} vs {model['auc']:.4f}"
    )
    lesson = (
        f"Shipped: {_label(m, v)}, picked on the calibration day alone (calibrators fitted on its first half, "
        f"judged on its second). On the test day its log loss is {model['log_loss']:.5f} against the base rate's "
        f"{base['log_loss']:.5f} ({_signed_pct(-gain)}, normalized entropy {model['normalized_entropy']:.3f}); the "
        f"oracle's {oracle['log_loss']:.5f} is the floor, so the model closes {_pct(reachable, 0)} of the gap. "
        f"The same model uncorrected scores {raw['log_loss']:.5f} — {'worse than' if worse else 'close to'} "
        f"predicting the base rate — at {same_auc}: AUC only sees the "
        "order, log loss and ECE see the probabilities the auction spends."
    )
    rel_rows = tuple(
        (
            f"{b['raw_low']:.3f}–{b['raw_high']:.3f}",
            f"{b['impressions']:,.0f}",
            _pct(b["raw_mean"], 2),
            _pct(b["calibrated_mean"], 2),
            _pct(b["observed_ctr"], 2),
        )
        for b in r.reliability
    )
    auction_names = {
        "oracle": "oracle",
        "recalibrated": "recalibrated",
        "calibrated": "calibrated",
        "calibrated_x2": "calibrated × 2",
        "raw": "raw",
        "base_rate": "base rate",
    }
    a = r.auction
    best = a["oracle"]["rpm"]
    auction_rows = tuple(
        (
            label,
            _usd(a[name]["rpm"]),
            _signed_pct(a[name]["rpm"] / best - 1) if best else "—",
            _signed_pct(a[name]["forecast_error"], 0),
            _pct(a[name]["cpm_win_share"], 0),
            f"{a[name]['clicks_per_1000']:.1f}",
        )
        for name, label in auction_names.items()
    )
    cal, raw_a, x2 = a["calibrated"], a["raw"], a["calibrated_x2"]
    opener = (
        "Miscalibration costs money although it leaves AUC untouched."
        if raw_a["rpm"] < cal["rpm"]
        else "In this run miscalibration does not cost revenue, but it still gives the slot to the wrong ads."
    )
    auction_lesson = (
        f"{opener} The raw model's pCTR is "
        f"{raw_a['candidate_calibration_ratio']:.1f}× too high, so every CPC ad's eCPM is inflated against the "
        "CPM bids "
        f"and the reserve: CPM ads win {_pct(raw_a['cpm_win_share'], 1)} of auctions instead of "
        f"{_pct(a['oracle']['cpm_win_share'], 0)}, revenue is {_change(raw_a['rpm'], cal['rpm'])} than with the "
        f"calibrated pCTR (advertiser value {_change(raw_a['value_per_1000'], cal['value_per_1000'])}), and the "
        f"platform's revenue forecast is off by {_signed_pct(raw_a['forecast_error'], 0)} — budget pacing and spend "
        "estimates built on it would be wrong by as much. Doubling a calibrated pCTR keeps AUC and the pCTR order "
        f"and still leaves revenue {_change(x2['rpm'], cal['rpm'])}. Calibration fixes the average, not each ad: "
        f"the calibrated model still picks the oracle's winner in only {_pct(cal['same_winner_as_oracle'], 0)} "
        "of auctions."
    )
    curse = (
        f"Calibrated on the logs is not calibrated in the auction: on the logged test impressions the shipped pCTR "
        f"runs {model['calibration_ratio']:.2f}× the observed clicks, but over all eligible ads it runs "
        f"{cal['candidate_calibration_ratio']:.2f}× the truth, and {cal['winner_calibration_ratio']:.2f}× on the ads "
        "it makes win. The logs only hold ads the incumbent chose to show (selection bias), so the model never "
        "learned how poorly the others do. Step 7 refits the calibration on the model's own traffic."
    )
    return Section(
        "evaluation",
        (
            eval_table,
            BarChart(
                (
                    ("base rate", base["log_loss"]),
                    ("shipped, raw", raw["log_loss"]),
                    ("shipped, calibrated", model["log_loss"]),
                    ("oracle", oracle["log_loss"]),
                ),
                title="Test-day log loss (lower is better)",
                value_format="{:.4f}",
            ),
            Text(lesson),
            Table(
                ("raw pCTR bin", "impressions", "raw mean", "calibrated mean", "observed CTR"),
                rel_rows,
                title="Reliability of the shipped model on the test day, before and after calibration",
            ),
            Table(
                ("pCTR used", "RPM", "vs oracle", "forecast error", "CPM wins", "clicks/1k"),
                auction_rows,
                title=f"{r.config.auctions:,} test-day auctions replayed with the shipped model's pCTR, scored with "
                "the true CTRs (expected revenue and clicks per 1000 requests; forecast: revenue the platform "
                "expected from its own pCTR)",
            ),
            BarChart(
                tuple((label, a[name]["rpm"]) for name, label in auction_names.items()),
                title="Revenue per 1000 requests",
                value_format="${:.2f}",
            ),
            Text(auction_lesson),
            Text(curse),
            Text(
                "Online: the offline numbers only pick what to test. The A/B test is on RPM with advertiser value "
                "(cost per click, conversions), ad load and latency as guardrails, and it wins over any offline "
                "metric; treatment and control compete for the same advertiser budgets, so split budgets or run "
                "the test long enough to see advertisers react."
            ),
        ),
    )


def _section_serving(r: CtrResults) -> Section:
    lat = r.latency
    lat_rows = tuple(
        (
            MODEL_LABELS[name],
            f"{values['p50']:.1f} ms",
            f"{values['p99']:.1f} ms",
            "within" if values["p99"] <= SCORING_BUDGET_MS else "over",
        )
        for name, values in lat.items()
    )
    s = r.served_traffic
    rec, cal = r.auction["recalibrated"], r.auction["calibrated"]
    slice_rows = tuple(
        (
            name,
            f"{values['impressions']:,.0f}",
            _pct(values["predicted_ctr"], 2),
            _pct(values["observed_ctr"], 2),
            f"{values['log_loss']:.4f}",
        )
        for name, values in r.slices.items()
    )
    daily_rows = tuple(
        (day, _pct(v["predicted"], 3), _pct(v["observed"], 3), f"{_rate(v['predicted'], v['observed']):.3f}")
        for day, v in r.daily_calibration.items()
    )
    new = r.slices["new ads"]
    forecast = "repairs" if abs(rec["forecast_error"]) < abs(cal["forecast_error"]) else "does not repair"
    refit = (
        f"The refit {forecast} the revenue forecast; CPM ads now win {_pct(rec['cpm_win_share'], 0)} of auctions "
        f"(was {_pct(cal['cpm_win_share'], 0)}, oracle {_pct(r.auction['oracle']['cpm_win_share'], 0)}) and RPM is "
        f"{_change(rec['rpm'], cal['rpm'])}."
    )
    if rec["rpm"] <= cal["rpm"]:
        refit += f" A refit from {s['clicks']:,.0f} clicks is itself noisy: serve longer before trusting it."
    new_share = _rate(new["impressions"], sum(values["impressions"] for values in r.slices.values()))
    return Section(
        "serving",
        (
            Table(
                ("scorer", "p50", "p99", f"vs {SCORING_BUDGET_MS:.0f} ms budget"),
                lat_rows,
                title=f"Scoring {LATENCY_CANDIDATES} candidate ads for one request, features included (one core)",
            ),
            Text(
                "Per request the user and context tokens are the same for every ad: production computes them once, "
                "keeps ad features and embeddings in memory and scores in compiled code; here each request builds "
                "its tokens and counters in Python."
            ),
            KeyValues(
                (
                    ("served impressions", f"{s['impressions']:,.0f} ({s['clicks']:,.0f} clicks)"),
                    (
                        "predicted vs observed CTR",
                        f"{_pct(s['predicted_ctr'], 2)} vs {_pct(s['observed_ctr'], 2)} "
                        f"({_rate(s['predicted_ctr'], s['observed_ctr']):.2f}×)",
                    ),
                    (
                        "test day after a Platt refit on them",
                        f"winners {rec['winner_calibration_ratio']:.2f}× (was {cal['winner_calibration_ratio']:.2f}×), "
                        f"revenue forecast error {_signed_pct(rec['forecast_error'], 0)} "
                        f"(was {_signed_pct(cal['forecast_error'], 0)}), "
                        f"RPM {_usd(rec['rpm'])} (was {_usd(cal['rpm'])})",
                    ),
                ),
                title="After launch: the shipped model runs the calibration day's sampled auctions itself",
            ),
            Text(
                f"{refit} Once the model picks the winners, the traffic it learns and calibrates from changes: "
                "recalibrate on the model's own recent impressions (hourly or daily) and alert on predicted ÷ "
                "observed CTR per surface, per advertiser tier and for new ads."
            ),
            Table(
                ("shipped model, test day", "impressions", "predicted CTR", "observed CTR", "log loss"),
                slice_rows,
                title="Cold start: ads never shown before the test day",
            ),
            Text(
                f"New ads make up {_pct(new_share, 1)} of impressions and are predicted at "
                f"{_pct(new['predicted_ctr'], 2)} against {_pct(new['observed_ctr'], 2)} "
                "observed: with no history the model falls back on the advertiser and category counters. In "
                "production: advertiser/category priors, a small exploration budget so new ads get impressions, and "
                "hourly counter updates."
            ),
            Table(
                ("day", "predicted CTR", "observed CTR", "ratio"),
                daily_rows,
                title="The chart to alert on: predicted ÷ observed, per day",
            ),
        ),
    )


def build_report(r: CtrResults) -> DemoReport:
    """Turn a ctr run's measurements into the seven-step report."""
    cfg = r.config
    m, v = r.shipped
    e = r.evaluation
    picks = {
        "model": e[m][v],
        "raw_model": e[m]["raw"],
        "base_rate": e["base_rate"]["raw"],
        "oracle": e["oracle"]["raw"],
    }
    metrics_json: dict[str, Any] = {
        key: {name: scores[key] for name, scores in picks.items()}
        for key in ("log_loss", "normalized_entropy", "auc", "ece", "calibration_ratio")
    }
    metrics_json |= {
        "shipped": {"model": m, "calibration": v},
        "by_model": e,
        "selection_log_loss": r.selection,
        "auction": r.auction,
        "served_traffic": r.served_traffic,
        "ablation": r.ablation,
        "hashing": r.hashing,
        "cold_start": r.slices,
        "daily_calibration": r.daily_calibration,
        "data": {
            "logged_ctr": _logged_ctr(r),
            "candidate_ctr": float(np.mean([d["candidate_true_ctr"] for d in r.days])),
            "base_rate": r.base_rate,
        }
        | r.train,
    }
    return DemoReport(
        scenario="ctr",
        title="mlsd demo ctr — ad click-through-rate prediction for a bid × pCTR auction",
        seed=cfg.seed,
        sections=(
            _section_clarify(r),
            _section_frame(r),
            _section_data(r),
            _section_features(r),
            _section_model(r),
            _section_evaluation(r),
            _section_serving(r),
        ),
        headline=Headline(
            metric="log_loss",
            model=e[m][v]["log_loss"],
            baseline=e["base_rate"]["raw"]["log_loss"],
            higher_is_better=False,
            model_name=f"{m}+{v}",
            baseline_name="base_rate",
        ),
        metrics=metrics_json,
        latency_ms={f"score_{LATENCY_CANDIDATES}_ads_{name}": dict(values) for name, values in r.latency.items()},
        params={
            "users": cfg.n_users,
            "ads": cfg.n_ads,
            "advertisers": cfg.n_advertisers,
            "sites": cfg.n_sites,
            "requests_per_day": cfg.requests_per_day,
            "days": cfg.days,
            "candidates": cfg.candidates,
            "negative_keep_rate": cfg.negative_keep_rate,
            "hash_buckets": cfg.hash_buckets,
            "auctions": cfg.auctions,
            "reserve_cpm": cfg.reserve_cpm,
            "lr_c": r.lr_c,
            "gbdt_trees": r.gbdt_iterations,
        },
    )


def run(options: DemoOptions, progress: ProgressCallback | None = None) -> DemoReport:
    """Entry point used by the demo registry: validate sizes, simulate, report."""
    return build_report(simulate_ctr(ctr_config(options), progress))
