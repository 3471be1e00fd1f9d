"""Smoke tests of the lecture examples (gradient descent, graphs, saddles, neurons, depth, training):
tiny settings, real assertions on what each ``main()`` returns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures_written(paths) -> bool:
    paths = [paths] if isinstance(paths, str) else paths
    return all(Path(p).is_file() and Path(p).stat().st_size > 1000 for p in paths)


def test_linear_regression_gd(tmp_path, capsys):
    result = _load("linear_regression_gd").main(
        num_examples=20, num_steps=200, out_dir=str(tmp_path)
    )
    assert result["prediction_confirmed"]
    runs = result["runs"]
    assert runs["just below α*"]["converged"] and runs["just above α*"]["diverged"]
    assert runs["just above α*"]["rho_predicted"] > 1 > runs["just below α*"]["rho_predicted"]
    np.testing.assert_allclose(result["w_gradient_descent"], result["w_closed_form"], atol=1e-4)
    assert abs(result["alpha_star"] - 2 / max(result["hessian_eigenvalues"])) < 1e-5
    assert _figures_written(result["figure"])
    assert "confirmed (0.98 α* converges, 1.02 α* diverges): True" in capsys.readouterr().out


def test_computation_graph(tmp_path):
    result = _load("computation_graph").main(out_dir=str(tmp_path))
    assert result["lecture_matches_hand_derivation"]
    assert result["lecture_values"]["L"] == 30.25
    assert result["lecture_grads"] == {
        "x": 33.0,
        "y": -11.0,
        "w0": 11.0,
        "w1": 22.0,
        "u": 11.0,
        "y_hat": 11.0,
        "z": 11.0,
        "L": 1.0,
    }
    assert result["network_max_error_vs_backprop"] < 1e-6
    assert _figures_written(result["figures"])
    assert (tmp_path / "lecture_graph.dot").read_text().count("->") == 7


def test_saddle_point(tmp_path):
    result = _load("saddle_point").main(
        num_steps=120, perturbations=(1e-2, 1e-4), out_dir=str(tmp_path)
    )
    assert result["kinds"]["x1² − x2²  (lecture)"] == "saddle"
    assert result["kinds"]["x1⁴ + x2²"] == "degenerate"
    assert abs(result["stable_axis_end"][1]) == 0.0 and result["stable_axis_gradient_norm"] < 1e-9
    for eps, r in result["escapes"].items():
        assert r["measured"] is not None and abs(r["measured"] - r["predicted"]) <= 1.5, eps
    assert _figures_written(result["figure"])


def test_sigmoid_neuron(tmp_path):
    result = _load("sigmoid_neuron").main(
        num_examples=30, num_steps=60, saturation_steps=60, out_dir=str(tmp_path)
    )
    assert result["regression_manual_vs_autodiff"] < 1e-5
    assert result["classification_manual_vs_autodiff"] < 1e-4
    assert result["classification_as_written_vs_autodiff"] > 0.1
    sat = result["saturation_outputs"]
    assert sat["cross_entropy"][50] < 0.2 < 0.9 < sat["mse"][50]
    assert (
        result["saturation_delta_mse"][-1]
        < 1e-3
        < 0.99
        < result["saturation_delta_cross_entropy"][-1]
    )
    assert _figures_written(result["figure"])


def test_vanishing_gradients(tmp_path):
    result = _load("vanishing_gradients").main(
        depth=8, width=16, batch=16, num_inputs=16, out_dir=str(tmp_path)
    )
    r = result["results"]
    assert len(r["sigmoid/glorot"]["grad_norms"]) == 8
    assert r["sigmoid/glorot"]["ratio"] < r["tanh/glorot"]["ratio"]
    assert r["sigmoid/glorot"]["verdict"] == "vanishing" and r["tanh/glorot"]["verdict"] == "stable"
    assert r["relu/normal(0.01)"]["verdict"] == "vanishing"
    assert (
        abs(r["tanh/glorot"]["mean_activation"][-1])
        < 0.2
        < abs(r["sigmoid/glorot"]["mean_activation"][-1])
    )
    assert _figures_written(result["figure"])


def test_learning_rate(tmp_path):
    result = _load("learning_rate").main(num_examples=20, num_epochs=8, out_dir=str(tmp_path))
    runs = list(result["runs"].values())
    too_high, too_low, constant, schedule = runs
    assert too_high["diverged"] and not any(r["diverged"] for r in runs[1:])
    assert schedule["final_excess"] < too_low["final_excess"]
    assert too_low["first_epoch_excess"] > 10 * schedule["first_epoch_excess"]
    assert _figures_written(result["figure"])


def test_decision_surfaces(tmp_path):
    result = _load("decision_surfaces").main(
        widths_1d=(1, 8),
        epochs_1d=1500,
        widths_2d=(1, 8),
        deep=(),
        epochs_2d=500,
        datasets=("circle",),
        num_points=60,
        out_dir=str(tmp_path),
    )
    assert result["perceptron_converged"] and result["perceptron_accuracy"] == 1.0
    errors = result["approximation_errors"]
    assert errors[8]["test"] < 0.5 * errors[1]["test"]
    acc = result["region_accuracies"]["circle"]
    assert acc["1 hidden layer, 8 units"] > acc["1 hidden layer, 1 unit"]
    assert _figures_written(result["figures"])


def test_activation_gallery(tmp_path, capsys):
    result = _load("activation_gallery").main(num_points=101, out_dir=str(tmp_path))
    acts = result["activations"]
    assert all(r["max_error"] < 1e-6 for r in acts.values())
    assert acts["tanh"]["zero_centred"] and not acts["sigmoid"]["zero_centred"]
    assert (
        abs(acts["sigmoid"]["max_derivative"] - 0.25) < 1e-6
        and acts["relu"]["derivative_at_0"] == 0.0
    )
    # the slide's softmax numbers are off; the example says so
    np.testing.assert_allclose(result["softmax_slide_example"], [0.5297, 0.1854, 0.2849], atol=1e-4)
    assert not result["softmax_slide_matches"]
    assert "does NOT match" in capsys.readouterr().out
    assert _figures_written(result["figure"])


def test_manual_vs_autodiff(tmp_path):
    result = _load("manual_vs_autodiff").main(
        batch=3, max_fd_coords=4, num_architectures=1, out_dir=str(tmp_path)
    )
    (only,) = result["architectures"].values()
    assert result["all_ok"] and only["rel_autodiff"] < 1e-10 and only["rel_fd"] < 1e-6
    assert _figures_written(result["figure"])
