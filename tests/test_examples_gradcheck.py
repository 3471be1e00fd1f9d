"""Smoke test of examples/custom_gradient.py: the right gradient passes, the planted mistake is named."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_custom_gradient(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location(
        "example_custom_gradient", EXAMPLES / "custom_gradient.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(n_in=3, n_out=2, batch=4, out_dir=str(tmp_path))
    assert result["right"]["report"].ok and result["right"]["taylor"].ok
    assert [l.name for l in result["planted mistake"]["report"].failures()] == [
        "params['b']",
        "params['w']",
    ]
    assert [l.verdict for l in result["planted mistake"]["taylor"].leaves] == ["wrong", "wrong"]
    assert all(Path(p).stat().st_size > 1000 for p in result["figures"])
    assert "MISMATCH: params['b'], params['w']" in capsys.readouterr().out
