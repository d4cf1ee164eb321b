"""The feed demo's streaming pieces against brute force: decayed sums, the feature store's two
clocks, the trending list, the top-k helper and the unlogged audience behind each simulated user."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlsd_coach.demo.feed import (
    CounterPriors,
    DecayedSums,
    FeedFeatureStore,
    TrendingNow,
    audience_scale,
)
from mlsd_coach.demo.ranking import PopularityRanker
from mlsd_coach.demo.world import FeedWorldConfig, make_feed_world, rng_for, top_k_rows

TINY = FeedWorldConfig(n_users=300, n_items=2000, seed=5)


@pytest.fixture(scope="module")
def world_and_log():
    world = make_feed_world(TINY)
    log = world.simulate_old_feed(0.0, 3.0, rng_for(TINY.seed, "test/old-feed"))
    return world, log


def _brute_force_sums(keys, times, values, half_lives, query_keys, query_times):
    out = np.zeros((query_keys.size, values.shape[1]))
    for row, (key, when) in enumerate(zip(query_keys, query_times, strict=True)):
        before = (keys == key) & (times < when)
        ages = when - times[before]
        out[row] = (values[before] * 0.5 ** (ages[:, None] / half_lives[None, :])).sum(axis=0)
    return out


@pytest.mark.parametrize("time_ordered", [True, False])
def test_decayed_sums_match_brute_force(time_ordered: bool) -> None:
    rng = np.random.default_rng(0)
    n = 400
    keys = rng.integers(0, 12, n)
    times = 4.0 + rng.random(n)
    if time_ordered:
        times.sort()
    values = rng.random((n, 3))
    half_lives = np.array([3.0, 1.0, 0.125])
    sums = DecayedSums(keys, times, values, half_lives, origin=4.0)
    query_keys = rng.integers(0, 14, 60)  # includes keys with no events
    query_times = 4.0 + rng.random(60)
    query_times[:5] = times[:5]  # an event at the query's instant is not "before" it
    query_keys[:5] = keys[:5]
    expected = _brute_force_sums(keys, times, values, half_lives, query_keys, query_times)
    assert sums.at(query_keys, query_times) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_decayed_sums_refuse_events_outside_their_day() -> None:
    with pytest.raises(ValueError, match="one day"):
        DecayedSums(np.array([0]), np.array([5.5]), np.ones((1, 1)), np.array([1.0]), origin=4.0)


def test_live_counters_equal_the_snapshot_ingested_up_to_that_moment(world_and_log) -> None:
    """Reading with the stream at time t gives what a store that ingested every event before t would hold."""
    world, log = world_and_log
    priors = CounterPriors.from_log(log.between(0.0, 1.0), TINY.slate_size)
    store = FeedFeatureStore(world, priors)
    store.ingest(log.between(0.0, 1.0), 1.0)
    day = log.between(1.0, 2.0)
    live = store.live(day)
    moment = float(np.quantile(day.times, 0.6))
    reference = store.copy()
    reference.ingest(day.select(day.times < moment), moment)
    items = np.unique(day["item"])[:50].astype(np.int64)
    users = np.unique(day["user"])[:50].astype(np.int64)
    at = np.full(items.size, moment)
    assert store.lookup("item", items, at, live) == pytest.approx(reference.tables["item"][items], rel=1e-6, abs=1e-9)
    assert store.lookup("user", users, np.full(users.size, moment), live) == pytest.approx(
        reference.tables["user"][users], rel=1e-6, abs=1e-9
    )
    # Without the stream a read sees the morning's snapshot, untouched by the day's events.
    assert np.array_equal(store.lookup("item", items, at, None), store.tables["item"][items])


def test_the_store_refuses_out_of_order_batches(world_and_log) -> None:
    world, log = world_and_log
    store = FeedFeatureStore(world, CounterPriors.from_log(log.between(0.0, 1.0), TINY.slate_size))
    store.ingest(log.between(1.0, 2.0), 2.0)
    with pytest.raises(ValueError, match="time order"):
        store.ingest(log.between(0.0, 1.0), 3.0)


def test_trending_lists_use_only_events_before_each_refresh(world_and_log) -> None:
    world, log = world_and_log
    store = FeedFeatureStore(world, CounterPriors.from_log(log.between(0.0, 1.0), TINY.slate_size))
    store.ingest(log.between(0.0, 1.0), 1.0)
    day = log.between(1.0, 2.0)
    trending = TrendingNow(store, store.live(day), TINY.n_items, size=10, refresh_days=0.25)
    assert trending.lists.shape == (4, 10)
    for refresh in range(4):
        now = 1.0 + refresh * 0.25
        reference = store.copy()
        reference.ingest(day.select(day.times < now), now)
        trend = reference.tables["item"][: TINY.n_items, 4]
        expected = trend[trending.lists[refresh]]
        assert trending.scores[refresh] == pytest.approx(expected, rel=1e-6)
        assert trending.scores[refresh].min() >= np.sort(trend)[-10] * (1 - 1e-9)
    # A request gets the list of the last refresh before it.
    ids, _ = trending.at(np.array([1.0, 1.3, 1.99, 2.5]), k=3)
    assert np.array_equal(ids, trending.lists[[0, 1, 3, 3], :3])


def test_top_k_rows_is_a_stable_descending_sort() -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(0, 50, size=(7, 3000)).astype(float)  # many ties
    for k in (1, 5, 20, 3000, 5000):
        expected = np.argsort(-values, axis=1, kind="stable")[:, : min(k, 3000)]
        assert np.array_equal(top_k_rows(values, k), expected)
    assert np.array_equal(top_k_rows(np.array([0.1, 0.9, 0.5]), 2), [[1, 2]])
    with pytest.raises(ValueError):
        top_k_rows(values, 0)


def test_popularity_weights_count_an_event_several_times() -> None:
    items, times = np.array([0, 1, 1, 2]), np.array([0.5, 0.5, 0.9, 0.1])
    weighted = PopularityRanker(half_life_days=1.0).fit(items, times, now=1.0, n_items=3, weights=[3, 1, 1, 2])
    repeated = PopularityRanker(half_life_days=1.0).fit(
        np.repeat(items, [3, 1, 1, 2]), np.repeat(times, [3, 1, 1, 2]), now=1.0, n_items=3
    )
    assert weighted.predict([0, 1, 2]) == pytest.approx(repeated.predict([0, 1, 2]))
    with pytest.raises(ValueError, match="weights"):
        PopularityRanker().fit(items, times, now=1.0, n_items=3, weights=[1, -1, 1, 1])


def test_the_unlogged_audience_leaves_the_logged_columns_alone() -> None:
    alone = dataclasses.replace(TINY, audience_scale=1.0)
    crowd = dataclasses.replace(TINY, audience_scale=40.0)
    logs = [
        make_feed_world(config).simulate_old_feed(0.0, 2.0, rng_for(TINY.seed, "test/crowd"))
        for config in (alone, crowd)
    ]
    for column in ("user", "item", "position", "clicked", "engaged"):
        assert np.array_equal(logs[0][column], logs[1][column])
    assert logs[0]["crowd_clicks"].sum() == 0
    crowd_clicks, crowd_engaged = logs[1]["crowd_clicks"], logs[1]["crowd_engaged"]
    assert np.all(crowd_engaged <= crowd_clicks) and np.all(crowd_clicks <= 39)
    # 39 unlogged readers per impression click about 39 times as often as the logged one.
    ratio = crowd_clicks.sum() / logs[1]["clicked"].sum()
    assert 30 < ratio < 48
    with pytest.raises(ValueError, match="audience_scale"):
        dataclasses.replace(TINY, audience_scale=0.5)


def test_audience_scale_matches_the_prompts_readers_per_article() -> None:
    assert audience_scale(20_000, 100_000) > audience_scale(40_000, 100_000) >= 1
    assert audience_scale(10_000_000, 100_000) == 1
