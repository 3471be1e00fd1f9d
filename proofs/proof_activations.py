r"""Activation functions: each formula, its derivative and the properties the slides state.

Lecture section **Activation function** (linear, threshold, sigmoid, tanh, ReLU,
leaky ReLU). Library: :mod:`functional_nn.activations` — ``linear``,
``threshold``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu`` and their
``*_derivative`` functions. ``tanh(x) = 2σ(2x) − 1`` has its own proof,
``proof_tanh_sigmoid.py``.

## Setup and notation

Each activation is a function $f:\mathbb{R}\to\mathbb{R}$ applied elementwise.
"Range" means the image $f(\mathbb{R})$; "zero-centred" means $f$ is odd
($f(-x) = -f(x)$), so symmetric inputs give outputs of mean zero; "saturates"
means $f'(x)\to 0$ as $|x|\to\infty$.

## Linear

$f(x) = x$, $f'(x) = 1 \ne 0$ (the slide's "derivative is nonzero" holds). The
range is $\mathbb{R}$ ("not in a range" holds). "No results in nonlinearity":
a composition of affine maps is affine,
$$(x W_1 + b_1) W_2 + b_2 = x (W_1 W_2) + (b_1 W_2 + b_2),$$
so a deep network with only linear activations is one affine layer.

## Threshold — erratum

As written,
$$U(x) = \begin{cases} 0 & x > 0 \\ 0 & x < 0 \end{cases}$$
is the zero function (and undefined at $0$). It never fires, contradicting the
McCulloch–Pitts unit it models ("fires (1)"), and its derivative is $0$
everywhere, so the slide's own $U'$ with an impulse at $0$ could not come from
it. Corrected (the Heaviside step, with the library's convention at $0$):
$$U(x) = \begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}.$$

**Notation.** $U'(x) = \delta(0)$ at $x = 0$ writes a distribution as if it
were a number. Classically $U$ is not differentiable at $0$: the difference
quotient $(U(h) - U(-h))/(2h) = 1/(2h)$ is unbounded. In the sense of
distributions $U' = \delta$ (the Dirac delta, $\delta(x)$, not the value
$\delta(0)$). The slide's "derivative is zero except at the origin" holds. The
library returns $U'(x) = 0$ (``threshold_derivative``) and refuses to train
through a threshold layer.

## Sigmoid

$\sigma(x) = 1/(1 + e^{-x})$ — the slide's "$\exp^{-x}$" mixes two notations,
$e^{-x}$ and $\exp(-x)$ (notation). Differentiating,
$$\sigma'(x) = \frac{e^{-x}}{(1 + e^{-x})^2}
  = \frac{1}{1 + e^{-x}} \cdot \frac{e^{-x}}{1 + e^{-x}} = \sigma(x)(1 - \sigma(x)).$$
**Range (notation).** Since $e^{-x} > 0$, $1 + e^{-x} > 1$, so
$0 < \sigma(x) < 1$; the limits at $\mp\infty$ are $0$ and $1$ but neither is
attained: the range is the open interval $(0, 1)$, not $[0, 1]$. (In floating
point the endpoints *are* reached: in float64 $\sigma(40)$ rounds to exactly
$1$.) **Saturation (holds).** $\sigma'$ is maximal at $0$ with
$\sigma'(0) = 1/4$ and $\sigma'(x)\to 0$ as $|x|\to\infty$. **Not zero-centred
(holds).** $\sigma(0) = 1/2$ and $\sigma > 0$ everywhere; indeed
$\sigma(x) + \sigma(-x) = 1$, so $\sigma$ is symmetric about $(0, 1/2)$, not
about the origin.

## Tanh — erratum in the range

$\tanh'(x) = 1 - \tanh^2(x)$ (proved in ``proof_tanh_sigmoid.py``). **Range
(erratum).** The slide says $[0, 1]$; but $\tanh$ is odd, $\tanh(-1) < 0$, and
$\tanh(x) = 2\sigma(2x) - 1 \in (2\cdot 0 - 1, 2 \cdot 1 - 1) = (-1, 1)$: the
range is the open interval $(-1, 1)$. **Zero-centred (holds)**: $\tanh$ is odd.
**Saturates (holds)**: $\tanh'(x) = 1 - \tanh^2(x) \to 0$ as $|x|\to\infty$.

## ReLU — convention at the kink

$\mathrm{Relu}(x) = \max(0, x)$. Its one-sided derivatives at $0$ are $0$
(left) and $1$ (right), so $\mathrm{Relu}'(0)$ — the slide's "?" — does not
exist; any value in the subdifferential $[0, 1]$ is a valid choice. The library
takes $\mathrm{Relu}'(0) = 0$, as ``jax.nn.relu``'s autodiff rule does, so the
manual and the autodiff engines agree even at an exact $0$. "Derivative nonzero
when $x > 0$" and "gradient vanishes when $x < 0$" hold; the range is
$[0, \infty)$, unbounded above ("not in a range" holds).

## Leaky ReLU — sign convention

As written, $\mathrm{LRelu}(x) = x$ for $x > 0$ and $-a x$ for $x < 0$, with
$\mathrm{LRelu}'(x) = -a$ for $x < 0$ — consistent with each other, since
$\frac{d}{dx}(-a x) = -a$. But the usual leak is a small *positive* slope on the
negative side: with the slide's sign that needs $a < 0$. Read with the common
$a = 0.01 > 0$ the slide's function sends $x = -1$ to $+0.01$ — it would not be
monotone. The library writes the negative branch as ``negative_slope * x``, so
the lecture's $a$ is ``-negative_slope``. The slide states no sign for $a$: it is
right exactly when $a < 0$ (a leak $|a|x$ with $|a| < 1$), a reading the lecture does
not show to be its own — hence *convention*, not holds. At $0$ the one-sided derivatives are
$-a$ and $1$; the library takes $1$ (as ``jax.nn.leaky_relu``). "Derivative is
nonzero" holds whenever $a \ne 0$.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
from sympy.calculus.util import function_range

from functional_nn import activations as act
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP
from proofs._errata import Erratum, assert_decided
from proofs._numerics import random_params

x = sp.symbols("x", real=True)
SIGMA = 1 / (1 + sp.exp(-x))
GRID = np.array([-40.0, -12.0, -3.0, -1.0, -0.25, 0.25, 1.0, 3.0, 12.0, 40.0])  # symmetric about 0
WIDE = np.array([-50.0, -20.0, -5.0, -1.0, -0.1, 0.0, 0.1, 1.0, 5.0, 50.0])  # same shape, holds 0


def _grid():
    """GRID on the device; ``device_put`` (unlike ``jnp.asarray``) compiles nothing. Call in float64_mode."""
    return jax.device_put(GRID)


def _scalar(value: float):
    return jax.device_put(np.float64(value))


def _autodiff(f, points):
    """``f'`` at each point by ``jax.grad`` (elementwise ``f``)."""
    return np.array([float(jax.grad(f)(_scalar(p))) for p in points])


