r"""Training one sigmoid neuron for classification: the cross-entropy gradient has no $t^i$ factor.

Lecture section **Gradient based learning → Training neuron with sigmoid
activation (classification)**. Library: :func:`functional_nn.sigmoid_neuron.classification_gradient` (and
``classification_gradient_as_written``, kept to show the erratum), and the same
neuron as a one-layer network ``MLP((n, 1), output_activation="sigmoid")`` with
loss ``"binary_cross_entropy"`` — :func:`functional_nn.losses.binary_cross_entropy`
and :func:`functional_nn.backprop.value_and_grad`.

## Setup

Examples $(x^i, t^i)$ with $t^i \in \{0, 1\}$, $x^i_0 = 1$;
$h(x) = \sigma(w^\top x)$. The slide's cost
$$J(w) = \sum_{i=1}^m \bigl[-t^i \ln h(x^i) - (1 - t^i)\ln(1 - h(x^i))\bigr]$$
**holds** as a definition. *Convention*: it has no $1/m$, while the
regression slide's cost and the library (``J = (1/K) Σ_k ...``) average over
the examples; the two differ by the factor $m$, and so do their gradients (a
rescaling of $\alpha$).

## Derivation

For one example with $z = w^\top x$ and $h = \sigma(z)$, using
$\sigma' = \sigma(1 - \sigma)$:
$$\frac{\partial}{\partial z}\bigl[-t\ln\sigma(z) - (1 - t)\ln(1 - \sigma(z))\bigr]
 = -t\,\frac{\sigma(1-\sigma)}{\sigma} + (1 - t)\frac{\sigma(1 - \sigma)}{1 - \sigma}
 = -t(1 - \sigma) + (1 - t)\sigma = \sigma(z) - t .$$
With $\partial z/\partial w = x$ and summing over the examples,
$$\nabla J(w) = \sum_{i=1}^m x^i\,(h(x^i) - t^i),\qquad
  w^{(t+1)} = w^{(t)} - \alpha\sum_{i=1}^m x^i\,(h(x^i) - t^i).$$

## Erratum

The slide writes $\nabla J(w) = \sum_i t^i x^i (h(x^i) - t^i)$ and the update
with the same spurious factor $t^i$. Since $t^i \in \{0, 1\}$ that expression
is $\sum_{i:\,t^i = 1} x^i (h(x^i) - 1)$: every negative example drops out. On
data whose labels are all $0$ it is identically zero, so the slide's update
never moves, although $J = -\sum_i \ln(1 - h(x^i)) > 0$ and the true gradient
lowers it.
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

M, N = 8, 3
NET = MLP((N, 1), output_activation="sigmoid")


def _augmented(x):
    """Prepend x_0 = 1 so w_0 is the bias: (m, n) -> (m, n + 1)."""
    return np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)


def _data(all_negative: bool = False):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((M, N))
    t = np.zeros(M) if all_negative else (rng.uniform(size=M) < 0.5).astype(np.float64)
    w = rng.standard_normal(N + 1)  # (w_0, w_1..w_n)
    return x, t, w


def _sigma(z):
    return 1 / (1 + np.exp(-z))


def _slide_cost(w, x, t):
    """The slide's J (a sum, no 1/m), in numpy."""
    h = _sigma(_augmented(x) @ w)
    return float(np.sum(-t * np.log(h) - (1 - t) * np.log(1 - h)))


def _as_written(w, x, t):
    xa = _augmented(x)
    return np.sum((t * (_sigma(xa @ w) - t))[:, None] * xa, axis=0)


def _corrected(w, x, t):
    xa = _augmented(x)
    return np.sum((_sigma(xa @ w) - t)[:, None] * xa, axis=0)


@jax.jit  # the library's side in one compilation
def _library_side(w, x, t):
    params = (Dense(w[1:, None], w[:1]),)
    out = {}
    for method in ("manual", "autodiff"):
        value, grads = value_and_grad(NET, "binary_cross_entropy", method=method)(
            params, x, t[:, None]
        )
        out[method] = (
            value,
            jnp.concatenate([grads[0].b, grads[0].w[:, 0]]),
        )  # in (w_0, w_1..w_n) order

    def slide_cost(v):  # the slide's J in jnp, for jax.grad
        h = act.sigmoid(x @ v[1:] + v[0])
        return jnp.sum(-t * jnp.log(h) - (1 - t) * jnp.log(1 - h))

    out["autodiff_of_slide_cost"] = jax.grad(slide_cost)(w)
    out["bce"] = losses.binary_cross_entropy((x @ w[1:] + w[0])[:, None], t[:, None])
    out["neuron"] = (
        sigmoid_neuron.classification_cost(w, x, t),
        sigmoid_neuron.classification_gradient(w, x, t),
        sigmoid_neuron.classification_gradient_as_written(w, x, t),
    )
    return out


