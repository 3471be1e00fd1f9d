"""Rendering a computation graph: DOT text (no graphviz needed) and a layered matplotlib figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functional_nn.graph.build import NODE_KINDS, Graph, Node, format_value

if TYPE_CHECKING:  # matplotlib stays optional
    from matplotlib.figure import Figure

__all__ = ["node_label", "to_dot", "layers", "plot_graph"]


def node_label(node: Node, precision: int = 4) -> str:
    """Multi-line text for a node: name, operation, forward value, backward value."""
    lines = [node.name]
    if node.op is not None:
        lines.append(f"{node.op}({node.params})" if node.params else node.op)
    lines.append(f"value {format_value(node.value, precision)}")
    if node.grad is not None:
        lines.append(f"grad {format_value(node.grad, precision)}")
    return "\n".join(lines)


_DOT_STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#dbe9f6"',
    "parameter": 'shape=box, style="rounded,filled", fillcolor="#fde0c5"',
    "constant": "shape=plaintext",
    "compute": 'shape=box, style=filled, fillcolor="#e4f2dd"',
}


def to_dot(graph: Graph, *, precision: int = 4, name: str = "computation_graph") -> str:
    """The graph as Graphviz DOT text (render with ``dot -Tpng``; nothing here needs graphviz).

    Inputs are ellipses, parameters rounded boxes, compute nodes boxes and
    outputs have a double border; every label shows value and grad.
    """
    _check_graph(graph)
    lines = [
        f"digraph {_dot_id(name)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    outputs = set(graph.outputs)
    for n in graph.nodes:
        style = _DOT_STYLE[n.kind] + (", peripheries=2" if n.index in outputs else "")
        label = _dot_escape(node_label(n, precision))
        lines.append(f'  n{n.index} [label="{label}", {style}];')
    for p, c in graph.edges:
        lines.append(f"  n{p} -> n{c};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _dot_id(name: str) -> str:
    return '"' + _dot_escape(name) + '"'


def layers(graph: Graph) -> tuple[int, ...]:
    """Each node's layer: 0 for nodes without parents, else 1 + the deepest parent's layer."""
    _check_graph(graph)
    depth: list[int] = []
    for n in graph.nodes:
        depth.append(1 + max((depth[p] for p in n.parents), default=-1))
    return tuple(depth)


_COLORS = {"input": "#dbe9f6", "parameter": "#fde0c5", "constant": "#eeeeee", "compute": "#e4f2dd"}


def plot_graph(
    graph: Graph, *, ax: Any = None, precision: int = 3, title: str | None = None
) -> Figure:
    """Draw the graph with a layered layout (left to right) on a matplotlib axes.

    Args:
        graph: from :func:`build_graph`.
        ax: an axes to draw on; a new figure is made when None.
        precision: significant digits of the values shown.
        title: an optional axes title.
    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    depth = layers(graph)
    num_layers = max(depth) + 1
    by_layer: dict[int, list[int]] = {}
    for i, d in enumerate(depth):
        by_layer.setdefault(d, []).append(i)
    height = max(len(v) for v in by_layer.values())
    if ax is None:
        # A bare Figure (no pyplot): no global state, renders with Agg anywhere.
        ax = Figure(
            figsize=(2.3 * num_layers + 1, 1.5 * height + 1), layout="constrained"
        ).subplots()
    pos = {}
    for d, members in by_layer.items():
        for r, i in enumerate(members):
            pos[i] = (float(d), (len(members) - 1) / 2 - r)  # centred column per layer
    for p, c in graph.edges:
        ax.annotate(
            "",
            xy=pos[c],
            xytext=pos[p],
            arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=28, shrinkB=28, lw=1),
        )
    outputs = set(graph.outputs)
    for n in graph.nodes:
        ax.text(
            *pos[n.index],
            node_label(n, precision),
            ha="center",
            va="center",
            fontsize=7,
            bbox=dict(
                boxstyle="round,pad=0.4",
                fc=_COLORS[n.kind],
                ec="black",
                lw=2.0 if n.index in outputs else 0.8,
            ),
        )
    handles = [
        Line2D([], [], marker="s", ls="", ms=10, mfc=_COLORS[k], mec="black", label=k)
        for k in NODE_KINDS
        if any(n.kind == k for n in graph.nodes)
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
    ax.set_xlim(-0.6, num_layers - 0.4)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.4)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax.figure


def _check_graph(graph: object) -> None:
    if not isinstance(graph, Graph):
        raise TypeError(
            f"graph must be a functional_nn.graph.Graph (from build_graph), got {type(graph).__name__}"
        )
