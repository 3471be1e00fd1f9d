"""Strict test setup: warnings are errors (pyproject), every test gets fresh keys."""

import itertools

import jax
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=25, print_blob=True)
settings.load_profile("ci")

_counter = itertools.count()


@pytest.fixture
def key():
    """A fresh ``jax.random`` key per test (deterministic across runs)."""
    return jax.random.key(next(_counter))


@pytest.fixture
def getkey():
    """Hands out a new key on every call, for tests that need several."""
    base = jax.random.key(10_000 + next(_counter))
    counter = itertools.count()
    return lambda: jax.random.fold_in(base, next(counter))
