r"""The perceptron convergence theorem (Novikoff's mistake bound $(R/\gamma)^2$).

Lecture section **History of neural networks → Perceptron solution**: "Weights
and thresholds can be determined analytically or by a learning algorithm." For
the perceptron rule this holds exactly when the data are linearly separable,
by Novikoff's theorem. Library: :func:`functional_nn.neurons.train_perceptron`,
``novikoff_bound``, ``margin``, ``separable_data``.

## Setup

Augmented inputs $\tilde x_k = (1, x_k)$, targets $t_k \in \{0, 1\}$, signs
$s_k = 2t_k - 1$, output $y = U(w\cdot\tilde x)$ with $U(z) = \mathbb 1[z \ge 0]$,
rule $w \leftarrow w + \alpha\tilde x_k(t_k - y_k)$ from $w = 0$. Assume
$\lVert\tilde x_k\rVert \le R$ and a unit vector $w^*$ with
$s_k\,(w^*\cdot\tilde x_k) \ge \gamma > 0$ for all $k$ (separation with margin $\gamma$).

## Theorem (Novikoff 1962)

The perceptron makes at most $(R/\gamma)^2$ mistakes, in any order of presentation.

*Proof.* On a mistake $t_k - y_k = s_k$ and $s_k(w\cdot\tilde x_k) \le 0$ (a
false positive has $w\cdot\tilde x_k \ge 0$, a false negative
$w\cdot\tilde x_k < 0$), and the update is $w' = w + \alpha s_k\tilde x_k$. Then

1. $w^*\cdot w' = w^*\cdot w + \alpha s_k(w^*\cdot\tilde x_k) \ge w^*\cdot w + \alpha\gamma$;
2. $\lVert w'\rVert^2 = \lVert w\rVert^2 + 2\alpha s_k(w\cdot\tilde x_k) + \alpha^2\lVert\tilde x_k\rVert^2 \le \lVert w\rVert^2 + \alpha^2R^2$.

Correct answers change nothing. After $M$ mistakes, by induction from $w = 0$,
$w^*\cdot w \ge M\alpha\gamma$ and $\lVert w\rVert^2 \le M\alpha^2R^2$. By
Cauchy–Schwarz, $M\alpha\gamma \le w^*\cdot w \le \lVert w\rVert \le \sqrt M\,\alpha R$,
so $\sqrt M \le R/\gamma$, i.e. $M \le (R/\gamma)^2$. $\square$

$\alpha$ cancels: from $w = 0$ the learning rate scales $w$ and changes no
prediction. Once an epoch passes without a mistake the data are separated and
the rule stops changing $w$.

## Check

On generated data with a known separator and margin the library's total
mistakes stay within ``novikoff_bound`` (in data order and reversed); an
independent step-by-step run here verifies the two invariants after every
mistake and ends at the library's weights, and the learning rate is shown to
cancel.
"""

from __future__ import annotations

import numpy as np

from functional_nn import neurons


def _run_with_invariants(x, t, w_star, gamma, radius, alpha=1.0, epochs=200):
    """The rule in numpy, asserting steps 1 and 2 of the proof after every mistake."""
    xa = np.concatenate([np.ones((x.shape[0], 1)), x], axis=1)
    s = 2 * t - 1
    w = np.zeros(xa.shape[1])
    mistakes = 0
    for _ in range(epochs):
        wrong = 0
        for k in range(len(t)):
            y = 1 if w @ xa[k] >= 0 else 0
            if y != t[k]:
                assert s[k] * (w @ xa[k]) <= 0
                w = w + alpha * xa[k] * (t[k] - y)
                mistakes += 1
                wrong += 1
                assert w_star @ w >= mistakes * alpha * gamma * (1 - 1e-9)  # step 1, induced
                assert w @ w <= mistakes * alpha**2 * radius**2 * (1 + 1e-9)  # step 2, induced
        if wrong == 0:
            return w, mistakes
    raise AssertionError("did not converge on separable data")


def _separable(seed: int, m: int = 60, n: int = 2, margin: float = 0.1):
    """Points in [−1, 1]^n labelled by a random unit hyperplane w*, pushed off it to margin ``margin``.

    Returns ``(x (m, n), t (m,), w* (n + 1,))``; ``w*`` separates with margin exactly ``margin``.
    (The library's ``neurons.separable_data`` does the same in JAX; numpy here keeps the proof
    independent of it and free of compilation.)
    """
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n)
    w0 = rng.uniform(-0.3, 0.3)
    v = np.sqrt(1 - w0**2) * v / np.linalg.norm(v)  # ‖(w0, v)‖ = 1
    x = rng.uniform(-1, 1, (m, n))
    d = w0 + x @ v
    s = np.where(d >= 0, 1.0, -1.0)
    x = x + (s * np.maximum(margin - s * d, 0.0))[:, None] * (v / (v @ v))[None, :]
    return x, (s > 0).astype(np.int32), np.concatenate([[w0], v])


def test_perceptron_mistakes_within_novikoff_bound():
    for seed, margin in ((0, 0.1), (1, 0.05), (2, 0.2)):
        x, t, w_true = _separable(seed, margin=margin)
        x = x.astype(np.float32).astype(np.float64)  # the values the (float32) library run sees
        bound = neurons.novikoff_bound(w_true, x, t)
        gamma = neurons.margin(w_true, x, t)
        radius = float(
            np.max(np.linalg.norm(np.concatenate([np.ones((len(t), 1)), x], axis=1), axis=1))
        )
        assert abs(gamma - margin) < 1e-6 and abs(bound - (radius / gamma) ** 2) < 1e-9 * bound
        result = neurons.train_perceptron(x, t, max_epochs=300)
        assert bool(result.converged)
        assert int(result.total_mistakes) <= bound
        assert np.array_equal(np.asarray(neurons.perceptron_output(result.w, x)), t)
        # Any order of presentation respects the same bound (here: the data reversed).
        reverse = neurons.train_perceptron(x[::-1], t[::-1], max_epochs=300)
        assert bool(reverse.converged) and int(reverse.total_mistakes) <= bound
        # The proof's invariants hold after every mistake, and the independent run agrees with the library.
        w_np, mistakes = _run_with_invariants(x, t, w_true, gamma, radius)
        assert mistakes == int(result.total_mistakes)
        np.testing.assert_allclose(np.asarray(result.w), w_np, rtol=1e-5, atol=1e-5)


def test_perceptron_learning_rate_cancels_from_zero():
    x, t, _ = _separable(3)
    runs = [
        neurons.train_perceptron(x, t, learning_rate=a, max_epochs=300) for a in (1.0, 0.25, 4.0)
    ]
    for r, a in zip(runs[1:], (0.25, 4.0)):
        assert np.array_equal(np.asarray(r.mistakes), np.asarray(runs[0].mistakes))
        np.testing.assert_array_equal(
            np.asarray(r.w), a * np.asarray(runs[0].w)
        )  # powers of two: exact
