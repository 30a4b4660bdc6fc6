"""Tests run on real PostgreSQL: the embedded server (started here if needed),
or the server named by DATABASE_URL."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("DATABASE_URL"):
        from archive import embedded_db

        embedded_db.start()


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


@pytest.fixture
def empty_cache():
    """Django's cache starts and ends empty: it holds the rate limiter's
    counters (archive/middleware.py), which must not carry from test to test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def corpus_dir() -> str:
    """The shared corpus beside the checkout (CI clones next to ../shared)."""
    path = os.environ.get("DEMO_CORPUS") or os.path.join(SHARED, "corpus")
    if not os.path.isdir(path):
        pytest.fail(f"corpus folder not found at {path}; set DEMO_CORPUS")
    return os.path.abspath(path)


@pytest.fixture
def seeds_dir() -> str:
    path = os.path.join(SHARED, "seeds")
    if not os.path.isdir(path):
        pytest.fail(f"seeds folder not found at {path}")
    return os.path.abspath(path)
