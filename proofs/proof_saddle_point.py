r"""The saddle point of $f(x) = x_1^2 - x_2^2$ at the origin.

Lecture section **Gradient based learning → local minima and saddle points**:
"$f(x) = x_1^2 - x_2^2$ at $x = (0, 0)$ has zero gradient but it is clearly not
a local minimum as $x = (0, \epsilon)$ has smaller function value. The point
$(0, 0)$ is called a saddle point." **Holds.**

## Proof

$\nabla f(x) = (2x_1, -2x_2)$ vanishes at $0$, so $0$ is a critical point.
The Hessian is constant, $\nabla^2 f = \operatorname{diag}(2, -2)$, with one
positive and one negative eigenvalue: indefinite. Along $x_1$ the origin is a
minimum ($f(\epsilon, 0) = \epsilon^2 > 0$), along $x_2$ a maximum
($f(0, \epsilon) = -\epsilon^2 < 0 = f(0, 0)$ for every $\epsilon \ne 0$), so
every neighbourhood of $0$ holds points with smaller and with larger values:
neither a local minimum nor a local maximum — a saddle.

## Gradient descent near the saddle

GD with step $\alpha$ maps $(x_1, x_2) \mapsto ((1 - 2\alpha)x_1, (1 + 2\alpha)x_2)$.
Started on the stable axis $x_2 = 0$ it converges to the saddle (for
$0 < \alpha < 1$); any $x_2 \ne 0$ is multiplied by $1 + 2\alpha > 1$ per step
and escapes. A zero gradient is therefore "not good enough" for a minimum, and
the saddle attracts only a measure-zero set of starts.

Library: :mod:`functional_nn.critical_points` — ``saddle`` (this $f$),
``classify_critical_point`` (the second-derivative test by the Hessian's
eigenvalues) and ``gradient_descent`` (the path, one compiled scan).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import critical_points as cp
from functional_nn._x64 import float64_mode


def test_saddle_point_of_x1_squared_minus_x2_squared():
    x1, x2, eps = sp.symbols("x1 x2 epsilon", real=True)
    fs = x1**2 - x2**2
    grad = [sp.diff(fs, v) for v in (x1, x2)]
    assert [g.subs({x1: 0, x2: 0}) for g in grad] == [0, 0]
    hess = sp.hessian(fs, (x1, x2))
    assert hess == sp.diag(2, -2)
    assert sorted(hess.eigenvals()) == [-2, 2]  # indefinite
    eps_nonzero = sp.symbols("epsilon", real=True, nonzero=True)
    assert fs.subs({x1: 0, x2: eps}) == -(eps**2)
    assert (-(eps_nonzero**2)).is_negative  # f(0, ε) < 0 = f(0, 0) for every ε ≠ 0
    with float64_mode():
        point = cp.classify_critical_point(cp.saddle, jnp.zeros(2))
        assert point.kind == "saddle"
        assert float(point.gradient_norm) == 0.0
        np.testing.assert_array_equal(point.hessian, [[2.0, 0.0], [0.0, -2.0]])
        np.testing.assert_array_equal(point.eigenvalues, [-2.0, 2.0])
        values = np.asarray(
            jax.vmap(cp.saddle)(jnp.asarray([[0.0, 0.0], [0.0, 1e-1], [0.0, 1e-8], [1e-8, 0.0]]))
        )
        assert values[1] < values[0] and values[2] < values[0] < values[3]


def test_gradient_descent_stalls_on_the_stable_axis_and_escapes_off_it():
    alpha, steps = 0.1, 200
    with float64_mode():
        on_axis = np.asarray(
            cp.gradient_descent(
                cp.saddle, jnp.asarray([1.0, 0.0]), learning_rate=alpha, num_steps=steps
            )
        )[-1]
        off_axis = np.asarray(
            cp.gradient_descent(
                cp.saddle, jnp.asarray([1.0, 1e-12]), learning_rate=alpha, num_steps=steps
            )
        )[-1]
    assert (
        np.linalg.norm(on_axis) < 1e-15
    )  # (1 − 2α)^200 = 0.8^200 ≈ 4e-20: converges to the saddle
    assert abs(off_axis[1]) > 1.0  # 1e-12 · 1.2^200 ≈ 7e3: escapes
    np.testing.assert_allclose(off_axis, [0.8**steps, 1e-12 * 1.2**steps], rtol=1e-10)
    # The escape time is log(r/ε)/log(1 + 2α) steps.
    assert abs(cp.saddle_escape_steps(1e-12, alpha) - np.log(1e12) / np.log(1.2)) < 1e-9
