r"""XOR, the function Minsky and Papert showed one perceptron cannot compute.

* :func:`xor_certificate`: the exact proof that XOR is not linearly separable.
  With ``s = (−1, +1, +1, −1)`` on the inputs ``(0,0), (0,1), (1,0), (1,1)`` a
  separating ``w = (w_0, w_1, w_2)`` would need

      −w_0 > 0,   w_0 + w_2 > 0,   w_0 + w_1 > 0,   −(w_0 + w_1 + w_2) > 0.

  Adding all four (multipliers ``λ = (1, 1, 1, 1)``) gives ``0 > 0``.
* :func:`xor_threshold_network`: the slide's "multi-layer perceptron" that solves
  XOR with a hidden layer of threshold units, OR and AND, and an output unit
  "OR but not AND".

The McCulloch–Pitts version is :func:`functional_nn.neurons.xor_network`.
"""

from __future__ import annotations

from fractions import Fraction

import jax.numpy as jnp
import numpy as np

from functional_nn.network import MLP, Dense, Params
from functional_nn.neurons.separability import InseparabilityCertificate

__all__ = ["xor_data", "xor_certificate", "xor_threshold_network"]


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table: inputs ``(4, 2)`` and targets ``(4,)``, int32, rows (0,0), (0,1), (1,0), (1,1)."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.int32)
    return x, (x[:, 0] ^ x[:, 1]).astype(np.int32)


def xor_certificate() -> InseparabilityCertificate:
    """Multipliers ``λ = (1, 1, 1, 1)`` for the rows of :func:`xor_data` (module doc).

    ``verify_certificate(xor_certificate(), *xor_data())`` checks it exactly.
    """
    return InseparabilityCertificate((Fraction(1),) * 4)


def xor_threshold_network() -> tuple[MLP, Params]:
    """A hand-set 2-2-1 network of threshold units ``U(z) = 1[z ≥ 0]`` that computes XOR.

    Hidden unit 1 is OR, ``U(x_1 + x_2 − 1/2)``; hidden unit 2 is AND,
    ``U(x_1 + x_2 − 3/2)``; the output is ``U(h_1 − h_2 − 1/2)``: "at least one but
    not both". Each hidden unit draws one line in the input plane; XOR is the strip
    between them.

    Returns:
        ``(net, params)`` with ``net.apply(params, x)`` of shape ``(batch, 1)``.
    """
    net = MLP((2, 2, 1), activation="threshold", output_activation="threshold")
    params = (
        Dense(w=jnp.array([[1.0, 1.0], [1.0, 1.0]]), b=jnp.array([-0.5, -1.5])),  # columns: OR, AND
        Dense(w=jnp.array([[1.0], [-1.0]]), b=jnp.array([-0.5])),  # OR and not AND
    )
    return net, params
