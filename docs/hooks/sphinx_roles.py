"""mkdocs hook: the docstrings' Sphinx roles (``:func:`fit```) render as plain code.

The docstrings are read by Sphinx-minded tools as well as this site; mkdocstrings renders
``:func:`x``` as ":func:" followed by the code, so the role prefix is dropped here.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj|const|py:\w+):(?=<code>)")


def on_page_content(html: str, **kwargs: object) -> str:
    return _ROLE.sub("", html)
