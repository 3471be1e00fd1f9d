"""Smoke test of the real-dataset example: tiny settings, real assertions."""

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "real_dataset.py"


def test_breast_cancer_end_to_end(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("example_real_dataset", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(num_epochs=15, patience=5, hidden=4, out_dir=str(tmp_path))
    assert result["rows"]["test"][1] > 0.85  # a sigmoid network separates this set well
    assert 1 <= result["best_epoch"] <= result["stopped_epoch"] <= 15
    assert result["reloaded_equal"]
    assert Path(result["figure"]).stat().st_size > 1000 and Path(result["checkpoint"]).is_file()
    assert "test" in capsys.readouterr().out
