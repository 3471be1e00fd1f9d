r"""Training one sigmoid neuron for regression: the chain rule, factor by factor.

Lecture section **Gradient based learning → Training neuron with sigmoid
activation (regression)**. Library: :func:`functional_nn.sigmoid_neuron.regression_gradient` (the
slide's three factors, per example) and the same neuron as a one-layer network
``MLP((n, 1), output_activation="sigmoid")`` with loss ``"mse"`` —
:func:`functional_nn.losses.mse` and :func:`functional_nn.backprop.value_and_grad`
(manual and autodiff), :func:`functional_nn.activations.sigmoid_derivative`.

## Setup and notation

Examples $(x^i, t^i)$, $i = 1..m$ (superscript = example), features
$x^i_j$, $j = 0..n$ with $x^i_0 = 1$ (subscript = coordinate). The neuron
computes $z^i = \sum_j w_j x^i_j$ and $h(x^i) = f(z^i)$ with
$f(z) = 1/(1 + e^{-z})$; the cost is
$$J(w) = \frac{1}{2m}\sum_{i=1}^m (f(z^i) - t^i)^2 .$$
(The library's network carries $w_0$ as the bias ``b``.)

## Derivation

$J$ depends on $w_j$ through every $z^i$, so the chain rule sums over the
examples:
$$\frac{\partial J}{\partial w_j}
  = \sum_{i=1}^m \frac{\partial J}{\partial f(z^i)}\,\frac{\partial f(z^i)}{\partial z^i}\,\frac{\partial z^i}{\partial w_j}
  = \frac1m\sum_{i=1}^m (f(z^i) - t^i)\, f(z^i)(1 - f(z^i))\, x^i_j .$$
with the three factors
$$\frac{\partial J}{\partial f(z^i)} = \frac1m (f(z^i) - t^i),\qquad
  \frac{\partial f}{\partial z} = \frac{e^{-z}}{(1 + e^{-z})^2} = f(z)(1 - f(z)),\qquad
  \frac{\partial z^i}{\partial w_j} = x^i_j .$$

## What the slide writes

* $\frac{\partial J}{\partial w_j} = \frac{\partial J}{\partial f(z)}\times\frac{\partial f(z)}{\partial z}\times\frac{\partial z}{\partial w_j}$
  — **notation**: one example's chain; the sum over $i$ is missing.
* $\frac{\partial J}{\partial f(z^i)} = \frac1m\sum_{i=1}^m (f(z^i) - t^i)$ —
  **erratum**: the left side is one example's partial, $\frac1m(f(z^i) - t^i)$;
  the right side sums over all examples (and reuses $i$ as the bound
  variable). The sum belongs outside the product of the three factors: a
  product of sums is not a sum of products.
* $\frac{\partial f(z)}{\partial z} = \frac{e^{-z}}{(1+e^{-z})^2} = f(z)(1 - f(z))$ — **holds**.
* $\frac{\partial z}{\partial w_j} = x^j$ — **notation**: by the slide's own
  convention $x^j$ is the $j$-th *example*; the factor is $x^i_j$, coordinate
  $j$ of example $i$. (The slide also asks for $\partial J/\partial w_i$ and
  then computes $\partial J/\partial w_j$, reusing $i$.)
* $w_j^{(t+1)} = w_j^{(t)} - \alpha\,\partial J(w)/\partial w_j$ — **holds**
  (gradient descent; it lowers $J$ for a small enough $\alpha$).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import activations as act
from functional_nn import losses, sigmoid_neuron
from functional_nn._x64 import float64_mode
from functional_nn.backprop import value_and_grad
from functional_nn.network import MLP, Dense
from proofs._errata import Erratum, assert_decided

M, N = 6, 3
NET = MLP((N, 1), output_activation="sigmoid")


def _data():
    """Examples (m, n), targets (m,), weights (n,) and bias w0, numpy float64."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((M, N)), rng.uniform(0, 1, M), rng.standard_normal(N), 0.3


def _sigma(z):
    return 1 / (1 + np.exp(-z))


def _cost(w, w0, x, t):
    """The slide's J = 1/(2m) Σ (f(z^i) − t^i)², in numpy."""
    return float(np.sum((_sigma(x @ w + w0) - t) ** 2) / (2 * x.shape[0]))


@jax.jit  # the library's side in one compilation
def _library_side(w, w0, x, t):
    params = (Dense(w[:, None], jnp.reshape(w0, (1,))),)
    out = {}
    for method in ("manual", "autodiff"):
        value, grads = value_and_grad(NET, "mse", method=method)(params, x, t[:, None])
        out[method] = (value, grads[0].w[:, 0], grads[0].b[0])
    z = x @ w + w0
    f = act.sigmoid(z)
    out["f"], out["sigmoid_derivative"] = f, act.sigmoid_derivative(z)
    out["dJ_df"] = jax.grad(lambda fv: jnp.sum((fv - t) ** 2) / (2 * M))(
        f
    )  # J as a function of the m outputs
    out["output_gradient"] = losses.output_gradient("mse", f[:, None], t[:, None])[:, 0]
    out["dz_dw"] = jax.jacobian(lambda v: x @ v + w0)(w)  # [i, j] = ∂z^i/∂w_j
    w_aug = jnp.concatenate([jnp.reshape(w0, (1,)), w])  # (w_0, w_1..w_n)
    out["neuron"] = (
        sigmoid_neuron.regression_cost(w_aug, x, t),
        sigmoid_neuron.regression_gradient(w_aug, x, t),
    )
    return out


def _library(w, w0, x, t):
    with float64_mode():
        out = _library_side(
            jnp.asarray(w), jnp.asarray(w0, jnp.float64), jnp.asarray(x), jnp.asarray(t)
        )
    return jax.tree.map(np.asarray, out)


