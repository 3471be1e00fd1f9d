"""Is my hand-derived gradient of a softplus layer with a log-cosh loss right?

Question: outside the MLP, for ``J(w, b) = mean_k Σ_c log cosh(softplus(x_k w + b)_c − y_kc)``,
does the gradient derived by hand,

    ∂J/∂o = (1/K) tanh(softplus(o) − y) ⊙ σ(o),   ∂J/∂w = xᵀ ∂J/∂o,   ∂J/∂b = Σ_k ∂J/∂o_k,

agree with ``jax.grad`` and finite differences, leaf by leaf? And does a planted
mistake (σ(−o) instead of σ(o), softplus'(o) mistaken) show up, on which leaves,
and with which Taylor order?

Command:
    python examples/custom_gradient.py --out-dir out/custom_gradient
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

import functional_nn as fnn
from functional_nn.flags import parse_flags


def loss(params, x, y):
    o = x @ params["w"] + params["b"]
    return jnp.mean(jnp.sum(jnp.log(jnp.cosh(jax.nn.softplus(o) - y)), axis=1))


def grad_right(params, x, y):
    o = x @ params["w"] + params["b"]
    d_o = jnp.tanh(jax.nn.softplus(o) - y) * jax.nn.sigmoid(o) / x.shape[0]  # softplus' = σ
    return {"w": x.T @ d_o, "b": d_o.sum(0)}


def grad_wrong(params, x, y):
    o = x @ params["w"] + params["b"]
    d_o = jnp.tanh(jax.nn.softplus(o) - y) * jax.nn.sigmoid(-o) / x.shape[0]  # planted: σ(−o)
    return {"w": x.T @ d_o, "b": d_o.sum(0)}


def main(
    *,
    seed: int = 0,
    n_in: int = 4,
    n_out: int = 3,
    batch: int = 8,
    out_dir: str = "out/custom_gradient",
):
    """Check both gradients; print the reports; write the Taylor sweeps. Returns the four reports."""
    key = jax.random.key(seed)
    k_w, k_b, k_x, k_y = jax.random.split(key, 4)
    params = {
        "w": jax.random.normal(k_w, (n_in, n_out)),
        "b": 0.5 * jax.random.normal(k_b, (n_out,)),
    }
    x = jax.random.normal(k_x, (batch, n_in))
    y = jax.random.uniform(k_y, (batch, n_out))
    results = {}
    for name, grad in (("right", grad_right), ("planted mistake", grad_wrong)):
        report = fnn.check_gradients(
            loss,
            params,
            x,
            y,
            grad=grad,
            title=f"Softplus + log-cosh, {name} gradient",
            subject="the hand-derived gradient",
        )
        orders = fnn.taylor_test(
            loss, params, x, y, grad=grad, title=f"Taylor remainder, {name} gradient"
        )
        print(report, "", orders, "", sep="\n")
        results[name] = {"report": report, "taylor": orders}
    os.makedirs(out_dir, exist_ok=True)
    from functional_nn import taylor_plots

    figures = []
    for name, r in results.items():
        path = os.path.join(out_dir, f"taylor_{name.replace(' ', '_')}.png")
        taylor_plots.taylor_sweep(r["taylor"], path=path)
        figures.append(path)
    print("figures:", ", ".join(figures))
    results["figures"] = figures
    return results


if __name__ == "__main__":
    main(**parse_flags(main))
