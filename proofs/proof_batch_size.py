r"""Batch sizes, epochs and the $m = 1000$ example.

Lecture section **Backpropagation algorithm → Training a neural network**:
the loop over batches $S_B \subseteq S$ of size $K$, the definitions of *epoch*
("one forward pass and one backward pass of all training examples") and
*batch size*, the three regimes $K = 1$ (stochastic), $K \ll m$ (mini-batch),
$K = m$ (batch gradient descent), and the example: $m = 1000$; SGD uses 1000
batches of size 1; $K = 50$ gives 20 batches of size 50; batch GD uses one
batch of size 1000. **All hold.**

## Counting

An epoch partitions the $m$ examples (in some order) into consecutive batches
of size $K$; there are $\lceil m/K\rceil$ of them, the last one of size
$m - K(\lceil m/K\rceil - 1)$, and each example is used exactly once. For
$m = 1000$: $K = 1 \Rightarrow 1000$, $K = 50 \Rightarrow 1000/50 = 20$ exactly,
$K = 1000 \Rightarrow 1$. Each batch gives one update
$w^{t+1} = w^t - \alpha\nabla_w J$, so an epoch is $\lceil m/K\rceil$ updates.

## Batch losses average to the full loss

With $J_B = \frac1K\sum_{k\in B}\sum_c \ell_{kc}$ and equal batch sizes,
$$\frac{1}{m/K}\sum_{B} J_B = \frac{K}{m}\sum_B \frac1K \sum_{k\in B}\sum_c\ell_{kc}
  = \frac1m\sum_{k=1}^m\sum_c \ell_{kc} = J_S,$$
and by linearity the same holds for the gradients: the mini-batch gradients of
one epoch average to the full-batch gradient. Library:
:func:`functional_nn.schedules.steps_per_epoch` (updates per epoch),
:func:`functional_nn.train.batch_indices` (the batches ``fit`` uses in an
epoch), :func:`functional_nn.losses.mse` and
:func:`functional_nn.backprop.value_and_grad`.
"""

from __future__ import annotations

from fractions import Fraction

import jax
import numpy as np

from functional_nn import schedules, train
from functional_nn._x64 import float64_mode
from functional_nn.network import MLP
from proofs._numerics import jitted_value_and_grad, random_params


def epoch_batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive batches of ``order`` of size ``batch_size`` (the last may be shorter)."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def test_batch_size_example_m_1000():
    m = 1000
    stated = {1: (1000, 1), 50: (20, 50), 1000: (1, 1000)}  # K -> (number of batches, batch size)
    order = np.random.default_rng(0).permutation(m)
    for K, (count, size) in stated.items():
        assert Fraction(m, K).denominator == 1 and Fraction(m, K) == count  # exact: K divides m
        batches = epoch_batches(order, K)
        assert len(batches) == count and {len(b) for b in batches} == {size}
        assert np.array_equal(
            np.sort(np.concatenate(batches)), np.arange(m)
        )  # each example exactly once
    # K = 1 is SGD, 1 < K << m mini-batch, K = m batch gradient descent; a K that does not divide m:
    assert [len(b) for b in epoch_batches(order, 300)] == [300, 300, 300, 100]
    # The library: updates per epoch, and the batches fit draws in an epoch (K = 50: 20 × 50, each example once).
    assert [schedules.steps_per_epoch(m, K) for K in (1, 50, m)] == [1000, 20, 1]
    assert schedules.steps_per_epoch(m, None) == 1 and schedules.steps_per_epoch(m, 300) == 4
    indices, weights = (np.asarray(a) for a in train.batch_indices(jax.random.key(0), 0, m, 50))
    assert indices.shape == (20, 50) and np.all(weights == 1)
    assert np.array_equal(np.sort(indices.ravel()), np.arange(m))


def test_minibatch_losses_and_gradients_average_to_the_full_batch():
    m, K = 40, 8
    with float64_mode():
        net = MLP((3, 4, 2), activation="tanh", output_activation="linear")
        params = random_params(net.layer_sizes, seed=5, scale=0.5)
        rng = np.random.default_rng(6)
        x, y = rng.standard_normal((m, 3)), rng.standard_normal((m, 2))
        f = jitted_value_and_grad(net, "mse")
        full_value, full_grads = jax.tree.map(
            np.asarray, f(params, jax.device_put(x), jax.device_put(y))
        )
        batches = epoch_batches(rng.permutation(m), K)
        results = [
            jax.tree.map(np.asarray, f(params, jax.device_put(x[b]), jax.device_put(y[b])))
            for b in batches
        ]
    mean_value = sum(float(v) for v, _ in results) / len(batches)
    assert abs(mean_value - float(full_value)) < 1e-13
    mean_grads = jax.tree.map(lambda *g: sum(g) / len(batches), *[g for _, g in results])
    for a, b in zip(jax.tree.leaves(mean_grads), jax.tree.leaves(full_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_training_box_index_i_must_run_over_the_batch_not_over_s():
    """Notation: "for i ← 1 to K: give x_i" reads x_1..x_K of S, the same K examples for every batch S_B.

    The box's loop needs an index over the batch: for each (x_k, y_k) ∈ S_B, i.e. x_{i_1}, ..., x_{i_K} with
    S_B = {(x_{i_k}, y_{i_k})}. Read literally (i indexes S) every step sees the first K examples: the other
    m − K never reach the network. Read with an index over S_B, the step is the batch gradient the library
    computes for that batch.
    """
    m, K = 12, 4
    with float64_mode():
        net = MLP((2, 3, 1), activation="tanh", output_activation="linear")
        params = random_params(net.layer_sizes, seed=8, scale=0.5)
        rng = np.random.default_rng(9)
        x, y = rng.standard_normal((m, 2)), rng.standard_normal((m, 1))
        f = jitted_value_and_grad(net, "mse")
        batches = epoch_batches(rng.permutation(m), K)  # one epoch of batches S_B
        literal = [np.arange(K) for _ in batches]  # i ← 1..K indexes S: always x_1..x_K
        seen_literally = np.unique(np.concatenate(literal))
        assert seen_literally.size == K < m  # m − K examples are never given
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(m))  # the batches cover S
        for batch, prefix in zip(batches, literal):
            if np.array_equal(np.sort(batch), prefix):
                continue
            batch_grads = jax.tree.leaves(
                f(params, jax.device_put(x[batch]), jax.device_put(y[batch]))[1]
            )
            literal_grads = jax.tree.leaves(
                f(params, jax.device_put(x[prefix]), jax.device_put(y[prefix]))[1]
            )
            assert not all(np.allclose(a, b) for a, b in zip(batch_grads, literal_grads))
