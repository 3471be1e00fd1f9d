"""One version: pyproject.toml, functional_nn.__version__, `functional-nn info` and the changelog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import functional_nn as fnn
from functional_nn import cli

ROOT = Path(__file__).resolve().parent.parent


def _newest_release() -> str:
    """The first ``## X.Y.Z - date`` heading of CHANGELOG.md (``## Unreleased`` is skipped)."""
    headings = re.findall(
        r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(), re.M
    )
    assert headings, "CHANGELOG.md has no '## X.Y.Z - YYYY-MM-DD' heading"
    return headings[0]


def test_pyproject_package_cli_and_changelog_agree(capsys):
    found = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found, "pyproject.toml has no version line"
    pyproject = found.group(1)
    assert fnn.__version__ == pyproject
    assert _newest_release() == pyproject
    assert cli.main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["functional_nn"] == pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+", pyproject)
