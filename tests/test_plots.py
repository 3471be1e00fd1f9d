"""functional_nn.plots: each figure's content, saving, input checks, and life without matplotlib."""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from functional_nn import MLP, plots  # noqa: E402


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


HISTORY = {
    "train_loss": np.linspace(1.0, 0.1, 12),
    "val_loss": np.r_[np.linspace(1.0, 0.3, 8), np.linspace(0.35, 0.5, 4)],
    "train_accuracy": np.linspace(0.5, 1.0, 12),
    "val_accuracy": np.linspace(0.5, 0.9, 12),
}


def test_loss_curves_marks_the_best_validation_epoch_and_saves(tmp_path):
    path = tmp_path / "nested" / "loss.png"
    fig = plots.loss_curves(HISTORY, path=path, title="run")
    assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"
    loss_ax, acc_ax = fig.axes[:2]
    lines = _lines(loss_ax)
    np.testing.assert_allclose(lines["training"].get_ydata(), HISTORY["train_loss"])
    np.testing.assert_allclose(lines["validation"].get_xdata(), np.arange(1, 13))
    best = lines["best epoch 8"]  # argmin of val_loss is index 7, epoch 8
    assert best.get_xdata()[0] == 8 and best.get_ydata()[0] == pytest.approx(0.3)
    assert acc_ax.get_ylabel() == "accuracy"
    assert fig._suptitle.get_text() == "run"


def test_loss_curves_accepts_a_namedtuple_without_validation_and_an_explicit_best_epoch():
    class History(NamedTuple):
        train_loss: np.ndarray
        val_loss: np.ndarray | None

    fig = plots.loss_curves(History(np.array([3.0, 2.0, 1.0]), None), best_epoch=2, log_scale=True)
    (ax,) = fig.axes
    assert set(_lines(ax)) >= {"training", "best epoch 2"}
    assert "validation" not in _lines(ax)
    assert ax.get_yscale() == "log"


def test_loss_curves_rejects_a_history_without_losses():
    with pytest.raises(ValueError, match="train_loss"):
        plots.loss_curves({"train_accuracy": [0.5, 0.6]})
    with pytest.raises(TypeError, match="history must be a mapping"):
        plots.loss_curves([1.0, 2.0])


def test_decision_boundary_colours_the_regions_of_a_known_classifier(tmp_path):
    # a hand-made linear classifier: class 1 where x1 > 0, so the boundary is the x2 axis
    x = np.array([[-1.0, 0.0], [1.0, 0.5], [-2.0, 1.0], [2.0, -1.0]])
    y = np.array([0, 1, 0, 1])
    seen = []

    def predict(grid):
        seen.append(grid.shape)
        return np.stack([-grid[:, 0], grid[:, 0]], axis=1)

    fig = plots.decision_boundary(predict, x, y, resolution=30, path=tmp_path / "db.png")
    assert seen == [(900, 2)]
    ax = fig.axes[0]
    points = ax.collections[-1]
    np.testing.assert_allclose(points.get_offsets(), x)
    np.testing.assert_array_equal(points.get_array(), y)
    assert (tmp_path / "db.png").exists()


def test_decision_boundary_with_one_sigmoid_output_and_a_real_network(key):
    net = MLP((2, 6, 1), activation="tanh", output_activation="sigmoid")
    params = net.init(key)
    x = jax.random.normal(key, (40, 2))
    y = (x[:, :1] > 0).astype(jnp.float32)  # (n, 1) 0/1 targets are accepted
    fig = plots.decision_boundary(lambda g: net.apply(params, g), x, y, resolution=20)
    assert len(fig.axes) == 2  # the plot and the P(class 1) colour bar


@pytest.mark.parametrize(
    "x, y, match",
    [
        (np.zeros((4, 3)), np.zeros(4, int), r"shape \(n, 2\)"),
        (np.zeros((4, 2)), np.zeros(3, int), "n=4"),
        (np.zeros((4, 2)), np.array([0.5, 1.0, 0.0, 1.0]), "class labels"),
    ],
)
def test_decision_boundary_rejects_bad_data(x, y, match):
    with pytest.raises(ValueError, match=match):
        plots.decision_boundary(lambda g: np.zeros((g.shape[0], 2)), x, y, resolution=5)


