"""The lecture's "simple demo", built on functional_nn: an interactive page served locally.

``functional-nn playground`` serves it (:func:`serve`); ``--export`` writes a
self-contained HTML file of a run's frames (:func:`export_html`). The server keeps one
:class:`Session` per browser tab and advances it with a compiled chunk of updates
(:mod:`.engine`); settings are checked at the boundary (:func:`parse_settings`).
"""

from functional_nn.playground.export import export_html
from functional_nn.playground.server import PlaygroundServer, serve
from functional_nn.playground.session import Session, SessionStore
from functional_nn.playground.settings import Settings, SettingsError, parse_settings

__all__ = [
    "PlaygroundServer",
    "Session",
    "SessionStore",
    "Settings",
    "SettingsError",
    "export_html",
    "parse_settings",
    "serve",
]
