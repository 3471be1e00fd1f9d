r"""The one-hot example: three classes as $(1,0,0)$, $(0,1,0)$, $(0,0,1)$.

Lecture section **Backpropagation algorithm → Computing loss → Example**:
"$C = 3$ classes ... $y \in \{1, 2, 3\}$ ... we use a binary vector $(1, 0, 0)$
to represent class 1, $(0, 1, 0)$ class 2, $(0, 0, 1)$ class 3. Then use the
above vectors for computing loss function." **Holds.** Library:
:func:`functional_nn.data.one_hot`, and the integer-label path of
:func:`functional_nn.losses.prepare_targets` used by
``categorical_cross_entropy``.

## Encoding

Class $c \in \{1, \dots, C\}$ maps to $e_c$, the $c$-th standard basis vector:
$(e_c)_j = \mathbb 1[j = c]$. The map is injective ($e_c \ne e_{c'}$ for
$c \ne c'$), each code has exactly one $1$ and sums to $1$, so it is a
probability vector — the point mass on the true class.

*Convention*: the lecture numbers classes $1..C$; the library (like NumPy and
JAX) numbers them $0..C-1$, so lecture class $c$ is library label $c - 1$.

## Why it is used in the loss

With the one-hot $y = e_c$ the categorical cross-entropy collapses to one term,
$$\sum_{j=1}^C -y_j\ln\hat y_j = -\ln\hat y_c ,$$
the negative log-probability the network gives the true class; and because
$\sum_j y_j = 1$, the softmax output delta is $\hat y - y$
(``proof_output_delta.py``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from functional_nn import activations as act
from functional_nn import data, losses
from functional_nn._x64 import float64_mode

LECTURE_CODES = {1: (1, 0, 0), 2: (0, 1, 0), 3: (0, 0, 1)}


def test_one_hot_example_three_classes():
    lecture_classes = np.array([1, 2, 3])
    codes = np.asarray(
        data.one_hot(lecture_classes - 1, 3)
    )  # convention: lecture class c is label c − 1
    assert [tuple(int(v) for v in row) for row in codes] == [
        LECTURE_CODES[c] for c in lecture_classes
    ]
    assert np.array_equal(codes, np.eye(3)) and np.all(codes.sum(axis=1) == 1)
    assert len({tuple(row) for row in codes}) == 3  # injective
    # The loss path accepts integer labels and encodes them the same way.
    prepared = losses.prepare_targets(
        "categorical_cross_entropy", jnp.asarray([0, 1, 2]), (3, 3), jnp.float32
    )
    assert np.array_equal(np.asarray(prepared), codes)


def test_one_hot_cross_entropy_picks_the_true_class():
    with float64_mode():
        logits = jnp.asarray([[0.2, 1.5, -0.7], [2.0, 0.1, 0.3], [-1.0, -0.5, 0.9]])
        labels = np.array([1, 0, 2])
        y = jnp.asarray(np.eye(3)[labels])
        log_probs = np.log(np.asarray(act.softmax(logits)))
        picked = -np.mean(log_probs[np.arange(3), labels])
        assert abs(float(losses.categorical_cross_entropy(logits, y)) - picked) < 1e-14