@pytest.mark.parametrize(
    "resolution, error, match",
    [
        (1, ValueError, "resolution must be >= 2, got 1"),
        (2.5, TypeError, "resolution must be an int"),
    ],
)
def test_decision_boundary_rejects_a_bad_resolution(resolution, error, match):
    with pytest.raises(error, match=match):
        plots.decision_boundary(
            lambda g: np.zeros((g.shape[0], 2)),
            np.zeros((4, 2)),
            np.zeros(4, int),
            resolution=resolution,
        )


def test_decision_boundary_rejects_a_predict_of_the_wrong_shape():
    with pytest.raises(ValueError, match="predict must map"):
        plots.decision_boundary(
            lambda g: np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(4, int), resolution=5
        )


def test_activation_functions_draw_the_hand_derivatives(tmp_path):
    fig = plots.activation_functions(
        ("sigmoid", "relu"), x_range=(-2.0, 2.0), num_points=5, path=tmp_path / "act.svg"
    )
    sig, relu = fig.axes[:2]
    assert sig.get_title() == "sigmoid"
    xs = np.linspace(-2.0, 2.0, 5)
    s = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(_lines(sig)["f(x)"].get_ydata(), s, rtol=1e-6)
    np.testing.assert_allclose(_lines(sig)["f'(x)"].get_ydata(), s * (1 - s), rtol=1e-6)
    # relu' jumps from 0 to 1 at the kink: drawn with a gap, not a vertical segment
    assert np.isnan(_lines(relu)["f'(x)"].get_ydata()).sum() == 1
    assert (tmp_path / "act.svg").read_text().lstrip().startswith("<?xml")


def test_activation_functions_default_gallery_and_refusals():
    fig = plots.activation_functions()
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == list(plots.PLOT_ACTIVATIONS)
    with pytest.raises(ValueError, match="not elementwise"):
        plots.activation_functions(("softmax",))
    with pytest.raises(ValueError, match="unknown activation"):
        plots.activation_functions(("swish",))
    with pytest.raises(ValueError, match="x_range"):
        plots.activation_functions(x_range=(1.0, -1.0))


def test_gradient_norms_bars_for_a_snapshot_and_lines_over_time():
    fig = plots.gradient_norms([1e-4, 1e-2, 1.0])
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [1e-4, 1e-2, 1.0]
    assert ax.get_yscale() == "log"
    fig = plots.gradient_norms(np.ones((5, 2)), labels=["in", "out"], xlabel="step")
    assert set(_lines(fig.axes[0])) == {"in", "out"}
    with pytest.raises(ValueError, match="labels has 1 names for 2 layers"):
        plots.gradient_norms(np.ones((5, 2)), labels=["in"])
    with pytest.raises(ValueError, match="shape"):
        plots.gradient_norms(np.ones((2, 2, 2)))


def test_learning_rate_comparison_marks_divergence():
    runs = {
        0.01: [1.0, 0.9, 0.8],
        0.1: {"train_loss": [1.0, 0.5, 0.2]},
        10.0: [1.0, np.inf, np.nan],
    }
    fig = plots.learning_rate_comparison(runs)
    curves, finals = fig.axes
    assert "α = 10 (diverged)" in _lines(curves)
    final = _lines(finals)["final train_loss"]
    np.testing.assert_allclose(final.get_xdata(), [0.01, 0.1])
    np.testing.assert_allclose(final.get_ydata(), [0.8, 0.2])
    assert finals.get_xscale() == "log"


def test_learning_rate_comparison_with_labels_and_bad_input():
    fig = plots.learning_rate_comparison(
        {"constant": [1.0, 0.5], "c1/(k+c2)": [1.0, 0.4]}, log_scale=False
    )
    assert len(fig.axes) == 1
    with pytest.raises(ValueError, match="no 'val_loss'"):
        plots.learning_rate_comparison({0.1: {"train_loss": [1.0]}}, metric="val_loss")
    with pytest.raises(ValueError, match="non-empty"):
        plots.learning_rate_comparison({})


def test_module_imports_without_matplotlib_and_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    fresh = importlib.reload(sys.modules["functional_nn.plots"])
    try:
        with pytest.raises(ImportError, match=r"functional-nn\[plot\]"):
            fresh.loss_curves(HISTORY)
        assert fresh.PLOT_ACTIVATIONS == plots.PLOT_ACTIVATIONS  # the module itself still imports
    finally:
        monkeypatch.undo()
        importlib.reload(sys.modules["functional_nn.plots"])
