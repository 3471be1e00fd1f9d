"""Erratum checks as functions of the claimed value, and the meta-check that runs them both ways.

An erratum's check is ``holds(claimed) -> bool``: given a form of the claim (a
number, an interval, a formula, a function) it decides whether that form is
true, by computing. Each proof module lists its errata in ``ERRATA``; the
meta-test (``proofs/proof_ledger.py``) runs every one on the form *as written*,
which it must reject, and on the *corrected* form, which it must accept. A check
that accepts both (or rejects both) cannot tell the slide from its correction
and is itself reported as broken.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Erratum:
    """One erratum: the ledger row it decides, its check, and the two forms."""

    row: str  # the ledger row's id
    holds: Callable[[Any], bool]  # claimed form -> is it true?
    as_written: Any  # the form on the slide
    corrected: Any  # the ledger's correction


def verdict_problems(erratum: Erratum) -> list[str]:
    """What is wrong with an erratum's check: [] when it rejects the slide's form and accepts the correction."""
    problems = []
    for name, form, expected in (
        ("as written", erratum.as_written, False),
        ("corrected", erratum.corrected, True),
    ):
        try:
            verdict = erratum.holds(form)
        except Exception as error:  # a check that crashes decides nothing
            problems.append(f"{erratum.row}: holds({name}) raised {type(error).__name__}: {error}")
            continue
        if getattr(verdict, "shape", None) == () and getattr(verdict, "dtype", None) == np.dtype(
            bool
        ):
            verdict = bool(verdict)  # a numpy / jax boolean scalar
        if verdict is not expected:
            problems.append(
                f"{erratum.row}: holds({name}) returned {verdict!r}, expected {expected}"
            )
    return problems


def assert_decided(erratum: Erratum) -> None:
    """Raise AssertionError unless the check rejects the written form and accepts the corrected one."""
    problems = verdict_problems(erratum)
    assert not problems, "; ".join(problems)


def all_errata() -> dict[str, Erratum]:
    """Every ``ERRATA`` entry of every ``proofs/proof_*.py`` module, by row id."""
    found: dict[str, Erratum] = {}
    for path in sorted(Path(__file__).parent.glob("proof_*.py")):
        module = importlib.import_module(f"proofs.{path.stem}")
        for erratum in getattr(module, "ERRATA", ()):
            if erratum.row in found:
                raise ValueError(f"erratum {erratum.row!r} is listed twice")
            found[erratum.row] = erratum
    return found
