r"""Figures for training runs and for the lecture's pictures (matplotlib, optional).

``pip install 'functional-nn[plot]'`` installs matplotlib. This module imports
without it; each figure function imports matplotlib when called and raises an
``ImportError`` naming the ``plot`` extra when it is missing.

Figures are built with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: nothing global is touched (no backend switch, no list of open
figures to leak), and saving renders with the Agg (PNG) canvas, so the
functions work on a machine without a display.

Every function returns the :class:`~matplotlib.figure.Figure` and, given
``path=``, also writes it there (parent folders are created; the format follows
the suffix: ``.png``, ``.pdf``, ``.svg``).

Examples:
    >>> from functional_nn import plots
    >>> fig = plots.loss_curves(result.history, path="out/loss_curves.png")
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from functional_nn._validate import check_int

if TYPE_CHECKING:  # only for annotations; matplotlib stays optional
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure

__all__ = [
    "loss_curves",
    "decision_boundary",
    "activation_functions",
    "gradient_norms",
    "learning_rate_comparison",
    "PLOT_ACTIVATIONS",
]

#: The elementwise activations :func:`activation_functions` draws by default
#: (softmax is vector-valued; the lecture draws it as a table, not a curve).
PLOT_ACTIVATIONS = ("linear", "threshold", "sigmoid", "tanh", "relu", "leaky_relu")

_MISSING = (
    "functional_nn.plots needs matplotlib, which is not installed; "
    "install the plot extra: pip install 'functional-nn[plot]'"
)


def _new_figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(_MISSING) from err
    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        fig.savefig(path, dpi=120)
    return fig


def _history_dict(history: Any, name: str = "history") -> dict[str, np.ndarray]:
    """A history as ``{metric: 1-D float array}`` from a mapping, NamedTuple or dataclass."""
    if isinstance(history, Mapping):
        items = dict(history)
    elif hasattr(history, "_asdict"):
        items = history._asdict()
    elif dataclasses.is_dataclass(history) and not isinstance(history, type):
        items = {f.name: getattr(history, f.name) for f in dataclasses.fields(history)}
    else:
        raise TypeError(
            f"{name} must be a mapping of metric name to per-epoch values (or a NamedTuple/dataclass "
            f"of them), got {type(history).__name__}"
        )
    out = {}
    for key, value in items.items():
        if value is None or isinstance(value, (str, bytes)):
            continue
        arr = np.asarray(value)
        if arr.ndim == 1 and arr.size and np.issubdtype(arr.dtype, np.number):
            out[str(key)] = arr.astype(float)
    return out


def _epochs(h: dict[str, np.ndarray], n: int) -> np.ndarray:
    epochs = h.get("epoch", h.get("epochs"))
    if epochs is not None and epochs.shape == (n,):
        return epochs
    return np.arange(1, n + 1, dtype=float)


def _first_present(h: Mapping[str, np.ndarray], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in h), None)


def loss_curves(
    history: Any,
    *,
    best_epoch: int | None = None,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    log_scale: bool = False,
) -> Figure:
    """Training and validation loss per epoch, the best epoch marked; accuracy beside it if recorded.

    Args:
        history: per-epoch values by name, e.g. ``FitResult.history`` or
            ``{"train_loss": [...], "val_loss": [...]}``. Recognized names:
            ``train_loss`` (or ``loss``), ``val_loss``, ``train_accuracy``,
            ``val_accuracy`` and optionally ``epoch`` (default ``1..n``).
        best_epoch: the epoch to mark (1-based, as on the axis); default the
            epoch of the smallest finite ``val_loss`` when there is one.
        path: where to save the figure (optional).
        title: the figure's title.
        log_scale: a logarithmic loss axis.
    Returns:
        The figure: one panel for the losses, a second for accuracies if present.
    """
    h = _history_dict(history)
    train_key = _first_present(h, ("train_loss", "loss"))
    if train_key is None and "val_loss" not in h:
        raise ValueError(
            f"history has no 'train_loss' or 'val_loss' entry; it has {sorted(h) or 'nothing numeric'}"
        )
    n = len(h[train_key or "val_loss"])
    epochs = _epochs(h, n)
    if best_epoch is None and "val_loss" in h and np.isfinite(h["val_loss"]).any():
        best_epoch = int(
            epochs[np.nanargmin(np.where(np.isfinite(h["val_loss"]), h["val_loss"], np.nan))]
        )
    acc_keys = [k for k in ("train_accuracy", "val_accuracy") if k in h]
    fig = _new_figure(10.0 if acc_keys else 6.0, 4.0)
    axes = fig.subplots(1, 2 if acc_keys else 1, squeeze=False)[0]
    ax = axes[0]
    for key, label, style in ((train_key, "training", "-"), ("val_loss", "validation", "--")):
        if key is not None and key in h:
            ax.plot(epochs[: len(h[key])], h[key], style, label=label)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1)
        fallback = h.get(train_key) if train_key else None
        curve = h.get("val_loss", fallback) if train_key or "val_loss" in h else None
        at = np.flatnonzero(epochs == best_epoch)
        if curve is not None and at.size and at[0] < len(curve):
            ax.plot([best_epoch], [curve[at[0]]], "o", color="C3", label=f"best epoch {best_epoch}")
        else:
            ax.plot([], [], ":", color="0.4", label=f"best epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss J")
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if acc_keys:
        ax = axes[1]
        for key, label, style in (
            ("train_accuracy", "training", "-"),
            ("val_accuracy", "validation", "--"),
        ):
            if key in h:
                ax.plot(epochs[: len(h[key])], h[key], style, label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def decision_boundary(
    predict: Callable[[np.ndarray], Any],
    x: ArrayLike,
    y: ArrayLike,
    *,
    path: str | os.PathLike | None = None,
    resolution: int = 200,
    margin: float = 0.1,
    title: str | None = None,
) -> Figure:
    """The regions a 2-D classifier assigns to each class, with the data on top.

    Args:
        predict: ``(g, 2) -> (g, C)`` class scores/probabilities (the arg-max is
            the class), or ``(g, 1)`` / ``(g,)`` probabilities of class 1 (the
            boundary is 0.5), e.g. ``lambda x: net.apply(params, x)``.
        x: ``(n, 2)`` inputs.
        y: ``(n,)`` integer labels, ``(n, C)`` one-hot rows or ``(n, 1)`` 0/1 targets.
        resolution: grid points per axis.
        margin: padding around the data, as a fraction of its range.
        path, title: as in :func:`loss_curves`.
    Returns:
        The figure.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2) for a decision boundary, got {x.shape}")
    labels = _labels(y, x.shape[0])
    resolution = check_int("resolution", resolution, 2)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    g0, g1 = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution),
    )
    grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
    scores = np.asarray(predict(grid), dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != grid.shape[0]:
        raise ValueError(
            f"predict must map (g, 2) to (g, C) or (g,), got {scores.shape} for g={grid.shape[0]}"
        )
    fig = _new_figure(5.5, 4.8)
    ax = fig.subplots()
    num_classes = max(int(labels.max()) + 1, scores.shape[1], 2)
    if scores.shape[1] == 1:
        # one output: colour by the probability of class 1, draw its 0.5 level set
        p = scores[:, 0].reshape(g0.shape)
        filled = ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        fig.colorbar(filled, ax=ax, label="P(class 1)")
        if p.min() < 0.5 < p.max():
            ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.5)
        cmap: str | Colormap = "RdBu_r"
    else:
        from matplotlib.colors import ListedColormap

        regions = scores.argmax(axis=1).reshape(g0.shape)
        # class c gets colour Cc on the regions and on the points alike
        cmap = ListedColormap([f"C{c % 10}" for c in range(num_classes)])
        levels = np.arange(num_classes + 1) - 0.5
        ax.contourf(
            g0, g1, regions, levels=levels, cmap=cmap, vmin=-0.5, vmax=num_classes - 0.5, alpha=0.35
        )
        if regions.min() != regions.max():
            ax.contour(g0, g1, regions, levels=levels, colors="k", linewidths=0.8)
    ax.scatter(
        x[:, 0],
        x[:, 1],
        c=labels,
        cmap=cmap,
        vmin=0 if scores.shape[1] == 1 else -0.5,
        vmax=1 if scores.shape[1] == 1 else num_classes - 0.5,
        edgecolors="k",
        linewidths=0.5,
        s=22,
    )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title or "decision boundary")
    return _finish(fig, path)


