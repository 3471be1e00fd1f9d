"""The per-leaf report of :func:`functional_nn.check_gradients` (and ``compare_gradients``).

Verdict bands on the worse relative error: ``good`` (≤ 1e-7), ``suspect``
(≤ 1e-2), ``wrong`` (> 1e-2); a leaf with a coordinate whose computed
derivative lies outside the one-sided quotients at a kink is ``wrong``.
"""

from __future__ import annotations

import dataclasses
import math

GOOD, SUSPECT = 1e-7, 1e-2


@dataclasses.dataclass(frozen=True)
class KinkCheck:
    """One coordinate whose finite-difference stencil crossed (or sat on) a kink."""

    index: tuple  # the coordinate in its leaf
    left: float  # one-sided quotient from below, (J(θ) − J(θ − h e_i)) / h to O(h²)
    right: float  # one-sided quotient from above
    value: float  # the derivative under test at θ
    inside: bool  # value ∈ [min(left, right), max(left, right)] up to rounding


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The comparison for one leaf."""

    name: str  # e.g. "params[1].w" or "delta[0]"
    symbol: str  # the lecture's symbol, e.g. "w^2", "δ^1" ("" outside an MLP)
    shape: tuple[int, ...]
    abs_autodiff: float  # max |m − autodiff| (nan when there is no independent autodiff oracle)
    rel_autodiff: float  # max relative error vs autodiff (nan: no oracle)
    index_autodiff: tuple  # where rel_autodiff is reached
    abs_fd: float  # max |m − finite difference| over checked coordinates
    rel_fd: float
    index_fd: tuple
    fd_coords: int  # coordinates checked by finite differences
    kinks: int  # of those, how many crossed a kink (judged by one-sided quotients instead)
    kink_checks: tuple[KinkCheck, ...] = ()  # the crossings, worst first (at most a few kept)
    kinks_outside: int = 0  # crossings whose derivative lies outside the one-sided bracket

    @property
    def worst(self) -> float:
        rel = [r for r in (self.rel_autodiff, self.rel_fd) if not math.isnan(r)]
        return max(rel) if rel else 0.0

    @property
    def verdict(self) -> str:
        if self.kinks_outside:
            return "wrong"
        return "good" if self.worst <= GOOD else "suspect" if self.worst <= SUSPECT else "wrong"


def _fmt(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.1e}"


@dataclasses.dataclass(frozen=True)
class GradientReport:
    """Per-leaf comparison of a gradient under test with autodiff and finite differences.

    ``print(report)`` shows a table; ``report.ok`` is True when every leaf is
    good; ``report.assert_ok()`` raises naming the first failing leaf and index.
    """

    title: str
    loss_value: float
    leaves: tuple[LeafCheck, ...]
    subject: str = "manual backprop"  # what is under test, for the closing line

    @property
    def ok(self) -> bool:
        return all(leaf.verdict == "good" for leaf in self.leaves)

    @property
    def max_rel_autodiff(self) -> float:
        return max(
            (l.rel_autodiff for l in self.leaves if not math.isnan(l.rel_autodiff)),
            default=math.nan,
        )

    @property
    def max_rel_fd(self) -> float:
        return max(leaf.rel_fd for leaf in self.leaves)

    def failures(self) -> tuple[LeafCheck, ...]:
        return tuple(leaf for leaf in self.leaves if leaf.verdict != "good")

    def leaf(self, name: str) -> LeafCheck:
        """The check of the leaf called ``name``."""
        for leaf in self.leaves:
            if leaf.name == name:
                return leaf
        raise KeyError(f"no leaf named {name!r}; leaves: {', '.join(l.name for l in self.leaves)}")

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` naming each leaf that is not good, and where."""
        bad = self.failures()
        if bad:
            lines = [
                f"{leaf.name} ({leaf.symbol}) is {leaf.verdict}: rel err vs autodiff {_fmt(leaf.rel_autodiff)} "
                f"at {leaf.index_autodiff}, vs finite differences {leaf.rel_fd:.2e} at {leaf.index_fd}"
                + (
                    f", {leaf.kinks_outside} kink derivatives outside the one-sided bracket"
                    if leaf.kinks_outside
                    else ""
                )
                for leaf in bad
            ]
            raise AssertionError("gradient check failed:\n  " + "\n  ".join(lines))

    def as_dict(self) -> dict:
        """JSON-ready: title, J, ok and every leaf's fields (kink checks included)."""
        return {
            "title": self.title,
            "J": self.loss_value,
            "ok": self.ok,
            "leaves": [{**dataclasses.asdict(l), "verdict": l.verdict} for l in self.leaves],
        }

    def __str__(self) -> str:
        head = (
            "leaf",
            "symbol",
            "shape",
            "|m-ad|",
            "rel m-ad",
            "at",
            "|m-fd|",
            "rel m-fd",
            "at",
            "fd n",
            "kinks",
            "verdict",
        )
        rows = [head] + [
            (
                l.name,
                l.symbol,
                str(l.shape),
                _fmt(l.abs_autodiff),
                _fmt(l.rel_autodiff),
                str(l.index_autodiff),
                f"{l.abs_fd:.1e}",
                f"{l.rel_fd:.1e}",
                str(l.index_fd),
                str(l.fd_coords),
                str(l.kinks) + (f" ({l.kinks_outside} out)" if l.kinks_outside else ""),
                l.verdict,
            )
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
        kink_lines = [
            f"  kink at {l.name}{k.index}: one-sided quotients [{min(k.left, k.right):.6g}, "
            f"{max(k.left, k.right):.6g}], derivative {k.value:.6g}: "
            + ("inside the subdifferential" if k.inside else "OUTSIDE, wrong")
            for l in self.leaves
            for k in l.kink_checks
        ]
        oracles = (
            "jax.grad and finite differences"
            if any(not math.isnan(l.rel_autodiff) for l in self.leaves)
            else "finite differences"
        )
        verdict = (
            f"OK: {self.subject} matches {oracles}"
            if self.ok
            else ("MISMATCH: " + ", ".join(l.name for l in self.failures()))
        )
        return "\n".join(
            [
                self.title,
                f"J = {self.loss_value:.10g}",
                fmt(head),
                *map(fmt, rows[1:]),
                *kink_lines,
                verdict,
            ]
        )
