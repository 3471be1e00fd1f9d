"""Derivations of the lecture's formulas, each machine-checked, and the ledger of its claims.

Each ``proofs/proof_<topic>.py`` holds one derivation in its module docstring
(Markdown with LaTeX) and the checks pytest runs. :mod:`proofs.ledger` lists every
claim of the lecture with its status and its check (``from proofs.ledger import
ledger, run_checks``); ``python -m proofs`` prints it.
"""
