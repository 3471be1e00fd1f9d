"""The API reference (docs/reference/, built by mkdocs) and the package's __all__ agree.

Cheap: imports and text only, nothing is compiled.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import functional_nn
from functional_nn.flags import _argument_help

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference"


def _public_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(functional_nn.__path__, "functional_nn.")
        if not any(part.startswith("_") for part in m.name.split(".")[1:])
    )


PUBLIC = _public_modules()


def test_every_name_in_the_package_all_is_listed_in_the_reference():
    index = (REFERENCE / "index.md").read_text()
    listed = set(re.findall(r"^\| \[?`([\w.]+)`", index, re.MULTILINE))
    assert set(functional_nn.__all__) <= listed, sorted(set(functional_nn.__all__) - listed)
    for name in functional_nn.__all__:
        assert hasattr(functional_nn, name), name
    # No name is listed that the package does not export.
    modules = {m.removeprefix("functional_nn.") for m in PUBLIC}
    assert listed <= set(functional_nn.__all__) | modules, sorted(
        listed - set(functional_nn.__all__) - modules
    )


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_module_has_a_page_and_an_all_that_exists(name):
    page = REFERENCE / (name.removeprefix("functional_nn.") + ".md")
    assert page.is_file(), f"{name} has no page under docs/reference/"
    assert f"::: {name}\n" in page.read_text()
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} declares no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{name}.__all__ repeats a name"


def test_no_page_for_a_module_that_is_gone():
    pages = {p.stem for p in REFERENCE.glob("*.md")} - {"index"}
    assert pages == {m.removeprefix("functional_nn.") for m in PUBLIC}


def _documented_callables():
    for name in PUBLIC:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj
            elif inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        yield f"{name}.{attr}.{meth_name}", meth


def test_every_documented_argument_is_a_parameter():
    """griffe's own check cannot read `x, y: ...`; this one can (see mkdocs.yml)."""
    stale = []
    for where, fn in _documented_callables():
        params = set(inspect.signature(fn).parameters)
        params |= {p.lstrip("*") for p in params}
        for key in _argument_help(inspect.getdoc(fn) or ""):
            names = [n.strip().lstrip("*") for n in key.split(",")]
            stale += [f"{where}: {n}" for n in names if n and n not in params]
    assert not stale, stale