# --- linear ------------------------------------------------------------------------


def test_linear_derivative_is_one_and_nonzero():
    assert sp.diff(x, x) == 1
    with float64_mode():
        xs = _grid()
        np.testing.assert_array_equal(act.linear(xs), xs)
        np.testing.assert_array_equal(act.linear_derivative(xs), np.ones_like(GRID))
        np.testing.assert_array_equal(_autodiff(act.linear, GRID), np.ones_like(GRID))
    assert np.all(act.linear_derivative(_grid()) != 0)


def test_linear_layers_compose_to_one_affine_map():
    """A deep network with linear activations equals the single layer x (W1 W2 W3) + b."""
    with float64_mode():
        net = MLP((3, 5, 4, 2), activation="linear", output_activation="linear")
        params = random_params(net.layer_sizes, seed=0)
        xs = jnp.asarray(np.random.default_rng(1).standard_normal((7, 3)))
        w = params[0].w @ params[1].w @ params[2].w
        b = (params[0].b @ params[1].w + params[1].b) @ params[2].w + params[2].b
        np.testing.assert_allclose(net.apply(params, xs), xs @ w + b, rtol=1e-12, atol=1e-12)
        # Not in a range: the output is unbounded (scales with the input).
        assert float(act.linear(_scalar(1e300))) == 1e300


