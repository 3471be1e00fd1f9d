r"""Neuron models: McCulloch–Pitts, the perceptron rule, and Adaline as stochastic gradient descent.

Lecture section **History of neural networks** (McCulloch–Pitts; Perceptron;
Adaline). Library: :mod:`functional_nn.neurons` — ``fire`` (both readings of
inhibition), ``and_gate``, ``or_gate``, ``not_gate``, ``train_perceptron``,
``perceptron_output``, ``adaline_output``, ``train_adaline``, ``least_squares``.

## McCulloch–Pitts unit (holds; a convention on inhibition)

Binary inputs $x_i \in \{0, 1\}$, weights $w_i$, threshold $\theta$; the unit
fires, $y = 1$, iff $\sum_i w_i x_i \ge \theta$, and stays at $0$ below the
threshold — "until inputs summed up to a certain threshold level, output would
remain zero". AND ($w = (1, 1)$, $\theta = 2$), OR ($\theta = 1$) and NOT
($w = -1$, $\theta = 0$) are single units.

*Convention.* The slide's "inhibitory connections have negative weights" is the
modern *weighted* reading, in which an active inhibitory input can be outvoted.
McCulloch and Pitts (1943) used *absolute* inhibition: any active inhibitory
input prevents firing. The readings differ, e.g. $w = (1, 1, -1)$, $\theta = 1$
on $x = (1, 1, 1)$: weighted sum $1 \ge 1$ fires; absolute inhibition vetoes.

## Perceptron rule (notation)

With $x_0 = 1$ and $y = U(\sum_{j=0}^n w_jx_j)$, $U(z) = \mathbb 1[z \ge 0]$,
Rosenblatt's rule is
$$w_j^{(t+1)} = w_j^{(t)} + \alpha\,x_j\,(t - y), \qquad j = 0, \dots, n .$$
The slide writes $w_j^{(t)} \leftarrow w_j^{(t)} + \alpha x_j(t - y)$: the same
superscript on both sides (read as an equation it claims $\alpha x_j(t - y) = 0$,
false after every mistake), and the iteration counter $(t)$ shares its letter
with the target $t$. The Adaline slide writes it correctly, $w^{(t+1)}$ on the left.
Since $t - y \in \{-1, 0, 1\}$, the rule adds $\alpha x$ after a false
negative, subtracts it after a false positive, and changes nothing when right.

## Adaline = SGD on the squared error

$y = \sum_{j=0}^n w_jx_j$ (linear, $x_0 = 1$). For one example with
$E = \tfrac12(t - y)^2$,
$$\frac{\partial E}{\partial w_j} = -(t - y)\,x_j
\quad\Longrightarrow\quad
w_j^{(t+1)} = w_j^{(t)} - \alpha\frac{\partial E}{\partial w_j} = w_j^{(t)} + \alpha x_j(t - y),$$
the slide's update: one stochastic-gradient step of linear regression — **holds**.
*Convention*: the slide names the error $(t - y)^2$, whose gradient is
$-2(t - y)x_j$; the update is SGD on $(t - y)^2$ with step $\alpha/2$, i.e. the
factor 2 is absorbed into $\alpha$.

## Where Adaline converges (a condition is missing)

Averaged over the data the update is gradient descent on
$J(w) = \frac{1}{2m}\lVert Xw - t\rVert^2$; its fixed points satisfy
$\nabla J = -\frac1m X^\top(t - Xw) = 0$, the **normal equations**
$X^\top X w^* = X^\top t$: the least-squares solution. Full-batch updates reach
it for $0 < \alpha < 2/\lambda_{\max}(X^\top X/m)$ (``proof_gradient_descent.py``).
But the slide's rule is per example with a constant $\alpha$: at $w^*$ a single
example's step $\alpha x^i(t^i - x^{i\top}w^*)$ is not zero unless that residual
is, so on data not fitted exactly the iterates never settle at $w^*$ — they
approach a cycle $O(\alpha)$ away from it. "Converges to the least squares
error" holds for the full-batch rule, or per example with decaying steps
$\alpha_k$ satisfying $\sum\alpha_k = \infty$, $\sum\alpha_k^2 < \infty$
(``proof_learning_rate_schedule.py``). The slide fixes no step schedule (and the
lecture itself later recommends a decaying $\alpha_k$), so the ledger counts the
claim as incomplete — *notation*, a missing condition — rather than false.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from functional_nn import neurons
from functional_nn._x64 import float64_mode


def test_mcculloch_pitts_unit_fires_at_threshold():
    for n in (2, 3):
        inputs = neurons.all_binary_inputs(n)
        for gate, expected in (
            (neurons.and_gate(n), inputs.all(axis=1)),
            (neurons.or_gate(n), inputs.any(axis=1)),
        ):
            out = np.asarray(neurons.fire(gate, inputs))[:, 0]
            assert np.array_equal(out, expected.astype(int))
            # y = 1 iff Σ w x ≥ θ, binary output.
            drive = inputs @ np.asarray(gate.weights)[:, 0]
            assert np.array_equal(out, (drive >= float(gate.threshold[0])).astype(int))
    assert np.array_equal(np.asarray(neurons.fire(neurons.not_gate(), [[0], [1]]))[:, 0], [1, 0])


def test_inhibition_weighted_versus_absolute():
    """Convention: the slide's negative weights (weighted) vs McCulloch–Pitts' absolute inhibition."""
    unit = neurons.mcculloch_pitts([1, 1, -1], 1)
    x = [[1, 1, 1]]
    assert int(neurons.fire(unit, x, inhibition="weighted")[0, 0]) == 1  # 1 + 1 − 1 = 1 ≥ 1
    assert int(neurons.fire(unit, x, inhibition="absolute")[0, 0]) == 0  # vetoed
    # They agree wherever no inhibitory input is active.
    inputs = neurons.all_binary_inputs(3)
    quiet = inputs[:, 2] == 0
    weighted = np.asarray(neurons.fire(unit, inputs, inhibition="weighted"))[quiet]
    absolute = np.asarray(neurons.fire(unit, inputs, inhibition="absolute"))[quiet]
    assert np.array_equal(weighted, absolute)


def test_perceptron_rule_updates_w_t_plus_one():
    """Notation: w^(t+1) = w^(t) + α x (t − y); read with w^(t) on both sides it fails after a mistake."""
    x = np.array([[0.5, -1.0]])
    target = np.array([1])
    w_t = np.array([-0.25, 0.5, 0.75])  # w_0 (bias), w_1, w_2
    xa = np.concatenate([[1.0], x[0]])
    y = int(w_t @ xa >= 0)
    assert y == 0 and target[0] == 1  # a false negative: a mistake
    alpha = 0.5
    step = alpha * xa * (target[0] - y)
    as_written_holds = np.array_equal(
        w_t, w_t + step
    )  # "w^(t) = w^(t) + α x (t − y)" as an equation
    corrected = w_t + step  # w^(t+1)
    assert not as_written_holds
    result = neurons.train_perceptron(x, target, learning_rate=alpha, max_epochs=1, w_init=w_t)
    np.testing.assert_array_equal(np.asarray(result.w), corrected)
    assert int(neurons.perceptron_output(result.w, x)[0]) == 1
    # A correct answer changes nothing.
    again = neurons.train_perceptron(x, target, learning_rate=alpha, max_epochs=1, w_init=corrected)
    np.testing.assert_array_equal(np.asarray(again.w), corrected)


def test_adaline_rule_is_sgd_on_half_squared_error():
    ws = sp.symbols("w0:3", real=True)
    xs = (1,) + sp.symbols("x1:3", real=True)
    t, alpha = sp.symbols("t alpha", real=True)
    y = sum(w * x for w, x in zip(ws, xs))
    half = (t - y) ** 2 / 2
    for w, x in zip(ws, xs):
        assert sp.expand(-alpha * sp.diff(half, w) - alpha * x * (t - y)) == 0
        # Convention: the gradient of (t − y)² has a factor 2, absorbed in α.
        assert sp.expand(-(alpha / 2) * sp.diff((t - y) ** 2, w) - alpha * x * (t - y)) == 0
    with float64_mode():
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.standard_normal((6, 2)))
        target = jnp.asarray(rng.standard_normal(6))
        w = jnp.asarray([0.1, -0.2, 0.3])
        np.testing.assert_allclose(neurons.adaline_output(w, x), x @ w[1:] + w[0], rtol=1e-13)
        # One online epoch of the library = the m SGD steps on ½ (t − y)², in data order.
        step_loss = lambda v, xi, ti: 0.5 * (ti - (v[0] + xi @ v[1:])) ** 2
        sgd_step = jax.jit(lambda v, xi, ti: v - 0.05 * jax.grad(step_loss)(v, xi, ti))
        manual = w
        for i in range(6):
            manual = sgd_step(manual, x[i], target[i])
        result = neurons.train_adaline(
            x, target, learning_rate=0.05, num_epochs=1, batch_size=1, w_init=w
        )
        np.testing.assert_allclose(result.w, manual, rtol=1e-13)


def test_adaline_constant_step_does_not_converge_to_least_squares():
    """Notation (a missing condition): with a constant α per-example Adaline stays O(α) from the LS solution;
    full batch or a decaying α_k reaches it."""
    with float64_mode():
        rng = np.random.default_rng(1)
        x = jnp.asarray(rng.uniform(-1, 1, (20, 2)))
        target = jnp.asarray(
            0.5 + np.asarray(x) @ np.array([1.5, -2.0]) + 0.3 * rng.standard_normal(20)
        )
        w_star = neurons.least_squares(x, target)
        xa = np.concatenate([np.ones((20, 1)), np.asarray(x)], axis=1)
        # The fixed point of the averaged update: the normal equations XᵀX w* = Xᵀ t.
        np.testing.assert_allclose(
            xa.T @ xa @ w_star, xa.T @ np.asarray(target), rtol=1e-12, atol=1e-12
        )
        # As written (K = 1, constant α): two far-apart epochs agree with each other, not with w*.
        alpha, epochs = 0.1, 400
        online = neurons.train_adaline(
            x, target, learning_rate=alpha, num_epochs=epochs, batch_size=1
        )
        online_more = neurons.train_adaline(
            x, target, learning_rate=alpha, num_epochs=epochs, batch_size=1, w_init=online.w
        )  # 400 epochs more
        as_written_gap = float(np.linalg.norm(np.asarray(online.w) - w_star))
        assert as_written_gap > 1e-3
        assert (
            float(np.linalg.norm(np.asarray(online_more.w) - np.asarray(online.w))) < 1e-9
        )  # settled elsewhere
        # Halving α roughly halves the gap: it is O(α), not 0.
        half = neurons.train_adaline(
            x, target, learning_rate=alpha / 2, num_epochs=epochs, batch_size=1
        )
        half_gap = float(np.linalg.norm(np.asarray(half.w) - w_star))
        assert 0.3 * as_written_gap < half_gap < 0.7 * as_written_gap
        # Corrected: the full-batch rule (α < 2/λ_max) converges to w*.
        corrected = neurons.train_adaline(
            x, target, learning_rate=1.0, num_epochs=3000, batch_size=None
        )
        assert float(np.linalg.norm(np.asarray(corrected.w) - w_star)) < 1e-10
        # ... and so do per-example steps α_k = c1 / (k + c2) that satisfy Robbins–Monro (much closer).
        # (c1 λ_min(XᵀX/m) > 1/2 here, so the start is forgotten faster than the noise averages out.)
        decaying = neurons.train_adaline(
            x, target, learning_rate=lambda k: 10.0 / (k + 100.0), num_epochs=epochs, batch_size=1
        )
        assert float(np.linalg.norm(np.asarray(decaying.w) - w_star)) < 0.1 * as_written_gap
