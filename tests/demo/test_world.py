"""The synthetic-world helpers and the feed world's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from mlsd_coach.demo.world import (
    EventLog,
    FeedWorld,
    FeedWorldConfig,
    examination_probability,
    make_feed_world,
    rng_for,
    sample_without_replacement,
    time_split,
    zipf_weights,
)

# --- generic helpers --------------------------------------------------------------------------------


def test_named_streams_are_reproducible_and_independent() -> None:
    assert rng_for(3, "users").random(4).tolist() == rng_for(3, "users").random(4).tolist()
    assert rng_for(3, "users").random(4).tolist() != rng_for(3, "items").random(4).tolist()
    assert rng_for(3, "users").random(4).tolist() != rng_for(4, "users").random(4).tolist()
    with pytest.raises(ValueError):
        rng_for(-1, "users")


def test_sampling_without_replacement_is_distinct_and_follows_the_weights() -> None:
    rng = np.random.default_rng(0)
    weights = np.array([0.0, 1.0, 2.0, 7.0])
    draws = [sample_without_replacement(weights, 3, rng) for _ in range(200)]
    assert all(len(set(d.tolist())) == 3 and 0 not in d for d in draws)
    first = np.bincount([int(sample_without_replacement(weights, 1, rng)[0]) for _ in range(4000)], minlength=4)
    assert first / first.sum() == pytest.approx(weights / weights.sum(), abs=0.03)
    assert sample_without_replacement(weights, 10, rng).size == 3  # only three can be drawn


def test_time_split_and_event_logs() -> None:
    times = np.array([0.5, 2.5, 1.5, 3.5])
    train, test = time_split(times, 2.0, end_time=3.0)
    assert train.tolist() == [True, False, True, False]
    assert test.tolist() == [False, True, False, False]
    with pytest.raises(ValueError):
        time_split(times, 2.0, end_time=1.0)
    log = EventLog({"time": times, "user": np.array([1, 2, 3, 4])})
    assert len(log) == 4
    assert log.between(1.0, 3.0)["user"].tolist() == [2, 3]
    assert log.sorted_by_time()["user"].tolist() == [1, 3, 2, 4]
    assert len(EventLog.concat([log, log.select([0])])) == 5
    with pytest.raises(ValueError, match="differ in length"):
        EventLog({"time": times, "user": np.array([1])})
    with pytest.raises(ValueError, match="'time'"):
        EventLog({"user": np.array([1])})


def test_position_bias_and_zipf_weights() -> None:
    assert examination_probability([1, 2, 4], 1.0).tolist() == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError):
        examination_probability([0], 1.0)
    weights = zipf_weights(5, 1.0)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(np.diff(weights) < 0)


# --- the feed world ---------------------------------------------------------------------------------

TINY = FeedWorldConfig(n_users=400, n_items=3000, seed=1)


@pytest.fixture(scope="module")
def world() -> FeedWorld:
    return make_feed_world(TINY)


def test_same_config_same_world(world: FeedWorld) -> None:
    again = make_feed_world(TINY)
    assert np.array_equal(world.item_embedding, again.item_embedding)
    assert np.array_equal(world.user_signup, again.user_signup)


def test_catalog_is_published_before_the_split_and_later_articles_after(world: FeedWorld) -> None:
    published = world.item_published
    assert np.all(np.diff(published) >= 0)
    assert published[: TINY.n_items].max() < TINY.split_time
    assert published[TINY.n_items :].min() >= TINY.split_time
    assert world.n_items_total == TINY.n_items + TINY.n_later_items


def test_clickbait_draws_clicks_but_not_reads(world: FeedWorld) -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, TINY.n_users, 20_000)
    items = rng.integers(0, TINY.n_items, 20_000)
    times = np.full(20_000, TINY.split_time)
    bait = world.item_clickbait[items]
    clicks = world.click_logit(users, items, times)
    reads = world.dwell_margin(users, items, np.zeros(20_000, bool), np.full(20_000, 12.0))
    assert clicks[bait].mean() > clicks[~bait].mean()
    assert reads[bait].mean() < reads[~bait].mean() - 1.0
    probability = world.engagement_probability(users, items, times, np.zeros(20_000, bool), np.full(20_000, 12.0))
    assert np.all((probability >= 0) & (probability <= 1))


def test_old_feed_logs_are_consistent(world: FeedWorld) -> None:
    log = world.simulate_old_feed(0.0, 2.0, rng_for(1, "test"))
    assert len(log) > 0
    assert np.all(log.times >= world.item_published[log["item"]])  # nothing shown before it exists
    assert np.all(log.times >= world.user_signup[log["user"]])
    assert np.all(log["engaged"] <= log["clicked"])
    assert np.array_equal(log["engaged"], log["clicked"] & (log["dwell"] > TINY.engaged_dwell_seconds))
    keys = log["session"] * world.n_items_total + log["item"]
    assert np.unique(keys).size == len(log)  # an article appears once per slate
    first_slot = np.unique(log["session"], return_index=True)[1]
    assert np.all(log["position"][first_slot] == 1)
    # Position bias: the top slot is clicked more than the last one even in shuffled slates.
    shuffled = log.select(log["explore"])
    assert shuffled["clicked"][shuffled["position"] == 1].mean() > shuffled["clicked"][shuffled["position"] >= 8].mean()


def test_reading_the_catalog_and_the_oracle(world: FeedWorld) -> None:
    users = np.arange(50)
    times = np.full(50, TINY.split_time + 0.5)
    reading = world.read_catalog(
        users, times, np.zeros(50, bool), np.full(50, 9.0), np.full(50, 5), 20, rng_for(1, "r")
    )
    assert all(c.size == 5 and np.unique(c).size == 5 for c in reading.clicked)
    assert all(set(e.tolist()) <= set(c.tolist()) for e, c in zip(reading.engaged, reading.clicked, strict=True))
    assert np.all(reading.oracle_top < TINY.n_items)
    assert np.all(np.diff(reading.oracle_scores, axis=1) <= 0)
    # The oracle's scores are the truth's engagement probabilities.
    truth = world.engagement_probability(
        np.repeat(users, 20), reading.oracle_top.ravel(), np.repeat(times, 20), np.zeros(1000, bool), np.full(1000, 9.0)
    )
    assert np.allclose(truth, reading.oracle_scores.ravel(), atol=1e-4)


def test_serving_sessions_never_reopen_an_article(world: FeedWorld) -> None:
    ranked = np.tile(np.arange(20), (30, 1))
    clicked, engaged = world.serve_sessions(
        np.arange(30), ranked, np.full(30, 6), TINY.split_time, TINY.end_time, rng_for(1, "s")
    )
    assert clicked.shape == engaged.shape == (30, 20)
    assert np.all(engaged <= clicked)


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError):
        FeedWorldConfig(n_users=0)
    with pytest.raises(ValueError):
        FeedWorldConfig(train_days=1)
    with pytest.raises(ValueError):
        FeedWorldConfig(new_user_share=0.6, late_user_share=0.5)
