"""Smoke tests of the neuron examples: tiny settings, real assertions on what main() returns."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from functional_nn.flags import parse_flags

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_neurons_logic_gates(tmp_path, capsys):
    example = _load("neurons_logic_gates")
    result = example.main(seed=1, num_random_units=10, out_dir=str(tmp_path))
    expected_failures = {
        ("NAND (one unit)", "absolute")
    }  # the one-unit NAND is NOR under absolute inhibition
    assert {k for k, ok in result["gate_ok"].items() if not ok} == expected_failures
    assert result["single_unit_count"] == {"weighted": 14, "absolute": 11}
    assert result["xor_single_unit"] == {"weighted": False, "absolute": False}
    assert result["nand_single_unit"] == {"weighted": True, "absolute": False}
    assert result["random_units_agree"] == 10
    assert all(Path(f).is_file() and Path(f).stat().st_size > 0 for f in result["figures"])
    assert "computable by one unit: weighted 14/16, absolute 11/16" in capsys.readouterr().out


def test_perceptron_vs_adaline(tmp_path, capsys):
    example = _load("perceptron_vs_adaline")
    result = example.main(
        seed=2,
        num_examples=40,
        margin=0.05,
        max_epochs=200,
        adaline_epochs=60,
        out_dir=str(tmp_path),
    )
    assert result["converged"] and result["perceptron_accuracy"] == 1.0
    assert 0 < result["total_mistakes"] <= result["novikoff_bound"]
    assert result["adaline_distance_to_lstsq"]["full batch"] < 1e-6
    for loss in result["adaline_final_loss"].values():
        assert loss >= result["lstsq_loss"] - 1e-12  # nothing beats least squares on J
    assert Path(result["figure"]).is_file()
    assert "Novikoff bound" in capsys.readouterr().out


def test_xor(tmp_path, capsys):
    example = _load("xor")
    result = example.main(seed=0, max_epochs=8, out_dir=str(tmp_path))
    assert result["perceptron_converged"] == {"data order": False, "shuffled": False}
    assert all(m >= 1 for run in result["perceptron_mistakes"].values() for m in run)
    assert result["certificate"] == ["1", "1", "1", "1"]
    assert result["certificate_combination"] == ["0", "0", "0"]
    assert result["certificate_verified"] and result["lp_certificate_verified"]
    assert result["threshold_network_outputs"] == [0, 1, 1, 0]
    assert result["mlp_solved"] and result["mlp_final_loss"] < 0.05
    assert Path(result["figure"]).is_file()
    assert "0 > 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "argv", "expected"),
    [
        (
            "neurons_logic_gates",
            ["--seed", "3", "--max-weight", "1", "--out-dir", "d"],
            {"seed": 3, "max_weight": 1, "num_random_units": 200, "out_dir": "d"},
        ),
        (
            "perceptron_vs_adaline",
            ["--num-examples", "20", "--margin", "0.2", "--learning-rate", "0.1"],
            {
                "seed": 0,
                "num_examples": 20,
                "margin": 0.2,
                "max_epochs": 100,
                "adaline_epochs": 100,
                "learning_rate": 0.1,
                "out_dir": "out/perceptron_vs_adaline",
            },
        ),
        (
            "xor",
            ["--mlp-steps", "10", "--loss", "mse", "--method", "autodiff"],
            {
                "seed": 0,
                "max_epochs": 20,
                "mlp_steps": 10,
                "mlp_learning_rate": 1.0,
                "loss": "mse",
                "method": "autodiff",
                "out_dir": "out/xor",
            },
        ),
    ],
)
def test_flags_map_onto_main(name, argv, expected):
    example = _load(name)
    assert parse_flags(example.main, argv) == expected
    # The flag defaults are main()'s defaults: one configuration, not two.
    defaults = {k: v.default for k, v in inspect.signature(example.main).parameters.items()}
    assert parse_flags(example.main, []) == defaults
