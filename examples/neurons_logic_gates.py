"""Which Boolean functions can one McCulloch–Pitts unit compute, and what does a second layer add?

The lecture's neuron has binary inputs, excitatory and inhibitory connections and a
threshold. Under the slide's reading (inhibitory = negative weight) one unit computes
AND, OR, NOT and NAND; under McCulloch and Pitts' absolute inhibition (any active
inhibitory input vetoes) NAND needs two layers. Neither computes XOR with one unit;
two layers do. This script prints every gate's truth table in both readings,
searches all 16 two-input functions for a single unit, checks on random units that
absolute inhibition is weighted inhibition with large negative weights, and draws
each gate's threshold line in the input plane.

    python examples/neurons_logic_gates.py --out-dir out/neurons_logic_gates
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from functional_nn import neurons
from functional_nn.flags import parse_flags

# The 16 two-input Boolean functions, truth table in the order (0,0), (0,1), (1,0), (1,1).
FUNCTION_NAMES = {
    (0, 0, 0, 0): "FALSE",
    (0, 0, 0, 1): "AND",
    (0, 0, 1, 0): "x1 AND NOT x2",
    (0, 0, 1, 1): "x1",
    (0, 1, 0, 0): "NOT x1 AND x2",
    (0, 1, 0, 1): "x2",
    (0, 1, 1, 0): "XOR",
    (0, 1, 1, 1): "OR",
    (1, 0, 0, 0): "NOR",
    (1, 0, 0, 1): "XNOR",
    (1, 0, 1, 0): "NOT x2",
    (1, 0, 1, 1): "x1 OR NOT x2",
    (1, 1, 0, 0): "NOT x1",
    (1, 1, 0, 1): "NOT x1 OR x2",
    (1, 1, 1, 0): "NAND",
    (1, 1, 1, 1): "TRUE",
}


def _gates():
    """(name, network, expected truth table over the network's inputs)."""
    x2 = neurons.all_binary_inputs(2)
    return [
        ("AND", [neurons.and_gate(2)], x2[:, 0] & x2[:, 1]),
        ("OR", [neurons.or_gate(2)], x2[:, 0] | x2[:, 1]),
        ("NOT", [neurons.not_gate()], np.array([1, 0])),
        ("NAND (one unit)", [neurons.nand_gate(2)], 1 - (x2[:, 0] & x2[:, 1])),
        ("NAND = NOT(AND)", [neurons.and_gate(2), neurons.not_gate()], 1 - (x2[:, 0] & x2[:, 1])),
        ("XOR (two layers)", list(neurons.xor_network()), x2[:, 0] ^ x2[:, 1]),
    ]


def main(
    *,
    seed: int = 0,
    max_weight: int = 2,
    num_random_units: int = 200,
    out_dir: str = "out/neurons_logic_gates",
) -> dict:
    """Print the gate tables and the single-unit census; write ``gates.png`` and ``census.png``.

    Args:
        seed: seed for the random units of the translation check
        max_weight: search weights in [-max, max], thresholds in ±2·max
        num_random_units: random layers for the translation check
        out_dir: where the figures go
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    print("Truth tables (inputs in counting order)")
    print(f"{'gate':<18} {'reading':<9} {'outputs':<10} {'expected':<10} ok")
    gate_ok = {}
    for name, layers, expected in _gates():
        for reading in neurons.INHIBITION_READINGS:
            _, got = neurons.truth_table(layers, inhibition=reading)
            ok = bool(np.array_equal(got[:, 0], expected))
            gate_ok[(name, reading)] = ok
            print(
                f"{name:<18} {reading:<9} {''.join(map(str, got[:, 0])):<10} {''.join(map(str, expected)):<10} "
                f"{'yes' if ok else 'no'}"
            )
    print(
        "(the one-unit NAND is NOR under absolute inhibition: any active inhibitory input vetoes)"
    )

    # Small magnitudes first, so the unit printed is a simplest one.
    weights = sorted(range(-max_weight, max_weight + 1), key=lambda v: (abs(v), v < 0))
    thresholds = sorted(range(-2 * max_weight, 2 * max_weight + 1), key=lambda v: (abs(v), v < 0))
    census = {}
    print(
        f"\nOne unit, integer weights in [-{max_weight}, {max_weight}], thresholds in "
        f"[-{2 * max_weight}, {2 * max_weight}]"
    )
    print(f"{'function':<15} {'table':<6} {'weighted (w; θ)':<20} {'absolute (w; θ)':<20}")
    for bits in itertools.product((0, 1), repeat=4):
        row = []
        for reading in neurons.INHIBITION_READINGS:
            unit = neurons.find_unit(
                np.array(bits),
                inhibition=reading,
                weight_values=weights,
                threshold_values=thresholds,
            )
            census[(bits, reading)] = unit is not None
            row.append(
                "—"
                if unit is None
                else f"{tuple(int(v) for v in np.asarray(unit.weights[:, 0]))}; {int(unit.threshold[0])}"
            )
        print(f"{FUNCTION_NAMES[bits]:<15} {''.join(map(str, bits)):<6} {row[0]:<20} {row[1]:<20}")
    counts = {r: sum(census[(b, r)] for b in FUNCTION_NAMES) for r in neurons.INHIBITION_READINGS}
    print(
        f"computable by one unit: weighted {counts['weighted']}/16, absolute {counts['absolute']}/16"
    )

    # Absolute inhibition is weighted inhibition with negative weights large enough to veto.
    agree = 0
    for _ in range(num_random_units):  # layers of 3 units on 4 inputs: one shape, one compilation
        layer = neurons.mcculloch_pitts(
            rng.integers(-3, 4, size=(4, 3)), rng.integers(-3, 7, size=3)
        )
        _, a = neurons.truth_table(layer, inhibition="absolute")
        _, w = neurons.truth_table(neurons.absolute_to_weighted(layer), inhibition="weighted")
        agree += bool(np.array_equal(a, w))
    print(
        f"random absolute-reading layers equal to their weighted translation: {agree}/{num_random_units}"
    )

    figures = [_plot_gates(out / "gates.png"), _plot_census(census, out / "census.png")]
    print("figures: " + ", ".join(str(f) for f in figures))
    return {
        "gate_ok": gate_ok,
        "single_unit_count": counts,
        "xor_single_unit": {r: census[((0, 1, 1, 0), r)] for r in neurons.INHIBITION_READINGS},
        "nand_single_unit": {r: census[((1, 1, 1, 0), r)] for r in neurons.INHIBITION_READINGS},
        "random_units_agree": agree,
        "num_random_units": num_random_units,
        "figures": [str(f) for f in figures],
    }


def _plot_gates(path: Path) -> Path:
    """Each two-input unit in the input plane: its points coloured by output and its line w·x = θ."""
    from matplotlib.figure import Figure

    panels = [
        ("AND", neurons.and_gate(2)),
        ("OR", neurons.or_gate(2)),
        ("NAND (weighted)", neurons.nand_gate(2)),
        ("XOR: hidden units", neurons.xor_network()[0]),
    ]
    fig = Figure(figsize=(12, 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels))
    x = neurons.all_binary_inputs(2)
    line = np.linspace(-0.5, 1.5, 2)
    for ax, (title, layer) in zip(axes, panels):
        if title.startswith("XOR"):
            y = np.asarray(neurons.fire_network(neurons.xor_network(), x))[:, 0]
        else:
            y = np.asarray(neurons.fire(layer, x))[:, 0]
        w, theta = np.asarray(layer.weights), np.asarray(layer.threshold)
        # Shade where the (weighted) unit fires on real-valued inputs; for XOR where either hidden unit does.
        g1, g2 = np.meshgrid(np.linspace(-0.5, 1.5, 201), np.linspace(-0.5, 1.5, 201))
        drive = np.stack([g1.ravel(), g2.ravel()], axis=1) @ w
        fires = np.any(drive >= theta, axis=1).reshape(g1.shape)
        ax.contourf(g1, g2, fires.astype(float), levels=[0.5, 1.5], colors=["#f4c7c3"], alpha=0.6)
        for j in range(w.shape[1]):  # w1 x1 + w2 x2 = θ; every gate here has w2 ≠ 0
            ax.plot(line, (theta[j] - w[0, j] * line) / w[1, j], "k--", lw=1)
        ax.scatter(
            x[:, 0], x[:, 1], c=y, cmap="coolwarm", vmin=0, vmax=1, s=160, edgecolors="k", zorder=3
        )
        for (a, b), v in zip(x, y):
            ax.annotate(str(v), (a, b), textcoords="offset points", xytext=(9, 9))
        ax.set(
            xlim=(-0.5, 1.5),
            ylim=(-0.5, 1.5),
            xlabel="x1",
            ylabel="x2",
            title=title,
            aspect="equal",
        )
    fig.suptitle(
        "McCulloch–Pitts units (weighted reading): each fires in the shaded half-plane w·x ≥ θ, "
        "line included"
    )
    fig.savefig(path, dpi=110)
    return path


def _plot_census(census: dict, path: Path) -> Path:
    from matplotlib.figure import Figure

    tables = list(FUNCTION_NAMES)
    grid = np.array(
        [[census[(b, r)] for b in tables] for r in neurons.INHIBITION_READINGS], dtype=float
    )
    fig = Figure(figsize=(11, 2.8), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1.3, aspect="auto")
    ax.set_xticks(
        range(16), [FUNCTION_NAMES[b] for b in tables], rotation=60, ha="right", fontsize=8
    )
    ax.set_yticks(range(2), neurons.INHIBITION_READINGS)
    for r in range(2):
        for c in range(16):
            ax.text(
                c,
                r,
                "yes" if grid[r, c] else "no",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if grid[r, c] else "black",
            )
    ax.set_title("Two-input Boolean functions one McCulloch–Pitts unit computes")
    fig.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    main(**parse_flags(main))
