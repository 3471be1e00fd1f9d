"""Killed and resumed (issue 13): a training subprocess SIGKILLed at seeded moments — inside a
checkpoint write and between segments, in ``fit`` with early stopping and in ``fit_many`` — and
resumed each time ends with the uninterrupted run's bits: params, optimizer state, history, best
params, best and stopped epoch."""

import importlib.util
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import functional_nn as fnn

WORKER = Path(__file__).with_name("_kill_resume_worker.py")
TIMEOUT = 120  # seconds any one subprocess may take: a hang fails the test, it never blocks CI


def _worker_module():
    spec = importlib.util.spec_from_file_location("_kill_resume_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start(directory: Path, out: Path, cache: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(Path(fnn.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
        JAX_PLATFORMS="cpu",
        # later processes load the compiled programs instead of compiling them again
        JAX_COMPILATION_CACHE_DIR=str(cache),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(directory), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _kill_at(process: subprocess.Popen, event: str, delay: float) -> list[str]:
    """Read the worker's events until ``event``, wait ``delay`` seconds, SIGKILL it; the events seen."""
    seen, deadline = [], time.monotonic() + TIMEOUT
    try:
        for line in process.stdout:
            seen.append(line.strip())
            if seen[-1] == event:
                time.sleep(delay)
                process.send_signal(signal.SIGKILL)
                break
            assert time.monotonic() < deadline, f"worker took over {TIMEOUT} s: {seen}"
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL, f"never reached {event!r}; saw {seen}"
    return seen


def test_sigkill_at_seeded_moments_then_resume_gives_the_uninterrupted_bits(tmp_path):
    worker = _worker_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fnn.ConvergenceWarning)
        reference = {
            f"{name}/{k}": v
            for name, (run, kwargs) in worker.runs().items()
            for k, v in worker.flatten(run(**kwargs)).items()
        }
    directory, out, cache = tmp_path / "ckpt", tmp_path / "result.npz", tmp_path / "jax_cache"
    directory.mkdir()
    rng = random.Random(13)
    # kill moments: inside a write (it pauses half-way), or after a segment's event plus a
    # seeded delay that lands in the next segment, the write or the time between
    kills = [
        ("writing fit 4", 0.05),
        (f"segment fit {rng.choice([6, 8])}", rng.uniform(0, 0.05)),
        (
            f"{rng.choice(['writing', 'segment'])} fit_many {rng.choice([4, 6])}",
            rng.uniform(0, 0.05),
        ),
    ]
    for event, delay in kills:
        seen = _kill_at(_start(directory, out, cache), event, delay)
        if event.startswith("writing"):  # killed inside the write: its temporary file is left
            run = event.split()[1]
            assert any(p.name.endswith(".tmp") for p in (directory / run).iterdir()), seen
    final = _start(directory, out, cache)
    try:
        stdout, _ = final.communicate(timeout=TIMEOUT)
    finally:
        if final.poll() is None:
            final.kill()
            final.wait()
    assert final.returncode == 0 and stdout.strip().endswith("done"), stdout
    resumed = dict(np.load(out))
    assert sorted(resumed) == sorted(reference)
    for name, want in reference.items():
        got = resumed[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), f"{name} differs after kill and resume"
