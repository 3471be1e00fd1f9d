"""The Taylor-remainder sweep as a figure (matplotlib, optional; conventions of :mod:`functional_nn.plots`)."""

from __future__ import annotations

import os

import numpy as np

from functional_nn.plots import _finish, _new_figure

__all__ = ["taylor_sweep"]


def taylor_sweep(report, *, path: str | os.PathLike | None = None, title: str | None = None):
    """``r(h)`` against ``h`` on log–log axes, one line per leaf, the fitted window bold, slopes 1 and 2 dotted.

    Args:
        report: a :class:`functional_nn.taylor.TaylorReport`.
        path: where to save the figure (optional).
    Returns:
        The :class:`~matplotlib.figure.Figure`.
    """
    fig = _new_figure(6.5, 4.5)
    ax = fig.add_subplot()
    for leaf in report.leaves:
        positive = leaf.remainder > 0
        (line,) = ax.loglog(leaf.h[positive], leaf.remainder[positive], lw=1, alpha=0.6)
        if leaf.used.any():
            ax.loglog(
                leaf.h[leaf.used],
                leaf.remainder[leaf.used],
                lw=3,
                color=line.get_color(),
                label=f"{leaf.name}: order {leaf.order:.2f} ({leaf.verdict})",
            )
    h = np.concatenate([l.h for l in report.leaves])
    r = np.concatenate([l.remainder[l.remainder > 0] for l in report.leaves])
    if r.size:
        h_ref = np.geomspace(h.min(), h.max(), 10)
        mid = float(np.median(r))
        ax.loglog(h_ref, mid * (h_ref / np.median(h)) ** 2, "k:", lw=0.8, label="slope 2")
        ax.loglog(h_ref, mid * (h_ref / np.median(h)), "k--", lw=0.8, label="slope 1")
    ax.set_xlabel("h")
    ax.set_ylabel("r(h) = |J(θ + h d) − J(θ) − h ⟨g, d⟩|")
    ax.set_title(title or report.title, fontsize=8)
    ax.legend(fontsize=6)
    return _finish(fig, path)