# --- threshold -----------------------------------------------------------------------


def threshold_holds(claimed: sp.Expr) -> bool:
    """Is ``claimed`` (a sympy expression in ``x``) the threshold unit, i.e. the step that fires for x >= 0?

    Compared with the library's ``act.threshold`` off the kink (the value at 0 is a convention).
    """
    points = [-2.0, -1e-30, 1e-30, 2.0]
    lib = [float(v) for v in act.threshold(jnp.asarray(points, jnp.float32))]
    values = [claimed.subs(x, sp.Float(p)) for p in points]
    return all(v.is_number and v.is_finite and float(v) == w for v, w in zip(values, lib))


def tanh_range_holds(claimed: sp.Set) -> bool:
    """Is ``claimed`` the image of tanh over the reals?"""
    return bool(function_range(sp.tanh(x), x, sp.S.Reals) == claimed)


ERRATA = (
    Erratum(
        "threshold",
        threshold_holds,
        as_written=sp.Piecewise((0, x > 0), (0, x < 0)),
        corrected=sp.Piecewise((1, x >= 0), (0, True)),
    ),
    Erratum(
        "tanh-range",
        tanh_range_holds,
        as_written=sp.Interval(0, 1),
        corrected=sp.Interval.open(-1, 1),
    ),
)
THRESHOLD, TANH_RANGE = ERRATA


def test_threshold_as_written_is_identically_zero():
    """Erratum: the slide's U is 0 on both branches; the corrected U is the step 1[x >= 0]."""
    assert_decided(THRESHOLD)
    as_written, corrected = THRESHOLD.as_written, THRESHOLD.corrected
    # As written: U(1) = 0, so the unit never fires ("fires (1)" is impossible) ...
    assert as_written.subs(x, 1) == 0
    assert sp.diff(as_written, x).subs(x, 1) == 0 and sp.diff(as_written, x).subs(x, -1) == 0
    # Corrected: equals the library on both sides of 0 and at 0 (convention U(0) = 1).
    points = [-2.0, -1e-30, 0.0, 1e-30, 2.0]
    lib = act.threshold(jnp.asarray(points, jnp.float32))
    assert [int(corrected.subs(x, sp.Float(p))) for p in points] == [int(v) for v in lib]
    assert (
        float(act.threshold(jnp.float32(1.0))) == 1.0
        and float(act.threshold(jnp.float32(-1.0))) == 0.0
    )


def test_threshold_derivative_is_dirac_delta_not_a_value():
    """Notation: U' = 0 off the origin; at 0 no finite derivative; distributionally U' = δ(x)."""
    step = sp.Heaviside(x, 1)
    assert sp.diff(step, x) == sp.DiracDelta(x)
    assert sp.DiracDelta(x).subs(x, 1) == 0 and sp.DiracDelta(x).subs(x, -1) == 0
    h = sp.symbols("h", positive=True)
    quotient = (sp.Piecewise((1, h >= 0), (0, True)) - 0) / (2 * h)  # (U(h) - U(-h)) / (2h)
    assert sp.limit(quotient, h, 0, "+") == sp.oo
    with float64_mode():
        xs = _grid()
        np.testing.assert_array_equal(act.threshold_derivative(xs), np.zeros_like(GRID))
        np.testing.assert_array_equal(_autodiff(act.threshold, GRID), np.zeros_like(GRID))
    assert act.get_activation("threshold").trainable is False


