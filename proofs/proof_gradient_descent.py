r"""Cost function and gradient descent on $h(x) = w_0 + w_1 x$; convergence iff $0 < \alpha < 2/\lambda_{\max}$.

Lecture section **Gradient based learning** (the model, the mean squared error,
the two update equations, "Big step size / Small step size") and the later
"If $\alpha$ is too high, the algorithm diverges. If $\alpha$ is too low, makes
the algorithm slow to converge." Library:
:mod:`functional_nn.linear_regression` (``cost``, ``gradient``, ``hessian``,
``divergence_threshold``, ``closed_form``, ``gradient_descent``) and, for the
same $J$ through the general network code, :func:`functional_nn.losses.mse`
with :func:`functional_nn.backprop.value_and_grad` on a linear 1–1 network.

## Setup

Data $(x_i, t_i)_{i=1}^m$, model $h(x) = w_0 + w_1 x$, cost
$$J(w) = \frac{1}{2m}\sum_{i=1}^m (h(x_i) - t_i)^2 .$$
With the design matrix $X = [\mathbf{1}, x] \in \mathbb{R}^{m\times 2}$,
$h = Xw$ and $J(w) = \frac{1}{2m}\lVert Xw - t\rVert^2$. The $\tfrac12$ makes the
gradient free of a factor 2.

## Gradient and updates (holds)

$$\frac{\partial J}{\partial w_0} = \frac1m\sum_i (h(x_i) - t_i), \qquad
  \frac{\partial J}{\partial w_1} = \frac1m\sum_i (h(x_i) - t_i)\,x_i,$$
i.e. $\nabla J(w) = \frac1m X^\top(Xw - t) = H w - \frac1m X^\top t$ with the
constant Hessian $H = \frac1m X^\top X = \begin{pmatrix}1 & \bar x\\ \bar x & \overline{x^2}\end{pmatrix}$.
The slide's updates $w_k^{(t+1)} = w_k^{(t)} - \alpha\,\partial J(w^{(t)})/\partial w_k$
are gradient descent, both coordinates updated from the same $w^{(t)}$.

## Theorem (step size)

Let $H$ be symmetric positive definite with eigenvalues
$0 < \lambda_{\min} \le \dots \le \lambda_{\max}$ and $w^*$ the minimiser
($\nabla J(w^*) = 0$, the normal equations $X^\top X w^* = X^\top t$). Then
gradient descent with constant $\alpha$ converges to $w^*$ from every start
**iff** $0 < \alpha < 2/\lambda_{\max}$.

*Proof.* $\nabla J(w) = H(w - w^*)$, so the error $e_k = w^{(k)} - w^*$ obeys
$e_{k+1} = e_k - \alpha H e_k = (I - \alpha H)e_k$, hence $e_k = (I - \alpha H)^k e_0$.
In the orthonormal eigenbasis of $H$ each component is multiplied by
$1 - \alpha\lambda_i$ per step, so $e_k \to 0$ for every $e_0$ iff
$|1 - \alpha\lambda_i| < 1$ for all $i$, i.e. $0 < \alpha\lambda_i < 2$ for all
$i$, i.e. $0 < \alpha < 2/\lambda_{\max}$. $\square$

At $\alpha = 2/\lambda_{\max}$ the top component flips sign with constant size
(no convergence); above it the component grows like $|1 - \alpha\lambda_{\max}|^k$
(the slide's "big step size" overshoot, then divergence). The rate is
$\rho(\alpha) = \max_i|1 - \alpha\lambda_i|$; as $\alpha \to 0$, $\rho \to 1$
("too low, slow to converge"). For $\alpha < 2/\lambda_{\max}$ the cost also
decreases monotonically, since $J(w^{(k)}) - J(w^*) = \tfrac12 e_k^\top H e_k$
and every mode shrinks by $(1 - \alpha\lambda_i)^2 < 1$.
"""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import linear_regression as lr
from functional_nn import losses
from functional_nn._x64 import float64_mode
from functional_nn.backprop import value_and_grad
from functional_nn.network import MLP, Dense
from proofs._numerics import central_difference

