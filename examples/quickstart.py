"""Quickstart: do the hand-derived gradients agree with jax.grad?

python examples/quickstart.py
"""

import jax
import jax.numpy as jnp

import functional_nn as fnn

net = fnn.MLP(layer_sizes=(2, 4, 1), activation="sigmoid", output_activation="sigmoid")
params = net.init(jax.random.key(0))
x, y = fnn.data.xor()  # the four XOR rows, labels 0/1
y = y[:, None].astype(jnp.float32)

loss, manual = fnn.value_and_grad(net, "binary_cross_entropy", method="manual")(params, x, y)
_, auto = jax.value_and_grad(fnn.objective(net, "binary_cross_entropy"))(params, x, y)
print(f"J = {loss:.6f}")
print("dJ/dw^1 manual:\n", manual[0].w, "\ndJ/dw^1 jax.grad:\n", auto[0].w)
print(fnn.compare_gradients(net, "binary_cross_entropy", params, x, y))