# --- sigmoid -------------------------------------------------------------------------


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    derivative = sp.diff(SIGMA, x)
    assert sp.simplify(derivative - sp.exp(-x) / (1 + sp.exp(-x)) ** 2) == 0
    assert sp.simplify(derivative - SIGMA * (1 - SIGMA)) == 0
    # The slide's exp^{-x} read as e^{-x} = exp(-x): the library's sigmoid is that function.
    with float64_mode():
        xs = _grid()
        exact = np.array([float(SIGMA.subs(x, sp.Float(p, 30)).evalf(30)) for p in GRID])
        np.testing.assert_allclose(act.sigmoid(xs), exact, rtol=1e-15, atol=0)
        exact_prime = np.array([float(derivative.subs(x, sp.Float(p, 30)).evalf(30)) for p in GRID])
        np.testing.assert_allclose(act.sigmoid_derivative(xs), exact_prime, rtol=1e-13, atol=0)
        # Autodiff differentiates through σ(1 − σ) and loses the tail to cancellation (σ'(40) -> 0),
        # which is why the hand derivative is written as σ(|x|) σ(−|x|); compare where 1 − σ is exact enough.
        inner = np.abs(GRID) <= 12
        np.testing.assert_allclose(
            _autodiff(act.sigmoid, GRID[inner]), exact_prime[inner], rtol=1e-9
        )


def test_sigmoid_range_is_open_unit_interval():
    """Notation: the slide's [0, 1] is the closure; the range is (0, 1), endpoints only as limits."""
    assert function_range(SIGMA, x, sp.S.Reals) == sp.Interval.open(0, 1)
    assert sp.solveset(sp.Eq(SIGMA, 0), x, sp.S.Reals) == sp.S.EmptySet
    assert sp.solveset(sp.Eq(SIGMA, 1), x, sp.S.Reals) == sp.S.EmptySet
    assert sp.limit(SIGMA, x, -sp.oo) == 0 and sp.limit(SIGMA, x, sp.oo) == 1
    # Floating point does reach the endpoints: 1 − σ(40) ≈ 4e-18 is below float64's half-ulp at 1.
    with float64_mode():
        assert float(act.sigmoid(_scalar(40.0))) == 1.0
        assert 0.0 < float(act.sigmoid(_scalar(-40.0))) < 1e-17


def test_sigmoid_saturates_with_derivative_at_most_one_quarter():
    derivative = SIGMA * (1 - SIGMA)
    assert sp.solveset(sp.diff(derivative, x), x, sp.S.Reals) == sp.FiniteSet(0)
    assert derivative.subs(x, 0) == sp.Rational(1, 4)
    assert sp.limit(derivative, x, sp.oo) == 0 and sp.limit(derivative, x, -sp.oo) == 0
    with float64_mode():
        values = np.asarray(act.sigmoid_derivative(jax.device_put(WIDE)))
        assert values.max() == 0.25 == values[WIDE == 0][0]
        assert values[0] < 1e-20 and values[-1] < 1e-20


def test_sigmoid_is_not_zero_centred():
    assert sp.simplify(SIGMA + SIGMA.subs(x, -x) - 1) == 0  # symmetric about (0, 1/2)
    assert SIGMA.subs(x, 0) == sp.Rational(1, 2)
    with float64_mode():
        values = np.asarray(act.sigmoid(_grid()))  # GRID is symmetric about 0
        assert abs(values.mean() - 0.5) < 1e-15
        assert values.min() > 0


# --- tanh ----------------------------------------------------------------------------


def test_tanh_range_is_open_minus_one_one():
    """Erratum: the slide's [0, 1] is false (tanh(−1) < 0); the range is (−1, 1)."""
    assert_decided(TANH_RANGE)
    with float64_mode():
        value = float(act.tanh(_scalar(-1.0)))
        assert -1.0 < value < 0.0  # outside [0, 1]
        values = np.asarray(act.tanh(_grid()))
        assert values.min() < -0.999 and values.max() > 0.999


