"""Smoke tests of the training examples (batch size, early stopping, topology search, data parallel):
tiny settings, real assertions on what each ``main()`` returns."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import functional_nn as fnn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figure_written(path: str) -> bool:
    return Path(path).is_file() and Path(path).stat().st_size > 1000


def test_batch_size_counts_the_lectures_updates(tmp_path, capsys):
    result = _load("batch_size").main(num_train=200, num_epochs=3, hidden=4, out_dir=str(tmp_path))
    runs = result["runs"]
    assert runs["stochastic (K = 1)"]["updates_per_epoch"] == 200
    assert runs["mini-batch (K = 50)"]["updates_per_epoch"] == 4
    assert runs["batch (K = m)"]["updates_per_epoch"] == 1
    assert runs["stochastic (K = 1)"]["num_updates"] == 600
    assert all(0 < r["val_loss"] < 1 for r in runs.values())
    assert _figure_written(result["figure"])
    assert "updates/epoch" in capsys.readouterr().out


def test_early_stopping_returns_the_best_epoch(tmp_path):
    result = _load("early_stopping").main(
        num_epochs=300, patience=30, hidden=16, out_dir=str(tmp_path)
    )
    assert result["stopped_early"] and result["stopped_epoch"] == result["best_epoch"] + 30
    stopped, full = result["runs"].values()
    assert stopped["params_from_epoch"] == result["best_epoch"] and full["epochs_run"] == 300
    assert (
        stopped["val_loss"] <= full["val_loss"]
    )  # the best epoch's validation loss is the minimum
    assert _figure_written(result["figure"])


def test_topology_search_picks_a_width_by_validation(tmp_path):
    with pytest.warns(
        fnn.ConvergenceWarning, match="fit_many"
    ):  # 8 epochs is too few to stop early: it says so
        result = _load("topology_search").main(
            widths=(1, 16), seeds_per_width=1, num_epochs=8, patience=3, out_dir=str(tmp_path)
        )
    assert set(result["widths"]) == {1, 16}
    assert result["widths"][16]["val_loss"] < result["widths"][1]["val_loss"]
    assert result["chosen_width"] == 16 and result["test_accuracy"] > 0.8
    assert _figure_written(result["figure"])


def test_data_parallel_script_fakes_four_devices(tmp_path):
    # the suite's compile flags stay; the device count is the script's own doing
    assert "device_count" not in os.environ.get("XLA_FLAGS", "")
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "data_parallel.py"),
            "--devices",
            "4",
            "--num-epochs",
            "1",
            "--hidden",
            "8",
            "--batch-size",
            "32",
            "--out-dir",
            str(tmp_path),
        ],
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 devices (mesh 'data')" in done.stdout and "(8 rows per device)" in done.stdout
    diff = float(done.stdout.split("largest param difference ")[1].split(",")[0])
    assert diff <= 1e-5
    assert (tmp_path / "data_parallel.png").stat().st_size > 1000
