"""Smoke test of examples/local_minima.py: tiny settings, real assertions on what ``main()`` returns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from functional_nn import critical_points as cp

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "local_minima.py"


def _load():
    spec = importlib.util.spec_from_file_location("example_local_minima", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_local_minima_study_tiny(tmp_path, capsys):
    example = _load()
    result = example.main(
        num_seeds=8,
        num_epochs=300,
        long_steps=600,
        num_checkpoints=6,
        architectures=("2-2-1",),
        loss_names=("mse",),
        dtypes=("float64",),
        num_solved_searched=1,
        search_iter=40,
        out_dir=str(tmp_path),
    )
    (group,) = result["groups"].values()
    assert group["num_seeds"] == 8 and group["num_solved"] + group["num_stuck"] == 8
    assert group["num_solved_at_num_epochs"] <= group["num_solved"]
    assert sum(group["stuck_search"].values()) == group["num_stuck"]
    assert set(group["stuck_search"]) <= set(cp.SEARCH_KINDS)
    # Only a converged search carries a Hessian verdict, and only at ‖∇J‖ <= 1e-10.
    for point in group["critical_points"]:
        assert point["gradient_norm"] <= 1e-10 and point["kind"] in cp.KINDS
    assert result["skip_gradient_gap"] < 1e-6
    assert result["steps"][-1] == 600 and 300 in result["steps"]
    assert Path(result["figure"]).is_file() and Path(result["figure"]).stat().st_size > 1000
    out = capsys.readouterr().out
    assert "search from stuck endpoints" in out and result["conclusion"] in out


def test_local_minima_refuses_bad_arguments():
    example = _load()
    with pytest.raises(ValueError, match="long_steps"):
        example.main(num_epochs=100, long_steps=10)
    with pytest.raises(ValueError, match="architectures"):
        example.main(architectures=("2-9-1",))
    with pytest.raises(ValueError, match="num_seeds"):
        example.main(num_seeds=0)