def test_tanh_is_zero_centred():
    assert sp.simplify(sp.tanh(-x) + sp.tanh(x)) == 0
    with float64_mode():
        values = np.asarray(act.tanh(_grid()))  # GRID is symmetric about 0
        np.testing.assert_array_equal(values, -values[::-1])
        assert abs(values.mean()) < 1e-15


def test_tanh_saturates():
    derivative = 1 - sp.tanh(x) ** 2
    assert sp.limit(derivative, x, sp.oo) == 0 and sp.limit(derivative, x, -sp.oo) == 0
    assert derivative.subs(x, 0) == 1
    with float64_mode():
        assert float(act.tanh_derivative(_scalar(20.0))) < 1e-16
        assert float(act.tanh_derivative(_scalar(0.0))) == 1.0


# --- ReLU ------------------------------------------------------------------------------


def test_relu_derivative_at_zero_is_a_convention():
    """The slide's "?": one-sided derivatives 0 and 1 differ; the library picks 0 in both engines."""
    relu = sp.Max(0, x)
    h = sp.symbols("h", positive=True)
    right = sp.limit((relu.subs(x, h) - relu.subs(x, 0)) / h, h, 0)
    left = sp.limit((relu.subs(x, -h) - relu.subs(x, 0)) / (-h), h, 0)
    assert (left, right) == (0, 1)
    with float64_mode():
        zero = _scalar(0.0)
        assert float(act.relu_derivative(zero)) == 0.0
        assert float(jax.grad(jax.nn.relu)(zero)) == 0.0
        # The manual derivative and autodiff through the library's relu agree at the kink too.
        assert float(jax.grad(act.relu)(zero)) == float(act.relu_derivative(zero))


def test_relu_derivative_nonzero_for_positive_and_vanishing_for_negative():
    with float64_mode():
        xs = _grid()
        expected = (GRID > 0).astype(np.float64)
        np.testing.assert_array_equal(act.relu_derivative(xs), expected)
        np.testing.assert_array_equal(_autodiff(act.relu, GRID), expected)
        np.testing.assert_array_equal(act.relu(xs), np.maximum(GRID, 0))
        # Range [0, inf): bounded below, not above.
        assert np.asarray(act.relu(xs)).min() == 0.0 and float(act.relu(_scalar(1e300))) == 1e300


# --- leaky ReLU ------------------------------------------------------------------------


def test_leaky_relu_sign_convention():
    """Convention: the slide's −a x needs a < 0; the library's negative_slope is −a."""
    a = sp.symbols("a", real=True)
    lrelu = sp.Piecewise((x, x > 0), (-a * x, True))
    # The slide's formula and its derivative agree with each other: d(−a x)/dx = −a.
    assert sp.diff(-a * x, x) == -a
    negative_slope = 0.01
    with float64_mode():
        points = [-3.0, -1.0, -0.5, 0.5, 2.0]
        lib = np.asarray(act.leaky_relu(jnp.asarray(points), negative_slope))
        read_as_usual = np.array([float(lrelu.subs({a: negative_slope, x: p})) for p in points])
        lecture_slope = -negative_slope  # the slide's a
        lecture_a = np.array([float(lrelu.subs({a: lecture_slope, x: p})) for p in points])
        # With the usual positive a = 0.01 the slide maps -1 to +0.01: not the library's function.
        assert read_as_usual[1] > 0 and not np.allclose(read_as_usual, lib)
        np.testing.assert_allclose(lecture_a, lib, rtol=1e-15)
        derivative = np.asarray(act.leaky_relu_derivative(jnp.asarray(points), negative_slope))
        np.testing.assert_allclose(derivative, [-lecture_slope] * 3 + [1.0, 1.0])  # d(-a o)/do = -a
        np.testing.assert_allclose(
            _autodiff(lambda v: act.leaky_relu(v, negative_slope), points), derivative
        )