X_SMALL = (0, 1, 2, 3)
T_SMALL = (1, 3, 2, 5)


NET = MLP((1, 1), output_activation="linear")  # h(x) = w0 + w1 x: w is w1, b is w0


@jax.jit
def _costs(w, xs, ts, params):
    return lr.cost(w, xs, ts), losses.mse(NET.apply(params, xs[:, None]), ts[:, None])


@jax.jit  # the library's partials by every route, in one compilation
def _partials(w, xs, ts):
    params = (Dense(w[1:, None], w[:1]),)
    engines = [
        value_and_grad(NET, "mse", method=m)(params, xs[:, None], ts[:, None])[1][0]
        for m in ("manual", "autodiff")
    ]
    return (
        lr.gradient(w, xs, ts),
        jax.grad(lr.cost)(w, xs, ts),
        [jnp.stack([g.b[0], g.w[0, 0]]) for g in engines],
    )


def test_cost_is_half_mean_squared_error():
    """J(w) = 1/(2m) Σ (w0 + w1 x_i − t_i)², exactly, against the library in float64."""
    w0, w1 = Fraction(1, 2), Fraction(1)
    m = len(X_SMALL)
    exact = Fraction(1, 2 * m) * sum((w0 + w1 * xi - ti) ** 2 for xi, ti in zip(X_SMALL, T_SMALL))
    assert exact == Fraction(5, 8)  # residuals −1/2, −3/2, 1/2, −3/2
    with float64_mode():
        xs, ts = (jax.device_put(np.asarray(v, np.float64)) for v in (X_SMALL, T_SMALL))
        w = np.array([float(w0), float(w1)])
        params = (Dense(jax.device_put(w[1:, None]), jax.device_put(w[:1])),)
        cost, network_cost = _costs(jax.device_put(w), xs, ts, params)
    assert float(cost) == float(exact)
    # The general loss: J = (1/K) Σ_k ½ (ŷ_k − y_k)² on a 1–1 linear network is the same number.
    assert float(network_cost) == float(exact)


def test_gradient_descent_update_uses_the_partials():
    m = 3
    w0, w1 = sp.symbols("w0 w1", real=True)
    xs_sym = sp.symbols("x1:4", real=True)
    ts_sym = sp.symbols("t1:4", real=True)
    residuals = [w0 + w1 * xi - ti for xi, ti in zip(xs_sym, ts_sym)]
    J = sp.Rational(1, 2 * m) * sum(r**2 for r in residuals)
    assert sp.expand(sp.diff(J, w0) - sp.Rational(1, m) * sum(residuals)) == 0
    assert (
        sp.expand(
            sp.diff(J, w1) - sp.Rational(1, m) * sum(r * xi for r, xi in zip(residuals, xs_sym))
        )
        == 0
    )
    rng = np.random.default_rng(0)
    xs_np = rng.uniform(-1, 2, 20)
    ts_np = 1.0 + 2.0 * xs_np + 0.3 * rng.standard_normal(20)
    w = np.array([-0.4, 0.7])
    numpy_cost = lambda v: np.sum((v[0] + v[1] * xs_np - ts_np) ** 2) / (2 * len(xs_np))
    with float64_mode():
        xs, ts = jax.device_put(xs_np), jax.device_put(ts_np)
        grad, autodiff, engines = jax.tree.map(np.asarray, _partials(jax.device_put(w), xs, ts))
        np.testing.assert_allclose(grad, autodiff, rtol=1e-13)
        np.testing.assert_allclose(grad, central_difference(numpy_cost, w), rtol=1e-8)
        # The general engines (manual and autodiff) give the same partials.
        for engine in engines:
            np.testing.assert_allclose(engine, grad, rtol=1e-13)
        # One library step is w − α ∇J(w) on both coordinates at once, and it lowers J.
        alpha = 0.1
        traj = lr.gradient_descent(
            xs, ts, learning_rate=alpha, num_steps=1, w_init=jax.device_put(w)
        )
        np.testing.assert_allclose(traj.weights[1], w - alpha * grad, rtol=1e-15)
        assert float(traj.costs[1]) < float(traj.costs[0])


