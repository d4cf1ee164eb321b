"""Rankers and interleaving: the behaviour a user of the engine relies on."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlsd_coach.demo.ranking import GradientBoostedRanker, PopularityRanker, team_draft_interleave, top_k


def test_top_k_orders_best_first_and_breaks_ties_by_lower_index() -> None:
    assert top_k([0.1, 0.9, 0.5, 0.9], 3).tolist() == [1, 3, 2]
    rows = top_k(np.array([[1.0, 3.0, 2.0], [5.0, 4.0, 6.0]]), 2)
    assert rows.tolist() == [[1, 2], [2, 0]]
    wide = np.zeros(1000)
    wide[[700, 3, 999]] = [2.0, 1.0, 2.0]
    assert top_k(wide, 3).tolist() == [700, 999, 3]
    with pytest.raises(ValueError):
        top_k([1.0], 0)


def test_popularity_halves_old_engagements_and_refuses_the_future() -> None:
    ranker = PopularityRanker(half_life_days=1.0).fit([0, 1, 1], [9.0, 8.0, 9.0], now=10.0, n_items=3)
    assert ranker.predict([0, 1, 2]).tolist() == pytest.approx([0.5, 0.75, 0.0])
    assert ranker.recommend(2).tolist() == [1, 0]
    assert ranker.recommend(1, candidates=[0, 2]).tolist() == [0]
    with pytest.raises(ValueError, match="future"):
        PopularityRanker().fit([0], [10.0], now=10.0, n_items=1)
    with pytest.raises(ValueError):
        PopularityRanker(half_life_days=0)
    with pytest.raises(ValueError, match="not fitted"):
        PopularityRanker().recommend(3)


@pytest.fixture(scope="module")
def signal() -> tuple[np.ndarray, np.ndarray]:
    """Label driven by feature 0 (up) and feature 1 (down); feature 2 is noise."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6000, 3))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.5 * x[:, 1] - 1.0)))
    return x, rng.random(6000) < p


def test_gradient_boosted_ranker_learns_and_explains_the_signal(signal: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = signal
    ranker = GradientBoostedRanker(max_iter=60, n_threads=1, seed=0).fit(
        x[:5000], y[:5000], feature_names=["up", "down", "noise"]
    )
    assert roc_auc_score(y[5000:], ranker.predict(x[5000:])) > 0.8
    importance = ranker.feature_importance(x[5000:], y[5000:], n_repeats=2, seed=0)
    assert max(importance, key=importance.__getitem__) == "up"
    assert importance["noise"] < 0.01


def test_monotonic_constraints_hold_everywhere(signal: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = signal
    ranker = GradientBoostedRanker(max_iter=40, monotonic={"a": 1, "b": -1}, n_threads=1, seed=0)
    ranker.fit(x, y, feature_names=["a", "b", "c"])
    grid = np.zeros((50, 3))
    grid[:, 0] = np.linspace(-3, 3, 50)
    assert np.all(np.diff(ranker.predict(grid)) >= -1e-12)
    grid = np.zeros((50, 3))
    grid[:, 1] = np.linspace(-3, 3, 50)
    assert np.all(np.diff(ranker.predict(grid)) <= 1e-12)


def test_gradient_boosted_ranker_is_seeded(signal: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = signal
    first = GradientBoostedRanker(max_iter=30, n_threads=1, seed=4).fit(x, y).predict(x[:100])
    second = GradientBoostedRanker(max_iter=30, n_threads=1, seed=4).fit(x, y).predict(x[:100])
    assert np.array_equal(first, second)


@pytest.mark.parametrize(
    "params",
    [
        {"max_iter": 0},
        {"learning_rate": 0.0},
        {"max_leaf_nodes": 1},
        {"seed": -1},
        {"monotonic": {"a": 2}},
        {"n_threads": 0},
    ],
)
def test_gradient_boosted_ranker_refuses_bad_parameters(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        GradientBoostedRanker(**params)  # type: ignore[arg-type]


def test_gradient_boosted_ranker_refuses_bad_data(signal: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = signal
    with pytest.raises(ValueError, match="both classes"):
        GradientBoostedRanker().fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="unknown features"):
        GradientBoostedRanker(monotonic={"zzz": 1}).fit(x, y, feature_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="not fitted"):
        GradientBoostedRanker().predict(x)


def test_team_draft_interleaving_shares_the_list_fairly() -> None:
    rng = np.random.default_rng(0)
    first = np.array([[1, 2, 3, 4, 5, 6]] * 200)
    second = np.array([[11, 12, 13, 14, 15, 16]] * 200)
    merged, team = team_draft_interleave(first, second, rng)
    for row, teams in zip(merged, team, strict=True):
        assert len(set(row.tolist())) == 6
        assert abs(int(teams.sum()) - 3) <= 1
        # Each team contributes its own items, best first.
        assert row[teams == 0].tolist() == [1, 2, 3, 4, 5, 6][: int((teams == 0).sum())]
        assert row[teams == 1].tolist() == [11, 12, 13, 14, 15, 16][: int((teams == 1).sum())]
    # Who drafts first is a coin flip: the top slot goes to each side about half the time.
    assert 0.35 < team[:, 0].mean() < 0.65


def test_interleaving_identical_rankings_gives_that_ranking() -> None:
    same = np.array([[5, 4, 3, 2, 1]])
    merged, _ = team_draft_interleave(same, same, np.random.default_rng(1))
    assert merged.tolist() == same.tolist()
    with pytest.raises(ValueError):
        team_draft_interleave(same, same[:, :3], np.random.default_rng(1))
