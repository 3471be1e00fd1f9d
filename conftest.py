"""Strict test setup: warnings are errors (pyproject); every test gets its own keys.

Keys are derived from the test's id, so a test sees the same keys whatever runs
before it and on whichever pytest-xdist worker it lands.
"""

import importlib.metadata
import itertools
import os
import shutil
import tempfile
import zlib

# The suite compiles some thousand small XLA programs and runs each for milliseconds, so
# compile time is most of its time. Three settings buy it back without changing what runs:
# - XLA's CPU backend at optimization level 0 (LLVM's codegen passes off) halves the CPU
#   time of each compile; the programs compute the same IEEE operations (fast-math is off
#   at every level), and every comparison in the suite is within one process or carries
#   its own tolerance;
# - XLA's CPU fusions emitted by the classic elemental emitter rather than the newer fusion
#   emitters (`xla_cpu_use_fusion_emitters=false`): every compile, above all the ~30 ms fixed
#   cost of each eager primitive's, takes about a third less time (the suite: 327 s -> 242 s
#   on 2 cores). The flag is given only to the jaxlib it was measured on (0.10), because XLA
#   aborts on a flag it does not know;
# - one persistent compilation cache for the whole run, shared by the pytest-xdist workers
#   and the subprocesses they start (CLI, examples, benchmarks), so a program compiled once
#   is loaded, not compiled again, wherever else it appears.
# All are set before jax starts, and only where the caller has not chosen otherwise.
_FLAGS = {"xla_backend_optimization_level": "0"}
if importlib.metadata.version("jaxlib").split(".")[:2] == ["0", "10"]:
    _FLAGS["xla_cpu_use_fusion_emitters"] = "false"
for _name, _value in _FLAGS.items():
    if _name not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --{_name}={_value}").strip()
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
    return zlib.crc32((request.node.nodeid + salt).encode()) % 2**31


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


def pytest_xdist_make_scheduler(config, log):
    """Each test module runs whole on one pytest-xdist worker, the modules with most tests first.

    A module's tests share compiled programs (jit caches, eager primitives of the same
    shapes) and module-scoped fixtures (a launch of several processes, the benchmark run,
    a served playground); on one worker each is compiled or computed once, not once per
    worker. Largest first, the short modules fill the end of the run on both workers.
    """
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid.split("::", 1)[0]

    return ByModule(config, log)


def pytest_unconfigure(config):
    if os.environ.get("FNN_TEST_CACHE_OWNER") == str(os.getpid()):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
