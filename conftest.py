"""Strict test setup: warnings are errors (pyproject); every test gets its own keys.

Keys are derived from the test's id, so a test sees the same keys whatever runs
before it and on whichever pytest-xdist worker it lands.
"""

import itertools
import os
import shutil
import tempfile
import zlib

# The suite compiles some thousand small XLA programs and runs each for milliseconds, so
# compile time is most of its time. Two settings buy it back without changing what runs:
# - XLA's CPU backend at optimization level 0 (LLVM's codegen passes off) halves the CPU
#   time of each compile; the programs compute the same IEEE operations (fast-math is off
#   at every level), and every comparison in the suite is within one process or carries
#   its own tolerance;
# - one persistent compilation cache for the whole run, shared by the pytest-xdist workers
#   and the subprocesses they start (CLI, examples, benchmarks), so a program compiled once
#   is loaded, not compiled again, wherever else it appears.
# Both are set before jax starts, and only where the caller has not chosen otherwise.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # The controller makes the directory; the workers inherit its environment.
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="fnn-test-jax-cache-")
    os.environ["FNN_TEST_CACHE_OWNER"] = str(os.getpid())
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

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


def pytest_unconfigure(config):
    if os.environ.get("FNN_TEST_CACHE_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
