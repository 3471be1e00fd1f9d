r"""Computation graphs of JAX functions, with forward and backward values on every node.

The lecture decomposes a computation "into a sequence of atomic assignments",
the computation graph, with three kinds of nodes: input, parameter and compute
nodes. ``jax.make_jaxpr`` produces exactly such a sequence for any JAX function:
one equation per primitive operation. :func:`build_graph` turns it into a graph

* **input** / **parameter** nodes: the function's arguments (the caller says
  which arguments are parameters), one node per array leaf;
* **compute** nodes: one per equation output;
* **constant** nodes: literals and captured constants (the slides have none,
  but a general function does, e.g. the ``2`` of ``2 * x``);

and gives each node its forward value and its backward value
``∂out/∂node`` — the cotangent reverse-mode differentiation assigns to it.

Forward values come from evaluating the jaxpr equation by equation. Backward
values come from one ``jax.vjp`` of that evaluation, instrumented: every compute
node ``v`` is replaced by ``v + ε_v`` with ``ε_v = 0``, which changes no value,
and the cotangent of ``ε_v`` is ``∂out/∂v`` — accumulated over all of ``v``'s
uses (a node used twice receives the sum of both paths' cotangents, the
multivariate chain rule). The parameter nodes' backward values therefore
equal ``jax.grad`` of the whole function.

The lecture's example (``tests/test_graph.py`` and ``proofs/proof_computation_graph.py``
check the hand-derived numbers)::

    def loss(x, y, w0, w1):
        u = w1 * x          # compute node u
        y_hat = w0 + u      # compute node ŷ
        z = y_hat - y       # compute node z
        return z ** 2       # compute node L

    g = build_graph(loss, 2.0, 1.0, 0.5, 3.0, parameters=("w0", "w1"),
                    compute_names=("u", "y_hat", "z", "L"))
    g.node("w1").grad        # ∂L/∂w1 = 2 z x = 22

Calls to jitted helpers (``jit`` equations, e.g. inside ``jnp.clip``) are inlined
into their operations by default; ``custom_jvp``/``custom_vjp`` functions such as
``jax.nn.relu`` stay single nodes so their custom derivative rules are respected.
"""

from functional_nn.graph.build import NODE_KINDS, Graph, Node, build_graph, format_value
from functional_nn.graph.render import layers, node_label, plot_graph, to_dot

__all__ = [
    "NODE_KINDS",
    "Graph",
    "Node",
    "build_graph",
    "format_value",
    "layers",
    "node_label",
    "plot_graph",
    "to_dot",
]
