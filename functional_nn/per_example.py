r"""Per-example gradients by hand, checked against ``vmap(grad)`` and against the batch gradient.

The manual ones are :func:`functional_nn.backprop.per_example_backward`
(``a_k^{l−1} ⊗ δ_k^l`` with the batch factor divided out); the oracle is
``jax.vmap`` of ``jax.grad`` of the batch-of-one loss. Their mean over ``k``
(``Σ_k ω_k g_k``, ``ω_k = 1/K``) must be the batch gradient of ``J``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from functional_nn import backprop
from functional_nn._gradcheck_report import GOOD, SUSPECT
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Params

__all__ = ["PerExampleLeaf", "PerExampleReport", "check_per_example"]


@dataclasses.dataclass(frozen=True)
class PerExampleLeaf:
    name: str
    shape: tuple[int, ...]  # (batch, *leaf shape)
    rel_vmap: float  # max relative error vs vmap(grad)
    index: tuple  # (example, *coordinate) where it is reached
    rel_sum: float  # max relative error of mean_k g_k vs the batch gradient

    @property
    def verdict(self) -> str:
        worst = max(self.rel_vmap, self.rel_sum)
        return "good" if worst <= GOOD else "suspect" if worst <= SUSPECT else "wrong"


@dataclasses.dataclass(frozen=True)
class PerExampleReport:
    title: str
    leaves: tuple[PerExampleLeaf, ...]

    @property
    def ok(self) -> bool:
        return all(l.verdict == "good" for l in self.leaves)

    def failures(self):
        return tuple(l for l in self.leaves if l.verdict != "good")

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "ok": self.ok,
            "leaves": [{**dataclasses.asdict(l), "verdict": l.verdict} for l in self.leaves],
        }

    def __str__(self) -> str:
        rows = [
            ("leaf", "shape", "rel vs vmap(grad)", "at (k, ...)", "rel mean_k vs batch", "verdict")
        ] + [
            (l.name, str(l.shape), f"{l.rel_vmap:.1e}", str(l.index), f"{l.rel_sum:.1e}", l.verdict)
            for l in self.leaves
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        end = (
            "OK: per-example gradients match vmap(grad) and average to the batch gradient"
            if self.ok
            else "MISMATCH: " + ", ".join(l.name for l in self.failures())
        )
        return "\n".join([self.title, *lines, end])


def _rel(m, r, floor):
    return np.abs(m - r) / np.maximum(np.abs(m) + np.abs(r), floor)


@functools.lru_cache(maxsize=32)
def _compiled(net: MLP, loss: str, per_example_fn):
    J = backprop.objective(net, loss)

    def all_of(params, x, y):
        _, manual = per_example_fn(net, loss, params, x, y)
        one = lambda xk, yk: jax.grad(J)(params, xk[None], yk[None])
        return manual, jax.vmap(one)(x, y), jax.grad(J)(params, x, y)

    return jax.jit(all_of)


def check_per_example(
    net: MLP, loss: str, params: Params, x, y, *, per_example_fn=None
) -> PerExampleReport:
    """Hand per-example gradients (``per_example_fn``, default the library's) vs ``vmap(grad)``, in float64.

    Args:
        net, loss, params, x, y: as for :func:`functional_nn.value_and_grad`.
        per_example_fn: ``(net, loss, params, x, y) -> (values, grads)`` under test.
    """
    backprop.check_setup(net, loss)
    per_example_fn = per_example_fn or backprop.per_example_backward
    with float64_mode():
        params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        x, y = backprop.check_batch(net, loss, params, jnp.asarray(np.asarray(x), jnp.float64), y)
        manual, auto, batch = _compiled(net, loss, per_example_fn)(params, x, y)
        paths = [
            jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]
        ]
        leaves = []
        tiny = np.finfo(np.float64).tiny
        scale = max(float(np.max(np.abs(a))) for a in jax.tree.leaves(auto))
        bscale = max(float(np.max(np.abs(a))) for a in jax.tree.leaves(batch))
        for p, m, a, b in zip(
            paths, jax.tree.leaves(manual), jax.tree.leaves(auto), jax.tree.leaves(batch)
        ):
            m, a, b = np.asarray(m), np.asarray(a), np.asarray(b)
            rel = _rel(m, a, 1e-6 * scale + tiny)
            i = int(np.argmax(rel))
            rel_sum = float(np.max(_rel(m.mean(axis=0), b, 1e-6 * bscale + tiny)))
            leaves.append(
                PerExampleLeaf(
                    f"params{p}",
                    m.shape,
                    float(rel.max()),
                    tuple(int(j) for j in np.unravel_index(i, m.shape)),
                    rel_sum,
                )
            )
        title = (
            f"Per-example gradient check: MLP {net.layer_sizes} {'/'.join(net.activation_names)}, loss {loss}, "
            f"batch {x.shape[0]}, float64"
        )
        return PerExampleReport(title, tuple(leaves))
