"""The playground's HTTP server: the page, its script and a small JSON API, on 127.0.0.1.

Routes (JSON bodies and answers; every error is ``{"error": message, "field": name}``):

    GET    /                                 the page (static/index.html)
    GET    /static/<file>                    its script and style
    GET    /api/options                      choices, limits and defaults
    POST   /api/sessions                     settings -> 201, a new session's frame (with "session")
    GET    /api/sessions/<id>                the current frame
    POST   /api/sessions/<id>/advance        {"updates": n} | {"epochs": n} | {"seconds": t} -> frame
    POST   /api/sessions/<id>/settings       changed settings -> frame ("restarted": bool)
    POST   /api/sessions/<id>/reset          {"seed": s} (optional) -> frame of a new run
    POST   /api/sessions/<id>/gradcheck      fnn.compare_gradients' per-leaf table
    DELETE /api/sessions/<id>                free it now (a closing tab does this)

Frames carry ``history`` from the index ``history_from`` (a query parameter) on, so
the page fetches only new epochs. Bad input is a 4xx with a one-line message; an
unexpected failure is a 500 with a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from functional_nn.playground.session import SessionStore
from functional_nn.playground.settings import SettingsError, options

__all__ = ["HTTPError", "static_file", "PlaygroundServer", "Handler", "serve"]

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
_SESSION_ROUTE = re.compile(
    r"^/api/sessions/([0-9a-f]{16})(?:/(advance|settings|reset|gradcheck))?$"
)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def static_file(name: str) -> bytes:
    """A file of the page, from the installed package."""
    return (
        resources.files("functional_nn.playground").joinpath("static").joinpath(name).read_bytes()
    )


class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server that owns a :class:`SessionStore`."""

    daemon_threads = True

    def __init__(self, port: int = 0, *, store: SessionStore | None = None, quiet: bool = True):
        self.store = store if store is not None else SessionStore()
        self.quiet = quiet
        super().__init__((HOST, port), Handler)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"

    def start_janitor(self, every: float = 30.0) -> threading.Thread:
        """Free idle sessions every ``every`` seconds, also while no request comes."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.store.reap()

        thread = threading.Thread(target=loop, name="playground-janitor", daemon=True)
        thread.start()
        self._janitor_stop = stop
        return thread

    def server_close(self) -> None:
        if getattr(self, "_janitor_stop", None) is not None:
            self._janitor_stop.set()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        if not self.server.quiet:
            sys.stderr.write(f"playground: {self.address_string()} {format % args}\n")

    # --- dispatch ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            status, answer = self._route(method, url.path, query)
            if isinstance(answer, tuple):  # a static file: (bytes, content type)
                self._send(status, *answer)
            elif answer is None:
                self._send(status, b"", None)
            else:
                self._send(status, json.dumps(answer, allow_nan=False).encode(), "application/json")
        except HTTPError as err:
            self._error(err.status, str(err), err.field)
        except SettingsError as err:
            self._error(HTTPStatus.BAD_REQUEST, str(err), err.field)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the tab went away mid-answer
        except Exception as err:  # never a traceback to the page or the terminal: one line each
            message = " ".join(f"{type(err).__name__}: {err}".split())
            sys.stderr.write(f"playground: internal error on {method} {self.path}: {message}\n")
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {message}", None)

    def _route(self, method: str, path: str, query: dict) -> tuple[int, Any]:
        store = self.server.store
        if path in ("/", "/index.html"):
            self._only(method, "GET")
            return 200, (static_file("index.html"), STATIC_TYPES[".html"])
        if path.startswith("/static/"):
            self._only(method, "GET")
            name = path[len("/static/") :]
            suffix = name[name.rfind(".") :] if "." in name else ""
            if not re.fullmatch(r"[a-z_]+\.[a-z]+", name) or suffix not in STATIC_TYPES:
                raise HTTPError(404, f"no such file: {path}")
            try:
                return 200, (static_file(name), STATIC_TYPES[suffix])
            except FileNotFoundError:
                raise HTTPError(404, f"no such file: {path}") from None
        if path == "/api/options":
            self._only(method, "GET")
            return 200, options()
        if path == "/api/sessions":
            self._only(method, "POST")
            session_id, session = store.create(self._body())
            with session.lock:
                return 201, {"session": session_id, **session.frame()}
        match = _SESSION_ROUTE.match(path)
        if match is None:
            if path.startswith("/api/sessions/"):
                raise HTTPError(404, f"no such session or action: {path}")
            raise HTTPError(404, f"no such page: {path}")
        session_id, action = match.groups()
        if method == "DELETE" and action is None:
            if not store.drop(session_id):
                raise HTTPError(404, f"no session {session_id} (closed, or freed after being idle)")
            return 204, None
        found = store.get(session_id)
        if found is None:
            raise HTTPError(
                404,
                f"no session {session_id} (closed, or freed after being idle "
                f"{store.idle_seconds:g} s); reload the page",
            )
        session = found
        history_from = _history_from(query)
        with session.lock:
            extra: dict[str, Any] = {}
            if action is None:
                self._only(method, "GET")
            else:
                self._only(method, "POST")
                body = self._body()
                if action == "advance":
                    extra["timing"] = session.advance(**_advance_args(body))
                elif action == "settings":
                    extra["restarted"] = session.update_settings(body)
                    history_from = 0 if extra["restarted"] else history_from
                elif action == "reset":
                    seed = body.get("seed")
                    if seed is not None and (
                        isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
                    ):
                        raise HTTPError(
                            400, f"seed must be a non-negative integer, got {seed!r}", "seed"
                        )
                    session.reset(seed)
                    history_from = 0
                else:  # gradcheck
                    return 200, session.check_gradients()
            frame = session.frame(history_from=min(history_from, len(session.history["epoch"])))
            return 200, {"session": session_id, **frame, **extra}

    # --- helpers ----------------------------------------------------------------------

    def _only(self, method: str, allowed: str) -> None:
        if method != allowed:
            raise HTTPError(405, f"{method} is not allowed here; use {allowed}")

    def _body(self) -> dict:
        header = self.headers.get("Content-Length")
        try:
            length = int(header) if header is not None else 0
        except ValueError:
            raise HTTPError(400, f"Content-Length must be a number, got {header!r}") from None
        if length < 0 or length > MAX_BODY:
            raise HTTPError(413, f"request body must be at most {MAX_BODY} bytes, got {length}")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
            raise HTTPError(400, f"request body must be JSON: {err}") from None
        if not isinstance(body, dict):
            raise HTTPError(400, f"request body must be a JSON object, got {type(body).__name__}")
        return body

    def _send(self, status: int, payload: bytes, content_type: str | None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _error(self, status: int, message: str, field: str | None) -> None:
        # the body of a refused request may be unread: drop the connection after answering
        self.close_connection = True
        try:
            self._send(
                int(status),
                json.dumps({"error": message, "field": field}).encode(),
                "application/json",
            )
        except (BrokenPipeError, ConnectionResetError):
            pass


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _history_from(query: dict) -> int:
    raw = query.get("history_from", ["0"])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(
            400, f"history_from must be a non-negative integer, got {raw!r}", "history_from"
        ) from None
    if value < 0:
        raise HTTPError(
            400, f"history_from must be a non-negative integer, got {raw!r}", "history_from"
        )
    return value


def _advance_args(body: dict) -> dict:
    """Exactly one of updates / epochs (positive ints) / seconds (a positive number)."""
    given = [k for k in ("updates", "epochs", "seconds") if k in body]
    unknown = sorted(set(body) - {"updates", "epochs", "seconds"})
    if unknown:
        raise HTTPError(
            400,
            f"unknown field {unknown[0]!r}; advance takes updates, epochs or seconds",
            unknown[0],
        )
    if len(given) != 1:
        raise HTTPError(
            400, f"advance takes exactly one of updates, epochs, seconds; got {given or 'none'}"
        )
    name = given[0]
    value = body[name]
    if name == "seconds":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
            raise HTTPError(400, f"seconds must be a number in (0, 10], got {value!r}", name)
        return {"seconds": float(value)}
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise HTTPError(400, f"{name} must be an integer in [1, 100000], got {value!r}", name)
    return {name: value}


def serve(
    port: int = 0,
    *,
    open_browser: bool = False,
    idle_seconds: float = 600.0,
    quiet: bool = True,
    announce: Callable[[str], object] = print,
) -> None:
    """Serve the playground on 127.0.0.1 until interrupted (Ctrl-C)."""
    server = PlaygroundServer(port, store=SessionStore(idle_seconds=idle_seconds), quiet=quiet)
    server.start_janitor(every=min(30.0, idle_seconds))
    announce(f"functional-nn playground: serving on {server.url} (Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever(poll_interval=0.25)
    finally:
        server.server_close()
