r"""XOR is not linearly separable; one hidden layer computes it.

Lecture section **History of neural networks** (Minsky and Papert: "Perceptrons
could only solve linearly separable problems ... it is not possible for
Perceptrons to learn an XOR function"; "The following multi-layer Perceptron
can solve XOR problem"; "The middle layer is a hidden layer") and
**Decision surface of perceptron**. **All hold.** Library:
:mod:`functional_nn.neurons` — ``xor_data``, ``xor_certificate``,
``verify_certificate``, ``separability_certificate``, ``train_perceptron``,
``perceptron_output``, ``xor_threshold_network``, ``xor_network``.

## A perceptron's decision surface is a hyperplane

$y = U(w_0 + w_1x_1 + \dots + w_nx_n)$ is $1$ exactly on the closed half-space
$\{x : w\cdot\tilde x \ge 0\}$: the boundary is the hyperplane
$w\cdot\tilde x = 0$. So a single perceptron computes a labelling only if a
hyperplane separates the $1$s from the $0$s — it "can only solve linearly
separable problems".

## XOR is not linearly separable

Suppose $w = (w_0, w_1, w_2)$ separates XOR with $U(z) = \mathbb 1[z \ge 0]$:
$$(0,0)\mapsto 0:\ w_0 < 0,\quad (0,1)\mapsto 1:\ w_0 + w_2 \ge 0,\quad
  (1,0)\mapsto 1:\ w_0 + w_1 \ge 0,\quad (1,1)\mapsto 0:\ w_0 + w_1 + w_2 < 0 .$$
Add the two middle inequalities: $2w_0 + w_1 + w_2 \ge 0$, i.e.
$w_0 + w_1 + w_2 \ge -w_0 > 0$, contradicting the last. Equivalently, the
multipliers $\lambda = (1, 1, 1, 1)$ on the signed rows $s_k\tilde x_k$ sum to
the zero vector (Gordan's alternative), so no $w$ makes all four
$s_k(w\cdot\tilde x_k)$ positive. Consequently the perceptron rule never
completes an epoch without a mistake on XOR.

## One hidden layer computes XOR

Hidden units $h_1 = U(x_1 + x_2 - \tfrac12)$ (OR) and
$h_2 = U(x_1 + x_2 - \tfrac32)$ (AND), output $y = U(h_1 - h_2 - \tfrac12)$ ("at
least one, not both"):

| $x_1$ | $x_2$ | $h_1$ | $h_2$ | $y$ |
|---|---|---|---|---|
| 0 | 0 | 0 | 0 | 0 |
| 0 | 1 | 1 | 0 | 1 |
| 1 | 0 | 1 | 0 | 1 |
| 1 | 1 | 1 | 1 | 0 |

In the hidden coordinates $(h_1, h_2)$ the four inputs become three points,
$(0,0)\mapsto 0$, $(1,0)\mapsto 1$, $(1,1)\mapsto 0$, which the output's line
$h_1 - h_2 = \tfrac12$ separates: the hidden layer makes the problem linearly
separable.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import jax
import numpy as np
import sympy as sp

from functional_nn import neurons
from functional_nn.network import MLP, Dense


def test_perceptron_decision_surface_is_a_half_space():
    rng = np.random.default_rng(0)
    w = np.array([0.3, -1.2, 0.8])
    points = rng.uniform(-2, 2, (200, 2))
    out = np.asarray(neurons.perceptron_output(w, points))
    assert np.array_equal(out, (w[0] + points @ w[1:] >= 0).astype(int))
    # AND and OR are separable (a separating hyperplane exists); XOR is not.
    x, _ = neurons.xor_data()
    for table in ((0, 0, 0, 1), (0, 1, 1, 1)):
        cert = neurons.separability_certificate(x, np.array(table))
        assert isinstance(cert, neurons.SeparatingHyperplane) and neurons.verify_certificate(
            cert, x, np.array(table)
        )


def test_xor_is_not_linearly_separable():
    w0, w1, w2 = sp.symbols("w0 w1 w2", real=True)
    # Signed margins s_k (w · x̃_k) a separator needs positive, rows (0,0), (0,1), (1,0), (1,1).
    margins = [-w0, w0 + w2, w0 + w1, -(w0 + w1 + w2)]
    assert sp.expand(sum(margins)) == 0  # λ = (1, 1, 1, 1): the sum of four positives would be 0
    x, t = neurons.xor_data()
    cert = neurons.xor_certificate()
    assert cert.multipliers == (Fraction(1),) * 4
    assert neurons.verify_certificate(cert, x, t)
    assert all(c == 0 for c in neurons.certificate_combination(cert.multipliers, x, t))
    assert isinstance(neurons.separability_certificate(x, t), neurons.InseparabilityCertificate)
    # Hence the perceptron rule never finishes an epoch without a mistake.
    result = neurons.train_perceptron(x, t, max_epochs=50)
    assert not bool(result.converged)
    assert int(result.num_epochs) == 50 and int(np.min(np.asarray(result.mistakes))) >= 1


@functools.partial(jax.jit, static_argnums=(0, 1))
def _forward(net, sigmoid_net, params, steep, x):
    return net.forward(params, x), sigmoid_net.apply(steep, x)


def test_one_hidden_layer_computes_xor():
    x, t = neurons.xor_data()
    net, params = neurons.xor_threshold_network()
    assert net.layer_sizes == (2, 2, 1)
    sigmoid_net = MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    steep = tuple(
        Dense(
            jax.device_put(20.0 * np.asarray(layer.w)), jax.device_put(20.0 * np.asarray(layer.b))
        )
        for layer in params
    )
    trace, probs = _forward(net, sigmoid_net, params, steep, jax.device_put(x.astype(np.float32)))
    out = np.asarray(trace.activations[-1])[:, 0]
    assert np.array_equal(out.astype(int), t)
    hidden = np.asarray(trace.activations[1]).astype(int)
    assert hidden.tolist() == [[0, 0], [1, 0], [1, 0], [1, 1]]  # (OR, AND) per input row
    # The McCulloch–Pitts version, in both readings of inhibition.
    for reading in neurons.INHIBITION_READINGS:
        _, outputs = neurons.truth_table(neurons.xor_network(), inhibition=reading)
        assert np.array_equal(outputs[:, 0], t)
    # The same architecture with steep sigmoids, thresholded at 1/2 (a differentiable version).
    assert np.array_equal((np.asarray(probs)[:, 0] >= 0.5).astype(int), t)
