r"""Output deltas: $\hat y - y$ for sigmoid + cross-entropy and softmax + categorical cross-entropy, not for sigmoid + MSE.

Fills in the slide's "$\partial\ell/\partial\hat y_{cs} = ?$" for the losses the
library offers and shows which products $\frac{\partial\ell}{\partial\hat y}\frac{\partial\hat y}{\partial o^L}$
cancel. Library: :func:`functional_nn.losses.output_delta` (the fused forms),
``output_delta_chain`` (the two-factor chain), ``output_gradient``.

## Setup

One output layer with pre-activations $o = o^L$ and outputs $\hat y = f(o)$;
the output delta is $\delta = \partial\ell/\partial o$ (the library's carries the
batch factor $1/K$ as well).

## Sigmoid + binary cross-entropy

$\ell = -y\ln\hat y - (1 - y)\ln(1 - \hat y)$, $\hat y = \sigma(o)$:
$$\frac{\partial\ell}{\partial\hat y} = \frac{\hat y - y}{\hat y(1 - \hat y)},\qquad
  \frac{\partial\hat y}{\partial o} = \hat y(1 - \hat y)
  \quad\Longrightarrow\quad \delta = \hat y - y .$$

## Softmax + categorical cross-entropy

$\ell = -\sum_c y_c\ln\hat y_c$, $\hat y = \operatorname{softmax}(o)$,
$\partial\hat y_c/\partial o_j = \hat y_c(\mathbb 1[c = j] - \hat y_j)$:
$$\delta_j = \sum_c -\frac{y_c}{\hat y_c}\,\hat y_c(\mathbb 1[c = j] - \hat y_j)
  = -y_j + \hat y_j\sum_c y_c = \hat y_j - y_j$$
because a one-hot (or any probability) target has $\sum_c y_c = 1$.

## Sigmoid + MSE — no cancellation

$\ell = \tfrac12(\hat y - y)^2$: $\delta = (\hat y - y)\,\sigma'(o) = (\hat y - y)\hat y(1 - \hat y)$.
The factor $\sigma'(o) \le 1/4$ stays; it vanishes as the unit saturates, so a
confidently wrong sigmoid output ($o = 10$, $y = 0$) gets
$\delta \approx 4.5\times10^{-5}$ under MSE but $\delta \approx 1$ under
cross-entropy. This is why the library pairs sigmoid with binary
cross-entropy and softmax with categorical cross-entropy, and evaluates both
from the logits.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import sympy as sp

from functional_nn import activations as act
from functional_nn import losses
from functional_nn._x64 import float64_mode

K, C = 4, 3


def _logits_and_targets():
    rng = np.random.default_rng(9)
    o = 1.5 * rng.standard_normal((K, C))
    y_prob = rng.uniform(0, 1, (K, C))
    y_onehot = np.eye(C)[rng.integers(0, C, K)]
    return o, y_prob, y_onehot


@jax.jit  # every library delta the tests look at, in one compilation
def _library_side(logits, y_prob, y_onehot, o_wrong, y_zero):
    sigmoid, softmax = act.get_activation("sigmoid"), act.get_activation("softmax")
    return {
        "bce": (
            losses.output_delta("binary_cross_entropy", sigmoid, logits, y_prob),
            losses.output_delta_chain("binary_cross_entropy", sigmoid, logits, y_prob),
            jax.grad(lambda v: losses.binary_cross_entropy(v, y_prob))(logits),
        ),
        "cce": (
            losses.output_delta("categorical_cross_entropy", softmax, logits, y_onehot),
            losses.output_delta_chain("categorical_cross_entropy", softmax, logits, y_onehot),
            jax.grad(lambda v: losses.categorical_cross_entropy(v, y_onehot))(logits),
        ),
        "mse": (
            losses.output_delta("mse", sigmoid, logits, y_prob),
            losses.output_delta_chain("mse", sigmoid, logits, y_prob),
            jax.grad(lambda v: losses.mse(act.sigmoid(v), y_prob))(logits),
        ),
        "sigmoid": act.sigmoid(logits),
        "sigmoid_derivative": act.sigmoid_derivative(logits),
        "softmax": act.softmax(logits),
        "saturated": (
            losses.output_delta("mse", sigmoid, o_wrong, y_zero),
            losses.output_delta("binary_cross_entropy", sigmoid, o_wrong, y_zero),
        ),
    }


@functools.lru_cache(maxsize=1)
def _library():
    """The library's deltas as numpy (a pure function of fixed inputs, computed once)."""
    logits, y_prob, y_onehot = _logits_and_targets()
    with float64_mode():
        out = _library_side(
            *(jax.device_put(a) for a in (logits, y_prob, y_onehot)),
            jax.device_put(np.full((1, 1), 10.0)),
            jax.device_put(np.zeros((1, 1))),
        )
    return jax.tree.map(np.asarray, out)


