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
4. Every erratum's check states both halves, the form *as written* (asserted
   false) and the *corrected* one (asserted true).
5. Every proof module is referenced by at least one row.
"""

from __future__ import annotations

import inspect
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import proofs.ledger as L

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
        assert not inspect.signature(fn).parameters, f"{row.check} must take no fixtures (run_checks calls it)"


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


def test_erratum_checks_assert_as_written_and_corrected():
    for row in L.ledger():
        if row.status == L.ERRATUM:
            source = inspect.getsource(L.check_function(row.check))
            assert "as_written" in source and "corrected" in source, row.check


def test_every_proof_module_is_referenced():
    referenced = {r.check.partition("::")[0] for r in L.ledger() if r.check != L.REFERENCE}
    modules = {f"proofs/{p.name}" for p in PROOFS_DIR.glob("proof_*.py")} - {"proofs/proof_ledger.py"}
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
    broken = L.Row("broken", 1, "test", "claim", L.ERRATUM, "fix", "proofs/proof_ledger.py::test_no_such_test")
    [result] = L.run_checks([broken])
    assert result.passed is False and "LookupError" in result.detail