def test_gd_on_quadratic_converges_iff_alpha_below_two_over_lambda_max():
    alpha, lam = sp.symbols("alpha lambda", real=True)
    # |1 − αλ| < 1  <=>  0 < α < 2/λ, for a positive eigenvalue λ (here λ = 3/2 as a witness, then symbolic).
    region = sp.solve_univariate_inequality(
        sp.Abs(1 - alpha * sp.Rational(3, 2)) < 1, alpha, relational=False
    )
    assert region == sp.Interval.open(0, sp.Rational(4, 3))
    lam_pos = sp.symbols("lambda_", positive=True)
    assert (
        sp.simplify((1 - alpha * lam_pos).subs(alpha, 2 / lam_pos)) == -1
    )  # the boundary: modulus exactly 1
    # The error recursion e ← (I − αH) e, symbolically: ∇J(w) = H (w − w*).
    h11, h12, h22, a, b, s1, s2 = sp.symbols("h11 h12 h22 a b s1 s2", real=True)
    H = sp.Matrix([[h11, h12], [h12, h22]])
    w_star, w = sp.Matrix([s1, s2]), sp.Matrix([a, b])
    Jq = (w - w_star).T * H * (w - w_star) / 2
    grad = sp.Matrix([sp.diff(Jq[0], v) for v in (a, b)])
    assert sp.expand(grad - H * (w - w_star)) == sp.zeros(2, 1)
    step = w - alpha * grad
    assert sp.expand((step - w_star) - (sp.eye(2) - alpha * H) * (w - w_star)) == sp.zeros(2, 1)

    with float64_mode():
        rng = np.random.default_rng(1)
        xs = jnp.asarray(rng.uniform(-1.0, 2.0, 30))
        ts = jnp.asarray(0.5 - 1.5 * np.asarray(xs) + 0.2 * rng.standard_normal(30))
        lams, vecs = np.linalg.eigh(np.asarray(lr.hessian(xs)))
        critical = float(lr.divergence_threshold(xs))
        assert abs(critical - 2.0 / lams[-1]) < 1e-12
        w_star = np.asarray(lr.closed_form(xs, ts))
        e0 = -w_star  # w_init = 0
        top = abs(float(vecs[:, -1] @ e0))  # the start's component along the top eigenvector
        n = 400

        def final_error(step_size):
            traj = lr.gradient_descent(xs, ts, learning_rate=step_size, num_steps=n)
            return np.linalg.norm(np.asarray(traj.weights[-1]) - w_star), np.asarray(traj.costs)

        # Below: ‖e_n‖ <= ρ^n ‖e_0‖ with ρ = max |1 − αλ| < 1, and J decreases monotonically.
        rho = float(lr.contraction_factor(xs, 0.98 * critical))
        below, costs = final_error(0.98 * critical)
        assert rho < 1 and below <= rho**n * np.linalg.norm(e0) * (1 + 1e-6) + 1e-12
        assert below < 1e-6 * np.linalg.norm(e0)
        assert np.all(np.diff(costs) <= 1e-15)
        # At α = 2/λ_max the top component keeps its size |1 − αλ_max|^n = 1: no convergence.
        at, _ = final_error(critical)
        assert at >= 0.99 * top > 0
        # Above: the top component grows like |1 − αλ_max|^n = 1.02^n.
        above, _ = final_error(1.02 * critical)
        assert above >= 0.99 * top * 1.02**n
        # Far below: ρ(α) → 1 as α → 0, so after the same n steps the error is still large.
        slow, _ = final_error(0.01 * critical)
        rho_slow = float(lr.contraction_factor(xs, 0.01 * critical))
        bottom = abs(float(vecs[:, 0] @ e0))
        assert rho_slow > 0.99 and slow >= 0.99 * bottom * rho_slow**n
        assert slow > 0.05 * np.linalg.norm(e0)