def test_sigmoid_regression_cost_and_gradient_match_the_library():
    x, t, w, w0 = _data()
    out = _library(w, w0, x, t)
    f, df = _sigma(x @ w + w0), out["sigmoid_derivative"]
    corrected = np.sum(((f - t) * df)[:, None] * x, axis=0) / M
    for method in ("manual", "autodiff"):
        value, grad_w, _ = out[method]
        assert abs(float(value) - _cost(w, w0, x, t)) < 1e-15
        np.testing.assert_allclose(grad_w, corrected, rtol=1e-13)
    neuron_cost, neuron_gradient = out[
        "neuron"
    ]  # the single-neuron module: (∂J/∂w_0, ∂J/∂w_1..w_n)
    assert abs(float(neuron_cost) - _cost(w, w0, x, t)) < 1e-15
    np.testing.assert_allclose(neuron_gradient[1:], corrected, rtol=1e-13)
    np.testing.assert_allclose(neuron_gradient[0], out["manual"][2], rtol=1e-13)


def dJ_df_holds(claimed) -> bool:
    """Is ``claimed(f, t) -> (m,)`` the vector ∂J/∂f(z^i), i = 1..m, of J = 1/(2m) Σ (f(z^i) − t^i)²?"""
    x, t, w, w0 = _data()
    out = _library(w, w0, x, t)
    value = np.asarray(claimed(out["f"], t), dtype=np.float64)
    return value.shape == out["dJ_df"].shape and bool(
        np.allclose(value, out["dJ_df"], rtol=1e-12, atol=1e-15)
    )


ERRATA = (
    Erratum(
        "reg-dJ-df",
        dJ_df_holds,
        as_written=lambda f, t: np.full(
            f.shape, np.sum(f - t) / f.size
        ),  # (1/m) Σ_i (f(z^i) − t^i)
        corrected=lambda f, t: (f - t) / f.size,
    ),  # (1/m) (f(z^i) − t^i)
)
(REG_DJ_DF,) = ERRATA


def test_per_example_factor_has_no_sum_over_examples():
    """Erratum: ∂J/∂f(z^i) = (1/m)(f(z^i) − t^i), not (1/m) Σ_i (f(z^i) − t^i)."""
    assert_decided(REG_DJ_DF)
    x, t, w, w0 = _data()
    out = _library(w, w0, x, t)
    f = out["f"]
    as_written, corrected = REG_DJ_DF.as_written(f, t), REG_DJ_DF.corrected(f, t)
    # The library's ∂J/∂ŷ is the same per-example factor.
    np.testing.assert_allclose(out["output_gradient"], corrected, rtol=1e-14)
    # Multiplying the slide's sum into the other factors (a product of sums) misses the gradient.
    local = out["sigmoid_derivative"][:, None] * x
    product_of_sums = as_written[0] * local.mean(axis=0)
    grad_w = out["manual"][1]
    assert not np.allclose(product_of_sums, grad_w, rtol=1e-3)
    np.testing.assert_allclose((corrected[:, None] * local).sum(axis=0), grad_w, rtol=1e-13)


def test_chain_rule_needs_sum_over_examples():
    """Notation: ∂J/∂w_j is Σ_i of the three-factor product, not one example's product."""
    x, t, w, w0 = _data()
    out = _library(w, w0, x, t)
    per_example = ((out["f"] - t) / M * out["sigmoid_derivative"])[
        :, None
    ] * x  # (m, n), one row per example
    grad_w = out["manual"][1]
    np.testing.assert_allclose(per_example.sum(axis=0), grad_w, rtol=1e-13)
    assert all(not np.allclose(per_example[i], grad_w, rtol=1e-3) for i in range(M))


def test_sigmoid_derivative_identity_in_the_neuron():
    z = sp.symbols("z", real=True)
    f = 1 / (1 + sp.exp(-z))
    assert sp.simplify(sp.diff(f, z) - sp.exp(-z) / (1 + sp.exp(-z)) ** 2) == 0
    assert sp.simplify(sp.exp(-z) / (1 + sp.exp(-z)) ** 2 - f * (1 - f)) == 0
    x, t, w, w0 = _data()
    zs = x @ w + w0
    np.testing.assert_allclose(
        _library(w, w0, x, t)["sigmoid_derivative"],
        np.exp(-zs) / (1 + np.exp(-zs)) ** 2,
        rtol=1e-13,
    )


def test_dz_dw_is_coordinate_j_of_example_i():
    """Notation: ∂z^i/∂w_j = x^i_j (column j of the data), not x^j (example j)."""
    x, t, w, w0 = _data()
    jac = _library(w, w0, x, t)["dz_dw"]  # (m, n): jac[i, j] = ∂z^i/∂w_j
    np.testing.assert_array_equal(jac, x)
    j = 1
    as_written, corrected = (
        x[j, :],
        x[:, j],
    )  # "x^j" is example j (length n); coordinate j has length m
    assert as_written.shape != jac[:, j].shape or not np.allclose(jac[:, j], as_written)
    assert np.array_equal(jac[:, j], corrected)
    square = jac[:N]  # on a square block the two readings have the same length and still differ
    assert not np.allclose(square[:, j], square[j, :])


def test_sigmoid_regression_update_lowers_the_cost():
    x, t, w, w0 = _data()
    alpha = 0.5
    value, grad_w, grad_b = _library(w, w0, x, t)["manual"]
    new_value, _, _ = _library(w - alpha * grad_w, w0 - alpha * grad_b, x, t)["manual"]
    assert float(new_value) < float(value)
