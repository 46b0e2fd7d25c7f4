"""Shared fixtures: a real HTTP server on 127.0.0.1 that records every request, and a real
SQLite store."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from feeds.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = Path(__file__).resolve().parent / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; the calling test is skipped when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@dataclass
class Route:
    """What the server answers for one path. ``handler`` may replace the canned answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answer 304 to a matching If-None-Match / If-Modified-Since
    delay: float = 0.0
    handler: Callable[[RecordedRequest], tuple[int, dict[str, str], bytes]] | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    started: float
    finished: float = 0.0


class LocalServer:
    """A threaded HTTP server; ``routes`` maps paths to answers; ``requests`` logs each one."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                started = time.monotonic()
                with server.lock:
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    self._answer(head, started)
                finally:
                    with server.lock:
                        server.active -= 1

            def _answer(self, head: bool, started: float) -> None:
                headers = {k: v for k, v in self.headers.items()}
                request = RecordedRequest(self.command, self.path, headers, started)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    status, out_headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                elif route.handler is not None:
                    status, out_headers, body = route.handler(request)
                else:
                    if route.delay:
                        time.sleep(route.delay)
                    status, body = route.status, route.body
                    out_headers = dict(route.headers)
                    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                    out_headers.setdefault("ETag", etag)
                    out_headers.setdefault("Last-Modified", "Mon, 07 Jun 2021 02:22:00 GMT")
                    if route.conditional and status == 200 and (
                        headers.get("If-None-Match") == out_headers["ETag"]
                        or headers.get("If-Modified-Since") == out_headers["Last-Modified"]
                    ):
                        status, body = 304, b""
                with server.lock:
                    server.requests.append(
                        RecordedRequest(request.method, request.path, headers, started,
                                        time.monotonic())
                    )
                self.send_response(status)
                for name, value in out_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and status != 304:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes | str = b"", **kwargs: object) -> str:
        """Serve ``body`` at ``path``; returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@contextlib.contextmanager
def running_server() -> Iterator[LocalServer]:
    """A started :class:`LocalServer`, shut down on exit."""
    server = LocalServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A real HTTP server on 127.0.0.1, stopped after the test."""
    with running_server() as server:
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in tmp_path, closed after the test."""
    s = Store.open(tmp_path / "db.sqlite")
    yield s
    s.close()
