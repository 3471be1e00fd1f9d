"""functional_nn.flags: every example's flags are its main()'s keyword arguments, written once."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
from pathlib import Path
from typing import Literal

import pytest

from functional_nn.flags import flag_parser, parse_flags

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Keyword arguments an example's __main__ passes to parse_flags (its exceptions, in code).
SPECIAL = {
    "batch_size": {"skip": ("runs",)},
    "local_minima": {"flag_names": {"loss_names": "losses"}},
}


def _main(
    *,
    seed: int = 0,
    rate: float | None = None,
    widths: tuple[int, ...] = (1, 2),
    w_init: tuple[float, float] = (-1.0, -1.0),
    method: Literal["manual", "autodiff"] = "manual",
    datasets: tuple[Literal["circle", "moons"], ...] = ("circle",),
    plot: bool = True,
    runs=((1, 0.1),),
):
    """Train a few networks.

    Args:
        seed: the PRNG seed.
        rate, method: the step size
            and the backward pass (two lines).
        widths: hidden widths.

    Returns:
        Nothing.
    """


def test_defaults_are_mains_defaults_and_flags_parse_onto_keywords():
    assert parse_flags(_main, [], skip=("runs",)) == {
        "seed": 0,
        "rate": None,
        "widths": (1, 2),
        "w_init": (-1.0, -1.0),
        "method": "manual",
        "datasets": ("circle",),
        "plot": True,
    }
    argv = ["--seed", "3", "--rate", "0.5", "--widths", "4,8", "16", "--w-init", "1", "2"]
    argv += ["--method", "autodiff", "--datasets", "moons", "circle", "--no-plot"]
    parsed = parse_flags(_main, argv, skip=("runs",))
    assert parsed == {
        "seed": 3,
        "rate": 0.5,
        "widths": (4, 8, 16),
        "w_init": (1.0, 2.0),
        "method": "autodiff",
        "datasets": ("moons", "circle"),
        "plot": False,
    }
    renamed = parse_flags(_main, ["--sizes", "5"], skip=("runs",), flag_names={"widths": "sizes"})
    assert renamed["widths"] == (5,)


def test_help_comes_from_the_docstring():
    helps = {
        a.dest: a.help for a in flag_parser(_main, skip=("runs",))._actions if a.dest != "help"
    }
    assert helps["seed"] == "the PRNG seed. (default: %(default)s)"
    assert helps["method"] == helps["rate"]
    assert "two lines" in helps["rate"]
    assert helps["plot"] == "default: %(default)s"


@pytest.mark.parametrize(
    "argv", [["--method", "adjoint"], ["--datasets", "circle,spirals"], ["--seed", "x"]]
)
def test_bad_values_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit):
        parse_flags(_main, argv, skip=("runs",))
    assert "invalid" in capsys.readouterr().err


def test_bad_declarations_are_named():
    with pytest.raises(TypeError, match="'runs' has no annotation"):
        flag_parser(_main)
    with pytest.raises(TypeError, match="skip: \\['nope'\\]"):
        flag_parser(_main, skip=("runs", "nope"))

    def no_default(*, seed: int):
        pass

    with pytest.raises(TypeError, match="needs a default"):
        flag_parser(no_default)

    def unsupported(*, table: dict[str, int] = {}):  # noqa: B006
        pass

    with pytest.raises(TypeError, match="not a flag's type"):
        flag_parser(unsupported)
    with pytest.raises(TypeError, match="main: expected a callable"):
        flag_parser("main")  # type: ignore[arg-type]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"example_flags_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "path",
    sorted(p for p in EXAMPLES.glob("*.py") if "parse_flags" in p.read_text()),
    ids=lambda p: p.stem,
)
def test_every_examples_flags_are_its_main(path):
    """No compile: each example's parser builds, and its defaults are main()'s."""
    example = _load(path)
    special = SPECIAL.get(path.stem, {})
    assert f"parse_flags(main{', ' if special else ''}" in path.read_text()
    parser = flag_parser(example.main, **special)
    assert isinstance(parser, argparse.ArgumentParser)
    skip = special.get("skip", ())
    defaults = {
        k: p.default for k, p in inspect.signature(example.main).parameters.items() if k not in skip
    }
    assert parse_flags(example.main, [], **special) == defaults
