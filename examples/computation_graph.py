"""What are the forward and backward values on the lecture's computation graph, and on a real network's?

The lecture decomposes linear regression's loss into atomic assignments
u = w1 x, ŷ = w0 + u, z = ŷ − y, L = z², a graph with input nodes (x, y),
parameter nodes (w0, w1) and compute nodes (u, ŷ, z, L). This script builds that
graph from the jaxpr of the Python function, evaluates every node forward,
back-propagates ∂L/∂node to every node, and checks each number against the
hand derivation (∂L/∂z = 2z, ∂L/∂ŷ = ∂L/∂u = ∂L/∂w0 = 2z, ∂L/∂w1 = 2z x,
∂L/∂x = 2z w1, ∂L/∂y = −2z). It then does the same for the loss of a 2-2-1 sigmoid
network and checks the parameter nodes' gradients against the manual backward
pass (fnn.backward). Both graphs are written as DOT text and as figures.

    python examples/computation_graph.py --x 2 --y 1 --w0 0.5 --w1 3 --out-dir out/computation_graph
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import functional_nn as fnn
from functional_nn import graph as G
from functional_nn.flags import parse_flags


def lecture_loss(x, y, w0, w1):
    """The slide's assignments, one per line."""
    u = w1 * x
    y_hat = w0 + u
    z = y_hat - y
    return z**2


def main(
    *,
    x: float = 2.0,
    y: float = 1.0,
    w0: float = 0.5,
    w1: float = 3.0,
    seed: int = 0,
    out_dir: str = "out/computation_graph",
) -> dict:
    """Build, check and draw both graphs; write ``*.dot`` and ``*.png`` to ``out_dir``.

    Args:
        seed: initial weights of the network example
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    g = G.build_graph(
        lecture_loss,
        jnp.float32(x),
        jnp.float32(y),
        jnp.float32(w0),
        jnp.float32(w1),
        parameters=("w0", "w1"),
        compute_names=("u", "y_hat", "z", "L"),
    )
    z = w0 + w1 * x - y
    by_hand = {  # node: (forward value, ∂L/∂node) derived on paper
        "x": (x, 2 * z * w1),
        "y": (y, -2 * z),
        "w0": (w0, 2 * z),
        "w1": (w1, 2 * z * x),
        "u": (w1 * x, 2 * z),
        "y_hat": (w0 + w1 * x, 2 * z),
        "z": (z, 2 * z),
        "L": (z**2, 1.0),
    }
    print(f"The lecture's graph at x = {x}, y = {y}, w0 = {w0}, w1 = {w1}")
    print(
        f"{'node':<6} {'kind':<10} {'op':<12} {'value':>10} {'by hand':>10} {'∂L/∂node':>10} {'by hand':>10}"
    )
    lecture_ok = True
    for n in g.nodes:
        value, grad = float(n.value), float(n.grad)
        hand_value, hand_grad = by_hand[n.name]
        ok = np.isclose(value, hand_value, rtol=1e-6) and np.isclose(grad, hand_grad, rtol=1e-6)
        lecture_ok &= bool(ok)
        print(
            f"{n.name:<6} {n.kind:<10} {n.op or '':<12} {value:>10.4g} {hand_value:>10.4g} {grad:>10.4g} "
            f"{hand_grad:>10.4g}{'' if ok else '  MISMATCH'}"
        )
    print(f"every node matches the hand derivation: {lecture_ok}")
    (out / "lecture_graph.dot").write_text(G.to_dot(g, name="lecture"))
    figure = G.plot_graph(g, precision=4, title="u = w1·x,  ŷ = w0 + u,  z = ŷ − y,  L = z²")
    figure.savefig(out / "lecture_graph.png", dpi=120)

    # The same machinery on a network's loss: the graph's parameter gradients are backprop's.
    net = fnn.MLP((2, 2, 1), activation="sigmoid", output_activation="sigmoid")
    params = net.init(jax.random.key(seed))
    xb = jnp.array([[1.0, 0.0]])
    yb = jnp.array([[1.0]])
    loss = fnn.objective(net, "mse")
    gn = G.build_graph(loss, params, xb, yb, parameters=("params",))
    manual = fnn.backward(net, "mse", params, xb, yb)
    worst = 0.0
    print(
        f"\n2-2-1 sigmoid network, MSE on one example: {len(gn.nodes)} nodes "
        f"({len(gn.of_kind('compute'))} compute), J = {float(gn.nodes[gn.outputs[0]].value):.6f}"
    )
    print(f"{'parameter node':<16} {'graph ∂J/∂node':<28} {'fnn.backward':<28}")
    for l, layer in enumerate(manual.grads):
        for leaf in ("w", "b"):
            node = gn.node(f"params[{l}].{leaf}")
            ref = np.asarray(getattr(layer, leaf))
            worst = max(worst, float(np.max(np.abs(np.asarray(node.grad) - ref))))
            print(
                f"{node.name:<16} {np.array2string(np.asarray(node.grad).ravel(), precision=5):<28} "
                f"{np.array2string(ref.ravel(), precision=5):<28}"
            )
    print(f"max |graph − manual backprop| = {worst:.2e}")
    (out / "network_graph.dot").write_text(G.to_dot(gn, name="network", precision=3))
    G.plot_graph(gn, title="J(params) of a 2-2-1 sigmoid network").savefig(
        out / "network_graph.png", dpi=100
    )
    print(
        f"figures and DOT files: {out}/lecture_graph.{{png,dot}}, {out}/network_graph.{{png,dot}}"
    )
    return {
        "lecture_values": {n.name: float(n.value) for n in g.nodes},
        "lecture_grads": {n.name: float(n.grad) for n in g.nodes},
        "lecture_matches_hand_derivation": bool(lecture_ok),
        "network_nodes": len(gn.nodes),
        "network_max_error_vs_backprop": worst,
        "figures": [str(out / "lecture_graph.png"), str(out / "network_graph.png")],
    }


if __name__ == "__main__":
    main(**parse_flags(main))
