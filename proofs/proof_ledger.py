r"""The ledger itself: it matches the README, names only checks that exist, and decides errata both ways.

Library: :mod:`proofs.ledger` (``ledger``, ``run_checks``, ``render_markdown``,
``render_json``, ``render_table``, ``main``), the same functions
``python -m proofs`` and ``functional-nn proofs`` call.

The invariants checked here:

1. ``proofs/README.md``'s generated block equals ``render_markdown(ledger())``,
   so the published ledger cannot drift from the data.
2. Every row's ``check`` names a ``test_*`` function that exists in a
   ``proofs/proof_*.py`` module (or is ``"reference"`` for a historical claim,
   and only then).
3. Rows are in lecture order, ids are unique, statuses come from the
   vocabulary, and every row that does not hold carries a correction.
4. Every erratum has a check that is a function of the claimed form
   (``ERRATA`` in its proof module, :mod:`proofs._errata`): run on the form
   *as written* it must reject it, on the *corrected* form accept it. The
   meta-test runs every one both ways, and rejects a planted check that
   accepts both.
5. Every proof module is referenced by at least one row.
6. Every row's tokens — what it judges, transcribed from the slide — stand on
   its cited line of the lecture's text (``$FNN_LECTURE``, or
   ``../shared/lecture/feedforward-networks-and-backprop.md`` beside the
   checkout; skipped, saying so, when neither is there). A planted wrong line
   number is caught.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import proofs.ledger as L
from proofs import _errata

PROOFS_DIR = Path(__file__).parent


def test_readme_ledger_matches_the_generated_one():
    readme = L.README.read_text(encoding="utf-8")
    assert L.readme_block(readme) == L.render_markdown(L.ledger()), (
        "proofs/README.md is out of date: run `python -m proofs --write-readme`"
    )


def test_every_check_names_an_existing_test():
    for row in L.ledger():
        if row.status == L.HISTORICAL:
            assert row.check == L.REFERENCE, row.id
            continue
        assert row.check != L.REFERENCE, f"{row.id}: only historical claims may go unchecked"
        path = row.check.partition("::")[0]
        assert (PROOFS_DIR.parent / path).is_file(), f"{row.id}: {path} does not exist"
        fn = L.check_function(row.check)
        assert fn.__name__ == row.check.partition("::")[2] and inspect.isfunction(fn)
        assert not inspect.signature(fn).parameters, (
            f"{row.check} must take no fixtures (run_checks calls it)"
        )


def test_rows_are_in_lecture_order_with_known_statuses():
    rows = L.ledger()
    assert len({r.id for r in rows}) == len(rows)
    assert [r.line for r in rows] == sorted(r.line for r in rows)
    for row in rows:
        assert row.status in L.STATUSES, row.id
        assert row.claim and row.section
        if row.status == L.HOLDS:
            assert row.correction == "", f"{row.id}: a claim that holds needs no correction"
        elif row.status != L.HISTORICAL:
            assert row.correction, f"{row.id}: a {row.status} row needs its corrected form"
    assert {r.status for r in rows} == set(L.STATUSES)


def test_every_erratum_check_rejects_the_written_form_and_accepts_the_correction():
    errata = _errata.all_errata()
    erratum_rows = {r.id: r for r in L.ledger() if r.status == L.ERRATUM}
    assert set(errata) == set(erratum_rows), (
        f"errata without a check: {sorted(set(erratum_rows) - set(errata))}; "
        f"checks without an erratum row: {sorted(set(errata) - set(erratum_rows))}"
    )
    problems = [p for erratum in errata.values() for p in _errata.verdict_problems(erratum)]
    assert not problems, problems
    for row_id in errata:
        # The row's check runs this erratum's decision (it is the test the ledger names).
        source = inspect.getsource(L.check_function(erratum_rows[row_id].check))
        assert "assert_decided(" in source, f"{erratum_rows[row_id].check} does not decide {row_id}"


def test_a_check_that_accepts_both_forms_is_rejected():
    lenient = _errata.Erratum("planted", lambda claimed: True, as_written=1, corrected=2)
    assert _errata.verdict_problems(lenient) == [
        "planted: holds(as written) returned True, expected False"
    ]
    strict = _errata.Erratum("planted", lambda claimed: False, as_written=1, corrected=2)
    assert _errata.verdict_problems(strict) == [
        "planted: holds(corrected) returned False, expected True"
    ]
    crashing = _errata.Erratum("planted", lambda claimed: 1 / 0, as_written=1, corrected=2)
    assert len(_errata.verdict_problems(crashing)) == 2
    with pytest.raises(AssertionError, match="planted"):
        _errata.assert_decided(lenient)
    # A real check run on a planted "as written" equal to its correction is rejected too.
    real = next(iter(_errata.all_errata().values()))
    assert _errata.verdict_problems(dataclasses.replace(real, as_written=real.corrected))


def _lecture_text() -> str:
    path = L.lecture_path()
    if path is None:
        pytest.skip(
            f"lecture text not found: set {L.LECTURE_ENV}=path/to/{L.LECTURE} or place it at "
            f"{L.LECTURE_DEFAULT} (beside the checkout)"
        )
    return path.read_text(encoding="utf-8")


def test_every_row_is_anchored_at_its_line_of_the_lecture():
    text = _lecture_text()
    assert text.lstrip().startswith("# Deep learning") and "Hamid Beigy" in text[:300]
    assert L.anchor_problems(L.ledger(), text) == []


def test_a_planted_wrong_line_number_is_caught():
    text = _lecture_text()
    rows = L.ledger()
    softmax = next(r for r in rows if r.id == "softmax-example")
    moved = dataclasses.replace(softmax, line=softmax.line - 1)
    [problem] = L.anchor_problems([moved], text)
    assert (
        problem.startswith("softmax-example: line 305 lacks")
        and f"found on line(s) [{softmax.line}]" in problem
    )
    assert L.anchor_problems([dataclasses.replace(softmax, line=10**6)], text)
    assert L.anchor_problems([dataclasses.replace(softmax, tokens=())], text)
    # Moving any row one line up or down is caught as well.
    uncaught = [
        (row.id, shift)
        for row in rows
        for shift in (-1, 1)
        if not L.anchor_problems([dataclasses.replace(row, line=row.line + shift)], text)
    ]
    assert uncaught == []


def test_lecture_path_from_the_environment(tmp_path, monkeypatch):
    copy = tmp_path / "lecture.md"
    copy.write_text("x", encoding="utf-8")
    monkeypatch.setenv(L.LECTURE_ENV, str(copy))
    assert L.lecture_path() == copy
    monkeypatch.setenv(L.LECTURE_ENV, str(tmp_path / "missing.md"))
    with pytest.raises(FileNotFoundError, match="FNN_LECTURE"):
        L.lecture_path()


def test_every_proof_module_is_referenced():
    referenced = {r.check.partition("::")[0] for r in L.ledger() if r.check != L.REFERENCE}
    modules = {f"proofs/{p.name}" for p in PROOFS_DIR.glob("proof_*.py")} - {
        "proofs/proof_ledger.py"
    }
    assert modules <= referenced, sorted(modules - referenced)


def test_json_view_and_run_checks():
    out = io.StringIO()
    with redirect_stdout(out):
        assert L.main(["--json", "--status", "erratum"]) == 0
    items = json.loads(out.getvalue())
    assert items and all(item["status"] == "erratum" for item in items)
    assert {"section", "claim", "status", "correction", "check"} <= set(items[0])
    # run_checks on two cheap rows: a check that passes, and a reference row that is not run.
    rows = [r for r in L.ledger() if r.id in ("lr-fine-tuning", "werbos-rhw")]
    results = L.run_checks(rows)
    assert [r.outcome for r in results] == ["reference", "pass"]
    table = L.render_table(rows, results)
    assert "lr-fine-tuning" in table and "1 pass, 0 FAIL, 1 reference" in table


def test_run_checks_reports_a_failing_check():
    broken = L.Row(
        "broken", 1, "test", "claim", L.ERRATUM, "fix", "proofs/proof_ledger.py::test_no_such_test"
    )
    [result] = L.run_checks([broken])
    assert result.passed is False and "LookupError" in result.detail