def test_leaky_relu_kink_and_nonzero_derivative():
    """The slide's "?" at 0: one-sided derivatives −a and 1; the library picks 1. Nonzero iff a ≠ 0."""
    a = sp.symbols("a", real=True)
    h = sp.symbols("h", positive=True)
    lrelu = sp.Piecewise((x, x > 0), (-a * x, True))
    right = sp.limit((lrelu.subs(x, h) - lrelu.subs(x, 0)) / h, h, 0)
    left = sp.limit((lrelu.subs(x, -h) - lrelu.subs(x, 0)) / (-h), h, 0)
    assert (left, right) == (-a, 1)
    with float64_mode():
        zero = _scalar(0.0)
        assert float(act.leaky_relu_derivative(zero, 0.01)) == 1.0
        assert float(jax.grad(act.leaky_relu)(zero)) == 1.0
        assert float(jax.grad(jax.nn.leaky_relu)(zero)) == 1.0
        assert np.all(np.asarray(act.leaky_relu_derivative(_grid(), 0.01)) != 0)
        # a = 0 (negative_slope = 0) is ReLU again, and the derivative vanishes for x < 0.
        assert float(act.leaky_relu_derivative(_scalar(-1.0), 0.0)) == 0.0


# --- "gradient must be nonzero everywhere" against ReLU ------------------------------------------------


@jax.jit
def _train_one_hidden_layer(params, xs, ys):
    """300 full-batch gradient steps (α = 0.1) of a 1-8-1 ReLU network on y = x²; the loss before and after."""
    from functional_nn.backprop import value_and_grad

    f = value_and_grad(RELU_NET, "mse", method="autodiff")

    def step(p, _):
        value, grads = f(p, xs, ys)
        return jax.tree.map(lambda w, g: w - 0.1 * g, p, grads), value

    trained, values = jax.lax.scan(step, params, None, length=300)
    return values[0], f(trained, xs, ys)[0]


RELU_NET = MLP((1, 8, 1), activation="relu", output_activation="linear")


def relu_trains() -> tuple[float, float]:
    """Evidence: the loss of a ReLU network before and after 300 gradient steps (float64)."""
    with float64_mode():
        xs = jnp.linspace(-1.0, 1.0, 16)[:, None]
        before, after = _train_one_hidden_layer(
            random_params(RELU_NET.layer_sizes, seed=5), xs, xs**2
        )
    return float(before), float(after)


def nonzero_gradient_requirement_holds(requirement) -> bool:
    """Is ``requirement(derivative values on a grid) -> bool`` a true condition for gradient training?

    It must accept ReLU, whose derivative is 0 on the negative half-line and which
    trains (the loss falls below a tenth in 300 steps, :func:`relu_trains`), and
    reject the threshold unit, whose derivative is 0 off the origin, so that every
    weight's gradient is 0 and gradient descent never moves.
    """
    before, after = relu_trains()
    assert after < 0.1 * before, (before, after)  # the evidence the verdict rests on
    with float64_mode():
        relu_prime = np.asarray(act.relu_derivative(_grid()))
        threshold_prime = np.asarray(act.threshold_derivative(_grid()))
    assert not np.any(threshold_prime)
    return bool(requirement(relu_prime)) and not bool(requirement(threshold_prime))


ERRATA += (
    Erratum(
        "gradient-nonzero",
        nonzero_gradient_requirement_holds,
        as_written=lambda d: bool(np.all(d != 0)),  # nonzero everywhere
        corrected=lambda d: bool(np.mean(d != 0) > 0),
    ),  # nonzero on a set of positive measure
)
NONZERO_EVERYWHERE = ERRATA[-1]


def test_gradient_need_not_be_nonzero_everywhere_relu_trains():
    """Erratum: ReLU (recommended by the lecture for hidden layers) has f' = 0 for x < 0 and trains."""
    assert_decided(NONZERO_EVERYWHERE)
    assert (
        act.get_activation("threshold").trainable is False
    )  # the library refuses the unit that cannot train
