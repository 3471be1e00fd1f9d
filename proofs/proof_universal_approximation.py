r"""Universal approximation with one hidden layer: the theorem's conditions, and a measured error that falls with width.

Lecture section **Deep feed-forward networks → The optimal topology of the
networks**: "Neural networks are universal approximators." As a slogan it has
no conditions; the theorem it names has.

## The theorem

*(Cybenko 1989 for sigmoidal σ; Hornik 1991; Leshno, Lin, Pinkus & Schocken 1993
in general.)* Let $\sigma:\mathbb R\to\mathbb R$ be continuous and **not a
polynomial**, $K\subset\mathbb R^n$ **compact** and $f: K\to\mathbb R$
**continuous**. For every $\varepsilon > 0$ there are a width $N$ and
$v_k, b_k\in\mathbb R$, $w_k\in\mathbb R^n$ with
$$\sup_{x\in K}\Big|f(x) - \sum_{k=1}^N v_k\,\sigma(w_k\cdot x + b_k)\Big| < \varepsilon .$$
It is an existence statement: it bounds neither the width $N$ needed nor says
that gradient descent finds these weights; the output unit is linear. With a
polynomial σ of degree $d$ the network is a polynomial of degree $\le d$ for
every width, so the condition is needed (linear σ: only affine maps).

## A constructive check (one input)

On $K = [0, 1]$ with knots $x_k = k/N$, the staircase of steep sigmoids
$$N_N(x) = f(x_0) + \sum_{k=1}^N \big(f(x_k) - f(x_{k-1})\big)\,
           \sigma\big(\beta_N (x - \tfrac{x_{k-1} + x_k}{2})\big)$$
is a 1-N-1 network with a linear output. Away from the jumps every step is
within $e^{-\beta_N/(2N)\cdot\text{dist}}$ of 0 or 1, and each jump is at most
the modulus of continuity $\omega(f, 1/N)$, so
$\sup|N_N - f| \lesssim 2\,\omega(f, 1/N) \to 0$ as $N\to\infty$. The check builds
this network with the library's :class:`functional_nn.MLP` (sigmoid hidden layer,
linear output) and measures the sup error on a fine grid: it falls with $N$.
With the linear activation, the best network of any width (least squares on
the same grid) is the best affine fit, and its error does not fall.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from functional_nn._x64 import float64_mode
from functional_nn.network import MLP, Dense

WIDTHS = (4, 8, 16, 32, 64)
GRID = np.linspace(0.0, 1.0, 2001)


def target(x):
    """A continuous, non-monotone target on [0, 1]."""
    return np.sin(2 * np.pi * x) + 0.5 * x


def staircase_params(width: int):
    """The 1-width-1 sigmoid network of the module docstring, as library params."""
    knots = np.linspace(0.0, 1.0, width + 1)
    mids = 0.5 * (knots[:-1] + knots[1:])
    beta = 8.0 * width  # steepness grows with the width
    jumps = np.diff(target(knots))
    hidden = Dense(jnp.asarray(beta * np.ones((1, width))), jnp.asarray(-beta * mids))
    output = Dense(jnp.asarray(jumps[:, None]), jnp.asarray([target(knots[0])]))
    return hidden, output


def _network(params, x: np.ndarray, activation: str) -> np.ndarray:
    """The 1-N-1 network ``a(x W1 + b1) W2 + b2`` in numpy, ``x (points, 1) -> (points,)``."""
    hidden, output = (jax_to_np(layer) for layer in params)
    z = x @ hidden.w + hidden.b
    a = 1 / (1 + np.exp(-z)) if activation == "sigmoid" else z
    return (a @ output.w + output.b)[:, 0]


def jax_to_np(layer: Dense) -> Dense:
    return Dense(np.asarray(layer.w), np.asarray(layer.b))


def network_params(width: int, activation: str):
    """``"sigmoid"``: the staircase; ``"linear"``: random hidden weights, output fitted by least squares."""
    if activation == "sigmoid":
        return staircase_params(width)
    rng = np.random.default_rng(width)
    hidden = Dense(rng.standard_normal((1, width)), rng.standard_normal(width))
    features = GRID[:, None] @ hidden.w + hidden.b
    design = np.concatenate([features, np.ones((GRID.size, 1))], axis=1)
    v, *_ = np.linalg.lstsq(design, target(GRID), rcond=None)
    return hidden, Dense(v[:-1, None], v[-1:])


@functools.lru_cache(maxsize=2)
def sup_errors(activation: str = "sigmoid") -> dict[int, float]:
    """Sup-norm error on GRID of the width-N network, for each N in WIDTHS.

    ``"sigmoid"``: the staircase construction. ``"linear"``: the best network of
    that width in least squares (a linear hidden layer makes it an affine map).
    The widest network is also evaluated by the library's ``MLP.apply``, which must agree.
    """
    errors = {}
    for width in WIDTHS:
        y = _network(network_params(width, activation), GRID[:, None], activation)
        errors[width] = float(np.max(np.abs(y - target(GRID))))
    with float64_mode():
        net = MLP((1, WIDTHS[-1], 1), activation=activation, output_activation="linear")
        params = tuple(
            Dense(jnp.asarray(l.w), jnp.asarray(l.b))
            for l in network_params(WIDTHS[-1], activation)
        )
        library = np.asarray(net.apply(params, jnp.asarray(GRID[:, None])))[:, 0]
    np.testing.assert_allclose(
        library, _network(params, GRID[:, None], activation), rtol=1e-12, atol=1e-12
    )
    return errors


def test_one_hidden_layer_error_falls_with_width_under_the_theorems_conditions():
    """Sigmoid (non-polynomial), continuous target, compact [0, 1]: the sup error falls as the width grows."""
    errors = sup_errors("sigmoid")
    values = [errors[n] for n in WIDTHS]
    assert all(b < a for a, b in zip(values, values[1:])), errors
    assert values[-1] < 0.1 * values[0] and values[-1] < 0.1
    # The rate the construction predicts: at most about 2 ω(f, 1/N), with ω(f, h) <= (2π + 0.5) h.
    for n in WIDTHS:
        assert errors[n] <= 2.5 * (2 * np.pi + 0.5) / n


def test_a_polynomial_activation_does_not_approximate():
    """The theorem's non-polynomial condition is needed: with a linear hidden layer no width helps."""
    linear = sup_errors("linear")
    values = [linear[n] for n in WIDTHS]
    assert max(values) - min(values) < 1e-9  # the best affine fit, whatever the width
    assert min(values) > 0.5  # and it is far from the target
    assert sup_errors("sigmoid")[WIDTHS[-1]] < 0.1 * min(values)