def _labels(targets: ArrayLike, n: int) -> np.ndarray:
    y = np.asarray(targets)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    if y.shape != (n,):
        raise ValueError(
            f"y must be (n,) labels, (n, C) one-hot or (n, 1) targets with n={n}, got shape {y.shape}"
        )
    if (
        not np.all(np.isfinite(y.astype(float)))
        or np.any(y.astype(float) != np.round(y.astype(float)))
        or (y.size and y.min() < 0)
    ):
        raise ValueError(
            "y must hold class labels 0..C-1 (a decision boundary is for classification)"
        )
    return y.astype(int)


def activation_functions(
    names: Sequence[str] = PLOT_ACTIVATIONS,
    *,
    x_range: tuple[float, float] = (-5.0, 5.0),
    negative_slope: float = 0.1,
    path: str | os.PathLike | None = None,
    num_points: int = 401,
) -> Figure:
    """Each activation beside its hand-written derivative, one panel per function.

    The derivatives are the module's own (``get_activation(name).derivative``),
    not autodiff: the figure shows what the manual backward pass multiplies by.

    Args:
        names: elementwise activation names (default :data:`PLOT_ACTIVATIONS`).
        x_range: the interval drawn.
        negative_slope: leaky ReLU's slope for ``x < 0`` (0.1 so it is visible).
        path: where to save the figure (optional).
        num_points: samples on the interval.
    Returns:
        The figure.
    """
    import jax.numpy as jnp

    from functional_nn.activations import get_activation

    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise ValueError("names must list at least one activation")
    acts = [get_activation(name, negative_slope=negative_slope) for name in names]
    for act in acts:
        if act.derivative is None:
            raise ValueError(
                f"activation {act.name!r} is not elementwise and has no scalar derivative to draw; "
                f"choose from {', '.join(PLOT_ACTIVATIONS)}"
            )
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high, got {x_range!r}")
    xs = jnp.linspace(lo, hi, num_points)
    cols = min(3, len(acts))
    rows = math.ceil(len(acts) / cols)
    fig = _new_figure(3.6 * cols, 2.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, act in zip(axes, acts):
        f = np.asarray(act.fn(xs))
        assert act.derivative is not None  # checked above
        df = np.asarray(act.derivative(xs))
        # a jump is drawn as a gap, not as a vertical line through the kink
        ax.plot(np.asarray(xs), _with_gaps(f), label="f(x)")
        ax.plot(np.asarray(xs), _with_gaps(df), "--", label="f'(x)")
        ax.axhline(0, color="0.7", linewidth=0.6)
        ax.axvline(0, color="0.7", linewidth=0.6)
        ax.set_title(act.name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(acts) :]:
        ax.set_visible(False)
    return _finish(fig, path)


def _with_gaps(values: np.ndarray, jump: float = 0.5) -> np.ndarray:
    out = values.astype(float).copy()
    steps = np.abs(np.diff(out)) > jump
    out[1:][steps] = np.nan
    return out


def gradient_norms(
    norms: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    log_scale: bool = True,
    xlabel: str = "epoch",
    title: str | None = None,
) -> Figure:
    """Per-layer gradient norms: a bar per layer for one snapshot, or one curve per layer over time.

    Vanishing gradients show as norms that shrink towards the input layer.

    Args:
        norms: ``(L,)`` norms of one gradient (see
            :func:`functional_nn.diagnostics.gradient_norms`), or ``(steps, L)``
            norms over epochs/steps (e.g. a history's ``grad_norms``).
        labels: one name per layer (default ``"layer 1" ... "layer L"``).
        path: where to save the figure (optional).
        log_scale: a logarithmic norm axis (non-positive values are left out).
        xlabel: the time axis' label for ``(steps, L)`` input.
        title: the figure's title.
    Returns:
        The figure.
    """
    norms = np.asarray(norms, dtype=float)
    if norms.ndim not in (1, 2) or norms.size == 0:
        raise ValueError(f"norms must have shape (L,) or (steps, L), got {norms.shape}")
    num_layers = norms.shape[-1]
    labels = [f"layer {l}" for l in range(1, num_layers + 1)] if labels is None else list(labels)
    if len(labels) != num_layers:
        raise ValueError(f"labels has {len(labels)} names for {num_layers} layers")
    fig = _new_figure(6.0, 4.0)
    ax = fig.subplots()
    if norms.ndim == 1:
        ax.bar(np.arange(num_layers), norms, color="C0")
        ax.set_xticks(np.arange(num_layers), labels)
        ax.set_xlabel("layer")
    else:
        steps = np.arange(1, norms.shape[0] + 1)
        for l in range(num_layers):
            ax.plot(steps, norms[:, l], label=labels[l])
        ax.set_xlabel(xlabel)
        ax.legend()
    if log_scale and np.any(norms > 0):
        ax.set_yscale("log")
    ax.set_ylabel(r"$\|\partial J / \partial (w^l, b^l)\|$")
    ax.grid(alpha=0.3)
    ax.set_title(title or "gradient norm per layer")
    return _finish(fig, path)


def learning_rate_comparison(
    runs: Mapping[Any, Any],
    *,
    metric: str = "train_loss",
    path: str | os.PathLike | None = None,
    log_scale: bool = True,
    title: str | None = None,
) -> Figure:
    """Loss curves for several learning rates and, for numeric rates, the final loss against α.

    A run whose loss becomes NaN/inf is marked "diverged" (the lecture's "α too high").

    Args:
        runs: ``{learning_rate: history}`` where a history is a mapping/NamedTuple
            holding ``metric``, or directly a 1-D sequence of per-epoch values.
        metric: which history entry to draw (e.g. ``"train_loss"``, ``"val_loss"``).
        path: where to save the figure (optional).
        log_scale: logarithmic loss axes.
        title: the figure's title.
    Returns:
        The figure: curves on the left; final value vs α (log axis) on the right
        when every key is a positive number.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            "runs must be a non-empty mapping {learning_rate: history or per-epoch values}"
        )
    curves = {}
    for rate, run in runs.items():
        if isinstance(run, Mapping) or hasattr(run, "_asdict") or dataclasses.is_dataclass(run):
            h = _history_dict(run, f"runs[{rate!r}]")
            if metric not in h:
                raise ValueError(f"runs[{rate!r}] has no {metric!r}; it has {sorted(h)}")
            curves[rate] = h[metric]
        else:
            values = np.asarray(run, dtype=float)
            if values.ndim != 1 or values.size == 0:
                raise ValueError(
                    f"runs[{rate!r}] must be a history or 1-D per-epoch values, got shape {values.shape}"
                )
            curves[rate] = values
    numeric = all(
        isinstance(r, (int, float, np.number)) and not isinstance(r, bool) and r > 0 for r in curves
    )
    fig = _new_figure(10.0 if numeric else 6.0, 4.0)
    axes = fig.subplots(1, 2 if numeric else 1, squeeze=False)[0]
    ax = axes[0]
    for i, (rate, values) in enumerate(curves.items()):
        diverged = not np.all(np.isfinite(values))
        shown = np.where(np.isfinite(values), values, np.nan)
        label = f"α = {rate:g}" if numeric else str(rate)
        ax.plot(
            np.arange(1, len(values) + 1),
            shown,
            color=f"C{i % 10}",
            label=label + (" (diverged)" if diverged else ""),
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    if log_scale and any(np.any(np.asarray(v)[np.isfinite(v)] > 0) for v in curves.values()):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if numeric:
        ax = axes[1]
        rates = np.asarray([float(r) for r in curves], dtype=float)
        finals = np.asarray([v[-1] for v in curves.values()], dtype=float)
        ok = np.isfinite(finals)
        order = np.argsort(rates[ok])
        ax.plot(rates[ok][order], finals[ok][order], "o-", label=f"final {metric}")
        if (~ok).any():
            top = np.max(finals[ok]) if ok.any() else 1.0
            ax.plot(
                rates[~ok],
                np.full((~ok).sum(), top),
                "x",
                color="C3",
                markersize=10,
                label="diverged",
            )
        ax.set_xscale("log")
        if log_scale and ok.any() and np.all(finals[ok] > 0):
            ax.set_yscale("log")
        ax.set_xlabel("learning rate α")
        ax.set_ylabel(f"final {metric}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or "learning-rate comparison")
    return _finish(fig, path)
