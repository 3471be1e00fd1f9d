"""The ``functional-nn`` command line, run in-process through ``main([...])`` with tiny settings."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import functional_nn as fnn
from functional_nn.cli import main

# the default data set (digits) is scikit-learn's; figures need matplotlib (only one test draws them)
pytest.importorskip("sklearn")

# in-process runs stay off the persistent cache: JAX opens its cache folder once per process, so the
# cache is tested in a subprocess (test_train_fills_the_persistent_compilation_cache)
QUIET = ["--no-cache", "--no-progress"]
TINY = ["--epochs", "3", "--hidden", "4", *QUIET]
CACHE_FLAGS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache")


@pytest.fixture(autouse=True)
def restore_jax_cache_config():
    """``train`` sets process-wide JAX cache flags; put them back after each test."""
    saved = {name: getattr(jax.config, name) for name in CACHE_FLAGS}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


# --- help and usage ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "gradcheck", "proofs", "info"])
def test_every_subcommand_has_help(capsys, command):
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: functional-nn {command}")


def test_top_level_help_lists_the_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("train", "gradcheck", "proofs", "info"):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"functional-nn {fnn.__version__}"


def test_no_command_is_a_one_line_usage_error(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "functional-nn: error: choose a command: train, gradcheck, proofs or info "
        "(see 'functional-nn --help')"
    ]


# --- train --------------------------------------------------------------------------------


def test_train_on_a_2d_toy_set_writes_history_checkpoint_and_figures(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(
        sys.stderr, "isatty", lambda: True
    )  # as on a terminal: the progress bar is drawn
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        "moons",
        "--samples",
        "60",
        "--hidden",
        "5",
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--no-cache",
        "--out-dir",
        out_dir,
    )
    assert code == 0, err
    assert "epoch" in err  # tqdm's bar
    assert "network   2-5-1: tanh hidden, sigmoid output, binary_cross_entropy" in out
    for row in ("train", "validation", "test", "epochs run  4 of 4", "best epoch", "wall time"):
        assert row in out
    assert set(os.listdir(out_dir)) == {
        "history.csv",
        "history.json",
        "summary.json",
        "checkpoint.npz",
        "loss_curves.png",
        "gradient_norms.png",
        "decision_boundary.png",
    }

    with open(out_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert {
        "train_loss",
        "val_loss",
        "val_accuracy",
        "learning_rate",
        "grad_norms_layer1",
        "grad_norms_layer2",
    } <= set(rows[0])
    history = json.loads((out_dir / "history.json").read_text())
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history["val_loss"])
    assert history["learning_rate"] == pytest.approx([0.1] * 4)

    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["epochs_run"] == 4 and summary["network"]["layer_sizes"] == [2, 5, 1]
    assert summary["dataset"]["task"] == "classification"
    assert 0 <= summary["metrics"]["test"]["metric"] <= 1
    # the printed table shows the same numbers as the summary
    assert f"{summary['metrics']['validation']['loss']:.4f}" in out

    ckpt = fnn.load_checkpoint(out_dir / "checkpoint.npz")
    assert ckpt.network == fnn.MLP((2, 5, 1), activation="tanh", output_activation="sigmoid")
    assert ckpt.metadata["best_epoch"] == summary["best_epoch"]
    assert len(ckpt.metadata["input_mean"]) == 2
    np.testing.assert_allclose(ckpt.history["train_loss"], history["train_loss"])


def test_train_defaults_to_the_digits_with_a_softmax_head(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "train",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--batch-size",
        "full",
        "--no-figures",
        *QUIET,
        "--out-dir",
        tmp_path,
    )
    assert code == 0, err
    assert "data      digits: 1797 examples" in out and "C = 10 classes" in out
    assert "network   64-8-10: tanh hidden, softmax output, categorical_cross_entropy" in out
    assert "full batch" in out
    assert "loss_curves.png" not in os.listdir(tmp_path)


def test_inverse_time_schedule_reaches_fit_per_epoch(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "train",
        "--dataset",
        "xor_quadrants",
        "--samples",
        "40",
        *TINY,
        "--no-figures",
        "--schedule",
        "inverse-time",
        "--c1",
        "2",
        "--c2",
        "4",
        "--decay-per",
        "epoch",
        "--out-dir",
        tmp_path,
    )
    assert code == 0, err
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["learning_rate"] == pytest.approx([2 / 4, 2 / 5, 2 / 6])  # α_k = c1 / (k + c2)


def test_train_reads_a_csv_file_and_trains_with_adam(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    labels = np.where(x[:, 0] > 0, "yes", "no")
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c", "answer"])
        writer.writerows([*row, label] for row, label in zip(x.round(4), labels))
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        path,
        *TINY,
        "--no-figures",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.02",
        "--out-dir",
        tmp_path / "out",
    )
    assert code == 0, err
    assert "data      table: 30 examples" in out and "network   3-4-1" in out
    assert "training  adam, α = 0.02" in out
    out_dir = tmp_path / "out"
    assert json.loads((out_dir / "summary.json").read_text())["dataset"]["class_names"] == [
        "no",
        "yes",
    ]
    # optax.inject_hyperparams makes Adam's step size visible in the history
    assert json.loads((out_dir / "history.json").read_text())["learning_rate"] == pytest.approx(
        [0.02] * 3
    )


def test_train_regression_from_npz_with_momentum_and_the_schedule(capsys, tmp_path):
    path = tmp_path / "points.npz"
    x = np.linspace(-1, 1, 30, dtype=np.float32)[:, None]
    np.savez(
        path, x=x, y=1000 + 500 * x
    )  # float targets far from unit scale: trained in standard units
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        path,
        "--hidden",
        "none",
        "--epochs",
        "3",
        *QUIET,
        "--method",
        "autodiff",
        "--optimizer",
        "momentum",
        "--schedule",
        "inverse-time",
        "--c1",
        "1",
        "--c2",
        "10",
        "--no-figures",
        "--out-dir",
        tmp_path / "out",
    )
    assert code == 0, err
    assert (
        "1 feature (standardized on the training part); regression on 1 target (standardized)"
        in out
    )
    assert "network   1-1: linear output, mse; gradients by jax.grad" in out
    assert "rmse (data units)" in out
    out_dir = tmp_path / "out"
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["dataset"]["task"] == "regression" and summary["metrics"]["train"]["metric"] > 0
    # k counts epochs: α_0 = c1 / c2 for every update of the first epoch
    assert json.loads((out_dir / "history.json").read_text())["learning_rate"] == pytest.approx(
        [1 / 10, 1 / 11, 1 / 12]
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--dataset", "mnoons"], "unknown data set 'mnoons' (did you mean 'moons'?)"),
        (["--dataset", "missing.csv"], "unknown data set 'missing.csv'"),
        (["--hidden", "64,x"], "argument --hidden: expected comma-separated positive integers"),
        (["--hidden", "64,-1"], "argument --hidden"),
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer"),
        (["--val-fraction", "1.5"], "argument --val-fraction: expected a fraction in [0, 1)"),
        (
            ["--val-fraction", "0.6", "--test-fraction", "0.5"],
            "--val-fraction + --test-fraction must be < 1",
        ),
        (["--patience", "3", "--val-fraction", "0"], "--patience needs a validation part"),
        (["--activation", "swish"], "unknown activation 'swish'"),
        (["--activation", "relu,tanh,sigmoid"], "--activation lists 3 names for 2 hidden layers"),
        (
            ["--loss", "binary_cross_entropy", "--output-activation", "softmax"],
            "--loss binary_cross_entropy needs --output-activation in sigmoid",
        ),
        (
            ["--schedule", "inverse-time", "--learning-rate", "0.1"],
            "--learning-rate is a constant rate",
        ),
        (["--optimizer", "rmsprop"], "argument --optimizer: invalid choice: 'rmsprop'"),
        (["--output-activation", "threshold"], "threshold has zero derivative almost everywhere"),
        (["--dataset", "xor", "--activation", "threshold"], "cannot train through layer 1"),
        (
            ["--dataset", "line", "--loss", "categorical_cross_entropy"],
            "this data set is regression",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_status_2(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "train", *argv, *QUIET, "--out-dir", tmp_path)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("functional-nn train: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_out_dir_that_is_a_file_is_refused(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "train", *QUIET, "--out-dir", blocker)
    assert code == 2 and "exists and is not a folder" in err


def test_a_diverging_run_says_so_and_exits_1(capsys, tmp_path):
    code, out, err = run(
        capsys,
        "train",
        "--dataset",
        "line",
        "--hidden",
        "none",
        "--learning-rate",
        "1000",
        "--epochs",
        "20",
        "--no-figures",
        *QUIET,
        "--out-dir",
        tmp_path,
    )
    assert code == 1, err
    assert "fit       diverged in epoch" in out and "α is too high" in out
    assert json.loads((tmp_path / "summary.json").read_text())["diverged"] is True


def test_debug_shows_the_traceback_instead():
    with pytest.raises(ValueError, match="unknown data set"):
        main(["--debug", "train", "--dataset", "nope", *QUIET])


# --- gradcheck ----------------------------------------------------------------------------


def test_gradcheck_prints_the_report_and_exits_0(capsys):
    code, out, err = run(
        capsys,
        "gradcheck",
        "--layers",
        "3,4,2",
        "--loss",
        "categorical_cross_entropy",
        "--activation",
        "tanh",
        "--batch",
        "3",
        "--seed",
        "1",
    )
    assert code == 0, err
    assert "MLP (3, 4, 2) tanh/softmax, loss categorical_cross_entropy, batch 3" in out
    for leaf in ("params[0].w", "params[1].b", "delta[1]"):
        assert leaf in out
    assert "OK: manual backprop matches jax.grad and finite differences" in out


def test_gradcheck_exits_1_and_names_the_leaf_when_a_check_fails(capsys, monkeypatch):
    # a report with one wrong leaf, as compare_gradients returns for a broken backward pass
    # (the real comparison is exercised above and in tests/test_gradcheck.py)
    from functional_nn.gradcheck import GradientReport, LeafCheck

    wrong = LeafCheck(
        name="params[0].w",
        symbol="w^1",
        shape=(2, 3),
        abs_autodiff=1e-2,
        rel_autodiff=5e-3,
        index_autodiff=(0, 1),
        abs_fd=1e-2,
        rel_fd=5e-3,
        index_fd=(0, 1),
        fd_coords=6,
        kinks=0,
    )
    calls = []

    def fake_compare(net, loss, params, x, y, **options):
        calls.append((net.layer_sizes, loss, x.shape, y.shape))
        return GradientReport("Gradient check: stand-in", 0.5, (wrong,))

    monkeypatch.setattr(fnn, "compare_gradients", fake_compare)
    code, out, _ = run(capsys, "gradcheck", "--layers", "2,3,1", "--batch", "5")
    assert code == 1
    assert calls == [((2, 3, 1), "mse", (5, 2), (5, 1))]
    assert "MISMATCH: params[0].w" in out


def test_gradcheck_usage_errors(capsys):
    code, _, err = run(capsys, "gradcheck", "--layers", "3")
    assert code == 2 and "at least two sizes" in err
    code, _, err = run(
        capsys, "gradcheck", "--loss", "binary_cross_entropy", "--output-activation", "linear"
    )
    assert code == 2 and len(err.splitlines()) == 1 and "binary_cross_entropy" in err


# --- proofs -------------------------------------------------------------------------------


def test_proofs_prints_the_ledger_as_table_and_json(capsys):
    ledger = pytest.importorskip("proofs.ledger")
    rows = ledger.ledger()
    code, out, _ = run(capsys, "proofs", "--width", "120")
    assert code == 0
    assert [cell.strip() for cell in out.splitlines()[0].split("|")][:3] == ["id", "line", "status"]
    assert all(row.id[:20] in out for row in rows)  # long ids wrap inside their column
    code, out, _ = run(capsys, "proofs", "--json", "--status", "erratum")
    items = json.loads(out)
    assert [item["id"] for item in items] == [row.id for row in rows if row.status == "erratum"]


def test_proofs_run_reports_each_check_and_exits_1_on_a_failure(capsys, monkeypatch):
    ledger = pytest.importorskip("proofs.ledger")
    code, out, _ = run(capsys, "proofs", "--run", "--status", "historical", "--json")
    assert code == 0
    assert {item["result"] for item in json.loads(out)} == {
        "reference"
    }  # nothing to run for history

    def broken(check):
        def fails():
            raise AssertionError(f"{check} is wrong")

        return fails

    monkeypatch.setattr(ledger, "check_function", broken)
    code, out, _ = run(capsys, "proofs", "--run", "--status", "convention")
    assert code == 1
    n = sum(1 for row in ledger.ledger() if row.status == "convention")
    assert f"0 pass, {n} FAIL, 0 reference ({n} rows)" in out


def test_proofs_without_the_proofs_package_says_so(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "proofs", None)
    monkeypatch.setitem(sys.modules, "proofs.ledger", None)
    code, _, err = run(capsys, "proofs")
    assert code == 2
    assert err.splitlines() == [
        "functional-nn proofs: error: the proofs are not importable: the 'proofs' package "
        "ships with the source tree of functional_nn; run from a checkout (or install one) "
        "to see the ledger"
    ]


# --- info -----------------------------------------------------------------------------------


def test_info_shows_versions_backend_and_devices(capsys):
    code, out, _ = run(capsys, "info")
    assert code == 0
    assert f"jax            {jax.__version__}" in out
    assert f"JAX backend               {jax.default_backend()}" in out
    assert "float64 (jax_enable_x64)" in out and "compilation cache" in out
    code, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert info["functional_nn"] == fnn.__version__
    assert info["versions"]["numpy"] == np.__version__
    assert len(info["devices"]) == jax.device_count()
    assert info["x64"] is False


# --- the installed console script and the compilation cache ---------------------------------


def test_installed_console_script_help():
    # on PATH, or beside this interpreter (a virtual environment's bin/ that is not activated)
    search = os.pathsep.join([os.environ.get("PATH", ""), str(Path(sys.executable).parent)])
    script = shutil.which("functional-nn", path=search)
    if script is None:
        pytest.skip("the functional-nn console script is not on PATH (package not installed)")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: functional-nn")


def test_train_fills_the_persistent_compilation_cache(tmp_path):
    # a fresh process: JAX picks its cache folder once per process
    cache = tmp_path / "cache"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "functional_nn.cli",
            "train",
            "--dataset",
            "xor",
            "--hidden",
            "2",
            "--epochs",
            "1",
            "--val-fraction",
            "0",
            "--test-fraction",
            "0",
            "--no-figures",
            "--no-progress",
            "--cache-dir",
            str(cache),
            "--out-dir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert f"compilation cache {cache}" in done.stdout
    assert any(cache.iterdir())


def test_gradcheck_every_method_as_json(capsys):
    code, out, err = run(
        capsys,
        "gradcheck",
        "--layers",
        "3,4,2",
        "--activation",
        "tanh",
        "--batch",
        "3",
        "--taylor",
        "--hvp",
        "--per-example",
        "--dtype",
        "bfloat16",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] and set(result) == {
        "ok",
        "seed",
        "gradients",
        "taylor",
        "hvp",
        "per_example",
        "rounding",
    }
    assert [l["verdict"] for l in result["taylor"]["leaves"]] == ["good"] * 4
    assert result["rounding"]["dtype"] == "bfloat16" and all(
        l["within"] for l in result["rounding"]["leaves"]
    )
    # the configuration above in float64: its compiled checks are reused
    code, out, _ = run(
        capsys, "gradcheck", "--layers", "3,4,2", "--activation", "tanh", "--batch", "3", "--taylor"
    )
    assert code == 0 and "Taylor remainder test" in out and "OK: the remainder falls like h²" in out
