"""Shared fixtures: an isolated user data folder for every test, and small content helpers."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own MLSD_HOME and no user content folder, so no test touches the real ones."""
    home = tmp_path_factory.mktemp("mlsd-home")
    monkeypatch.setenv("MLSD_HOME", str(home))
    monkeypatch.delenv("MLSD_CONTENT", raising=False)
    return home


@pytest.fixture(scope="session")
def catalog():  # type: ignore[no-untyped-def]
    """The shipped content, loaded once."""
    from mlsd_coach.catalog import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def scorer(catalog):  # type: ignore[no-untyped-def]
    """One warm scorer over the shipped content."""
    from mlsd_coach.scoring import Scorer

    scorer = Scorer(catalog)
    scorer.warm_up()
    return scorer
