"""``functional-nn train --checkpoint-every N --resume`` (issue 13): a resumed run needs no other
options and writes the uninterrupted run's results."""

import json

import jax
import pytest

from functional_nn.cli import main

pytest.importorskip("sklearn")

QUIET = ["--no-cache", "--no-progress", "--no-figures"]
RUN = ["--dataset", "moons", "--samples", "60", "--hidden", "4", "--epochs", "6"]
CACHE_FLAGS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache")


@pytest.fixture(autouse=True)
def restore_jax_cache_config():
    saved = {name: getattr(jax.config, name) for name in CACHE_FLAGS}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def _train(capsys, *argv):
    code = main(list(map(str, ("train", *argv, *QUIET))))
    out, err = capsys.readouterr()
    return code, out, err


def test_resume_needs_no_other_options_and_ends_as_the_uninterrupted_run(capsys, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for out_dir in (whole, cut):
        code, _, err = _train(capsys, *RUN, "--checkpoint-every", "2", "--out-dir", out_dir)
        assert code == 0, err
    assert json.loads((cut / "run.json").read_text())["checkpoint_every"] == 2
    # as if killed after epoch 2: the later checkpoints never reached the disk
    for name in ("ckpt_000004.npz", "ckpt_000006.npz"):
        (cut / "checkpoints" / name).unlink()
    (cut / "history.json").unlink()
    code, out, err = _train(capsys, "--resume", "--out-dir", cut)
    assert code == 0, err
    assert (cut / "history.json").read_text() == (whole / "history.json").read_text()
    assert "epochs run" in out

    code, _, err = _train(capsys, "--resume", "--epochs", "9", "--out-dir", cut)
    assert code == 2 and "--epochs 9 (recorded: 6)" in err
    code, _, err = _train(capsys, "--resume", "--out-dir", tmp_path / "nothing")
    assert code == 2 and "start the run with --checkpoint-every" in err
