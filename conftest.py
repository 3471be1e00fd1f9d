"""Strict test setup: warnings are errors (pyproject); every test gets its own keys.

Keys are derived from the test's id, so a test sees the same keys whatever runs
before it and on whichever pytest-xdist worker it lands.
"""

import itertools
import zlib

import jax
import pytest
from hypothesis import settings

settings.register_profile("ci", deadline=None, max_examples=25, print_blob=True)
settings.load_profile("ci")


def _seed(request, salt: str = "") -> int:
    return zlib.crc32((request.node.nodeid + salt).encode()) % 2 ** 31


@pytest.fixture
def key(request):
    """A ``jax.random`` key of this test's own."""
    return jax.random.key(_seed(request))


@pytest.fixture
def getkey(request):
    """Hands out a new key on every call, for tests that need several."""
    base = jax.random.key(_seed(request, "getkey"))
    counter = itertools.count()
    return lambda: jax.random.fold_in(base, next(counter))