def _library(w, x, t):
    """The library's values and gradients (with its 1/m) as numpy, float64."""
    with float64_mode():
        out = _library_side(jnp.asarray(w), jnp.asarray(x), jnp.asarray(t))
    return jax.tree.map(np.asarray, out)


def test_cross_entropy_cost_is_m_times_the_library_mean():
    """Holds as a definition; convention: the slide sums, the library averages (factor m)."""
    x, t, w = _data()
    out = _library(w, x, t)
    cost = _slide_cost(w, x, t)
    for method in ("manual", "autodiff"):
        value, grad = out[method]
        assert abs(M * float(value) - cost) < 1e-12
        np.testing.assert_allclose(M * grad, out["autodiff_of_slide_cost"], rtol=1e-13)
    assert abs(M * float(out["bce"]) - cost) < 1e-12
    assert abs(float(out["neuron"][0]) - cost) < 1e-12


def cls_gradient_holds(claimed) -> bool:
    """Is ``claimed(w, x, t)`` the gradient of the slide's J = Σ_i [−t ln h − (1 − t) ln(1 − h)] (autodiff)?"""
    x, t, w = _data()
    autodiff = _library(w, x, t)["autodiff_of_slide_cost"]
    return bool(np.allclose(claimed(w, x, t), autodiff, rtol=1e-12, atol=1e-14))


def cls_update_holds(claimed) -> bool:
    """Is ``claimed(w, x, t, α)`` the gradient-descent step w − α ∇J, on mixed and on all-negative data?"""
    alpha = 0.1
    for all_negative in (False, True):
        x, t, w = _data(all_negative=all_negative)
        step = w - alpha * _library(w, x, t)["autodiff_of_slide_cost"]
        if not np.allclose(claimed(w, x, t, alpha), step, rtol=1e-12, atol=1e-14):
            return False
    return True


ERRATA = (
    Erratum("cls-gradient", cls_gradient_holds, as_written=_as_written, corrected=_corrected),
    Erratum(
        "cls-update",
        cls_update_holds,
        as_written=lambda w, x, t, alpha: w - alpha * _as_written(w, x, t),
        corrected=lambda w, x, t, alpha: w - alpha * _corrected(w, x, t),
    ),
)
CLS_GRADIENT, CLS_UPDATE = ERRATA


def test_cross_entropy_gradient_has_no_target_factor():
    """Erratum: ∇J = Σ x^i (h(x^i) − t^i), not Σ t^i x^i (h(x^i) − t^i)."""
    z, t = sp.symbols("z t", real=True)
    s = 1 / (1 + sp.exp(-z))
    per_example = -t * sp.log(s) - (1 - t) * sp.log(1 - s)
    assert sp.simplify(sp.diff(per_example, z) - (s - t)) == 0
    x, t_, w = _data()
    assert 0 < t_.sum() < M  # both classes present
    assert_decided(CLS_GRADIENT)
    out = _library(w, x, t_)
    autodiff = out["autodiff_of_slide_cost"]
    np.testing.assert_allclose(M * out["manual"][1], autodiff, rtol=1e-13)
    # The single-neuron module implements both; only the corrected one is the gradient.
    _, neuron_gradient, neuron_as_written = out["neuron"]
    np.testing.assert_allclose(neuron_as_written, _as_written(w, x, t_), rtol=1e-13)
    np.testing.assert_allclose(neuron_gradient, autodiff, rtol=1e-13)


def test_cross_entropy_update_as_written_ignores_negative_examples():
    """Erratum (the update): with all t^i = 0 the slide's step is zero although J > 0 and can decrease."""
    assert_decided(CLS_UPDATE)
    alpha = 0.1
    x, t, w = _data(all_negative=True)
    cost = _slide_cost(w, x, t)
    assert cost > 0
    np.testing.assert_array_equal(CLS_UPDATE.as_written(w, x, t, alpha), w)  # never moves
    assert _slide_cost(CLS_UPDATE.corrected(w, x, t, alpha), x, t) < cost
