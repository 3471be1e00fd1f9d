r"""$\tanh(x) = 2\sigma(2x) - 1$ and the stated derivatives of tanh and sigmoid.

Lecture section **Activation function → Tanh activation function**: the slide
defines $\tanh(x) = 2\sigma(2x) - 1$ and states $\tanh'(x) = 1 - \tanh(x)^2$.
Library: :func:`functional_nn.activations.tanh`, ``tanh_derivative``,
``sigmoid``, ``sigmoid_derivative``.

## Identity

With $\sigma(u) = 1/(1 + e^{-u})$,
$$2\sigma(2x) - 1 = \frac{2}{1 + e^{-2x}} - \frac{1 + e^{-2x}}{1 + e^{-2x}}
  = \frac{1 - e^{-2x}}{1 + e^{-2x}}
  = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \tanh(x),$$
multiplying numerator and denominator by $e^{x}$ in the last step. So tanh is
a sigmoid stretched to $(-1, 1)$ and squeezed by 2 along $x$.

## Derivative

From the quotient rule,
$$\tanh'(x) = \frac{(e^x + e^{-x})^2 - (e^x - e^{-x})^2}{(e^x + e^{-x})^2} = 1 - \tanh^2(x).$$
The same follows from the identity and $\sigma' = \sigma(1 - \sigma)$:
$$\tanh'(x) = 4\sigma'(2x) = 4\sigma(2x)(1 - \sigma(2x))
  = (1 + \tanh x)(1 - \tanh x) = 1 - \tanh^2 x,$$
using $2\sigma(2x) = 1 + \tanh x$ and $2(1 - \sigma(2x)) = 1 - \tanh x$. Both
stated derivatives **hold**. A consequence used in the library: $\tanh'$
peaks at $\tanh'(0) = 1$, four times $\sigma'(0) = 1/4$.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import activations as act
from functional_nn._x64 import float64_mode
from proofs._numerics import central_difference

x = sp.symbols("x", real=True)
SIGMA = sp.Lambda(x, 1 / (1 + sp.exp(-x)))
POINTS = np.linspace(-6.0, 6.0, 25)


def _exact(expr) -> np.ndarray:
    """``expr`` at ``POINTS``, evaluated with 30 significant digits."""
    return np.array([float(expr.subs(x, sp.Float(p, 30)).evalf(30)) for p in POINTS])


def test_tanh_is_two_sigma_of_two_x_minus_one():
    identity = 2 * SIGMA(2 * x) - 1 - sp.tanh(x)
    assert sp.simplify(identity.rewrite(sp.exp)) == 0
    with float64_mode():
        xs = jnp.asarray(POINTS)
        np.testing.assert_allclose(act.tanh(xs), 2 * act.sigmoid(2 * xs) - 1, rtol=0, atol=1e-15)


def test_tanh_derivative_is_one_minus_tanh_squared():
    assert sp.simplify((sp.diff(sp.tanh(x), x) - (1 - sp.tanh(x) ** 2)).rewrite(sp.exp)) == 0
    # The same through the identity: d/dx (2σ(2x) − 1) = 4σ'(2x) = 1 − tanh².
    via_sigma = sp.diff(2 * SIGMA(2 * x) - 1, x)
    assert sp.simplify((via_sigma - (1 - sp.tanh(x) ** 2)).rewrite(sp.exp)) == 0
    with float64_mode():
        xs = jnp.asarray(POINTS)
        lib = np.asarray(act.tanh_derivative(xs))
        # Oracle: 1 − tanh² evaluated to 30 digits (1 − t² in float64 loses ~1e-11 relative at |x| = 6).
        np.testing.assert_allclose(lib, _exact(1 - sp.tanh(x) ** 2), rtol=1e-10)
        np.testing.assert_allclose(lib, 4 * np.asarray(act.sigmoid_derivative(2 * xs)), rtol=1e-10)
        autodiff = np.array([float(jax.grad(act.tanh)(p)) for p in xs])
        np.testing.assert_allclose(lib, autodiff, rtol=1e-10)
        fd = np.array([central_difference(lambda v: act.tanh(jnp.asarray(v)), p) for p in POINTS])
        np.testing.assert_allclose(
            lib, fd, rtol=1e-7, atol=1e-9
        )  # FD rounding: ~1e-16/eps absolute


def test_sigmoid_derivative_matches_finite_differences():
    with float64_mode():
        xs = jnp.asarray(POINTS)
        lib = np.asarray(act.sigmoid_derivative(xs))
        np.testing.assert_allclose(lib, _exact(sp.diff(SIGMA(x), x)), rtol=1e-13)
        fd = np.array(
            [central_difference(lambda v: act.sigmoid(jnp.asarray(v)), p) for p in POINTS]
        )
        np.testing.assert_allclose(
            lib, fd, rtol=1e-7, atol=1e-9
        )  # FD rounding: ~1e-16/eps absolute
