r"""The schedule $\alpha_k = c_1/(k + c_2)$: $\sum_k \alpha_k = \infty$, $\sum_k \alpha_k^2 < \infty$.

Lecture section **Gradient based learning → learning rate**: "A common practice
is to make $\alpha_k$ a decreasing function of the iteration number $k$, e.g.
$\alpha_k = c_1/(k + c_2)$ where $c_1$ and $c_2$ are two constants. The first
iterations cause large changes in the $w$, while the later ones do only
fine-tuning."

## Conditions (notation: unstated on the slide)

"Two constants" is not enough. For every step to be a positive step size the
schedule needs $c_1 > 0$ and $k + c_2 > 0$ for every $k$ used, i.e.
$c_2 > -k_0$ for a count starting at $k_0$ ($c_2 > 0$ when $k$ starts at $0$,
$c_2 > -1$ when it starts at $1$). With $c_1 < 0$ every step ascends the
cost; with $c_2 = -k$ for some used $k$ the step is a division by zero.

## Theorem (Robbins–Monro conditions)

For $c_1 > 0$ and $c_2 > -1$, with $k = 1, 2, \dots$:
$$\sum_{k=1}^\infty \alpha_k = \infty, \qquad \sum_{k=1}^\infty \alpha_k^2 < \infty .$$

*Proof* (limit comparison). $\alpha_k > 0$ and
$\lim_{k\to\infty} \alpha_k / (c_1/k) = \lim k/(k + c_2) = 1$, so
$\sum\alpha_k$ behaves like $c_1\sum 1/k$, the harmonic series, which diverges.
Likewise $\lim \alpha_k^2/(c_1^2/k^2) = 1$ and $\sum 1/k^2 = \pi^2/6$
converges; in closed form $\sum_{k\ge1}\alpha_k^2 = c_1^2\,\psi'(c_2 + 1)$ (the
trigamma function). $\square$

The first condition lets the iterates travel any distance; the second makes
the accumulated noise of stochastic gradients finite — the classical
conditions for SGD to converge. **The slide's description holds**: $\alpha_k$
is strictly decreasing ($\partial\alpha_k/\partial k = -c_1/(k + c_2)^2 < 0$)
and $\alpha_k \to 0$, so early steps are large and later ones fine-tune.

Library: :func:`functional_nn.schedules.inverse_time_decay` (an optax
schedule; ``k`` counts updates from $0$, so it requires $c_1 > 0$ and
$c_2 > 0$), checked here against exact rational arithmetic.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from functional_nn import schedules
from functional_nn._x64 import float64_mode

k = sp.symbols("k", integer=True, positive=True)
c1, c2 = sp.symbols("c1 c2", positive=True)
ALPHA = c1 / (k + c2)


def schedule(step: int, c1_value: Fraction, c2_value: Fraction) -> Fraction:
    """``α_k = c1 / (k + c2)`` in exact arithmetic (raises ZeroDivisionError at k = −c2)."""
    return Fraction(c1_value) / (step + Fraction(c2_value))


def test_schedule_sum_diverges_and_sum_of_squares_converges():
    # Σ α_k diverges: limit comparison with the harmonic series.
    assert sp.limit(ALPHA / (c1 / k), k, sp.oo) == 1
    assert sp.summation(1 / k, (k, 1, sp.oo)) == sp.oo
    assert sp.summation(ALPHA, (k, 1, sp.oo)) == sp.oo
    # Σ α_k² converges: limit comparison with Σ 1/k² = π²/6.
    assert sp.limit(ALPHA**2 / (c1**2 / k**2), k, sp.oo) == 1
    assert sp.summation(1 / k**2, (k, 1, sp.oo)) == sp.pi**2 / 6
    # Closed form for concrete constants: c1 = 2, c2 = 3 gives 4 ψ'(4) = 4 (π²/6 − 1 − 1/4 − 1/9).
    concrete = sp.summation((2 / (k + 3)) ** 2, (k, 1, sp.oo))
    assert (
        sp.simplify(concrete - 4 * (sp.pi**2 / 6 - 1 - sp.Rational(1, 4) - sp.Rational(1, 9))) == 0
    )
    assert sp.simplify(concrete - 4 * sp.polygamma(1, 4)) == 0
    # Partial sums, exactly: the harmonic part keeps growing, the squares stay below the bound.
    a, b = Fraction(2), Fraction(3)
    partial = sum(schedule(i, a, b) for i in range(1, 2001))
    partial_sq = sum(schedule(i, a, b) ** 2 for i in range(1, 2001))
    assert partial > 2 * sum(Fraction(1, i) for i in range(4, 2004)) - 1  # ≥ c1 (H_{n+3} − H_3)
    assert float(partial_sq) < float(4 * (sp.pi**2 / 6 - 1 - sp.Rational(1, 4) - sp.Rational(1, 9)))


def test_schedule_is_decreasing_to_zero():
    assert sp.simplify(sp.diff(ALPHA, k) + c1 / (k + c2) ** 2) == 0  # dα/dk = −c1/(k + c2)² < 0
    assert sp.limit(ALPHA, k, sp.oo) == 0
    values = [schedule(i, Fraction(1), Fraction(1, 2)) for i in range(0, 50)]
    assert all(x > y > 0 for x, y in zip(values, values[1:]))
    assert values[0] == 2 and values[-1] == Fraction(2, 99)
    # The library's schedule is the same sequence (k counts updates from 0).
    with float64_mode():
        lib = np.asarray(schedules.inverse_time_decay(1.0, 0.5)(np.arange(50)))
    np.testing.assert_allclose(lib, [float(v) for v in values], rtol=1e-15)
    assert np.all(np.diff(lib) < 0)


def test_schedule_needs_positive_constants():
    """Notation: "two constants" must be c1 > 0 and k + c2 > 0 for the steps to be positive."""
    # c1 < 0: every step is negative (gradient ascent).
    assert all(schedule(i, Fraction(-1), Fraction(1)) < 0 for i in range(0, 10))
    # c2 <= −k for a used k: a negative step at k = 1, or a division by zero at k = −c2.
    assert schedule(1, Fraction(1), Fraction(-3, 2)) < 0
    try:
        schedule(2, Fraction(1), Fraction(-2))
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("k + c2 = 0 must divide by zero")
    # c1 > 0, c2 > −1 (k from 1), or c2 > 0 (k from 0): every step positive.
    assert all(schedule(i, Fraction(1), Fraction(-1, 2)) > 0 for i in range(1, 100))
    assert all(schedule(i, Fraction(1), Fraction(1, 10)) > 0 for i in range(0, 100))
    # The library counts k from 0 and enforces the corrected statement: c1 > 0 and c2 > 0.
    for c1_value, c2_value in ((-1.0, 1.0), (1.0, 0.0), (1.0, -0.5), (0.0, 1.0)):
        with pytest.raises(ValueError):
            schedules.inverse_time_decay(c1_value, c2_value)