def test_sigmoid_cross_entropy_delta_is_y_hat_minus_y():
    o, y = sp.symbols("o y", real=True)
    s = 1 / (1 + sp.exp(-o))
    ell = -y * sp.log(s) - (1 - y) * sp.log(1 - s)
    assert sp.simplify(sp.diff(ell, o) - (s - y)) == 0
    _, targets, _ = _logits_and_targets()
    out = _library()
    fused, chain, autodiff = out["bce"]
    np.testing.assert_allclose(fused, (out["sigmoid"] - targets) / K, rtol=1e-14)
    np.testing.assert_allclose(chain, fused, rtol=1e-12)
    np.testing.assert_allclose(fused, autodiff, rtol=1e-13)


def test_softmax_categorical_cross_entropy_delta_is_y_hat_minus_y():
    o = sp.symbols("o1:4", real=True)
    y = sp.symbols("y1:4", real=True)
    total = sum(sp.exp(oc) for oc in o)
    y_hat = [sp.exp(oc) / total for oc in o]
    ell = -sum(yc * sp.log(yh) for yc, yh in zip(y, y_hat))
    for j in range(3):
        general = sp.simplify(sp.expand_log(sp.diff(ell, o[j]), force=True))
        # δ_j = ŷ_j Σ_c y_c − y_j, which is ŷ_j − y_j once Σ_c y_c = 1.
        assert sp.simplify(general - (y_hat[j] * sum(y) - y[j])) == 0
        on_simplex = general.subs(y[2], 1 - y[0] - y[1])
        assert sp.simplify(on_simplex - (y_hat[j] - [y[0], y[1], 1 - y[0] - y[1]][j])) == 0
    _, _, targets = _logits_and_targets()
    out = _library()
    fused, chain, autodiff = out["cce"]
    np.testing.assert_allclose(fused, (out["softmax"] - targets) / K, rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(chain, fused, rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(fused, autodiff, rtol=1e-13, atol=1e-16)


def test_sigmoid_mse_delta_keeps_sigma_prime():
    o, y = sp.symbols("o y", real=True)
    s = 1 / (1 + sp.exp(-o))
    delta = sp.diff((s - y) ** 2 / 2, o)
    assert sp.simplify(delta - (s - y) * s * (1 - s)) == 0
    assert sp.simplify(delta - (s - y)) != 0  # no cancellation
    _, targets, _ = _logits_and_targets()
    out = _library()
    mse_delta, chain, autodiff = out["mse"]
    y_hat = out["sigmoid"]
    np.testing.assert_allclose(
        mse_delta, (y_hat - targets) * out["sigmoid_derivative"] / K, rtol=1e-13
    )
    assert not np.allclose(mse_delta, (y_hat - targets) / K, rtol=1e-2)
    np.testing.assert_allclose(mse_delta, chain, rtol=1e-13)
    np.testing.assert_allclose(mse_delta, autodiff, rtol=1e-12)
    # A confidently wrong unit (o = 10, y = 0): MSE's delta is tiny, cross-entropy's is about 1.
    d_mse, d_bce = (float(d[0, 0]) for d in out["saturated"])
    assert 4e-5 < d_mse < 5e-5 and d_bce > 0.9999
