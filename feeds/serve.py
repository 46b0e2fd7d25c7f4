"""HTTP serving of output/: cheap polling for feed readers, health and metrics for operators.

Starlette over uvicorn. ``StaticFiles`` answers conditional requests (ETag and Last-Modified
from the file's stat, 304 with no body), HEAD and byte ranges; ``GZipMiddleware`` compresses
when the client asks; every file gets its media type from :data:`MEDIA_TYPES` and a
``Cache-Control``. Only files inside output/ are served: ``..`` (plain or percent-encoded),
hidden files (the ``.name.tmp`` files of an atomic write in progress) and symlinks leading out
of the directory get 404.

``/healthz`` says whether polling is alive and which sources fail (JSON); ``/metrics`` is the
Prometheus text format (feeds.metrics).

Usage::

    handle = start_server(config, "127.0.0.1", 8080)   # background thread (feeds run --serve)
    ...
    handle.stop()
    serve_forever(config, "127.0.0.1", 8080)            # foreground (feeds serve)
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from feeds import metrics
from feeds.config import Config
from feeds.store import Store

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

MEDIA_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Readers revalidate after this; with ETags a revalidation costs a 304 and no body.
CACHE_CONTROL = "public, max-age=300"

HealthProvider = Callable[[], Mapping[str, Any]]
"""Returns the scheduler's view of itself, e.g. ``{"alive": True, "last_cycle": "..."}``;
``alive: False`` makes /healthz answer 503."""


class OutputFiles(StaticFiles):
    """StaticFiles with our media types and Cache-Control, refusing paths that leave output/."""

    def get_path(self, scope: Scope) -> str:
        # uvicorn has already percent-decoded the path: %2e%2e arrives here as "..".
        path: str = scope["path"]
        for segment in path.split("/"):
            if segment.startswith(".") or "\\" in segment or "\x00" in segment:
                raise HTTPException(status_code=404)
        return super().get_path(scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = CACHE_CONTROL
        media_type = MEDIA_TYPES.get(Path(full_path).suffix.lower())
        if isinstance(response, FileResponse) and media_type:
            response.media_type = media_type
            response.headers["Content-Type"] = media_type
        return response


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def health_report(
    config: Config, store: Store, provider: HealthProvider | None, now: datetime
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for /healthz.

    Liveness: the scheduler's own word when it runs in this process (``provider``); otherwise
    the newest poll in the store, which must be younger than three times the shortest
    polling interval ("stale" beyond that). Failing sources make the status "degraded" but
    not 503: the server and the other feeds are fine.
    """
    states = store.states()
    enabled = [s for s in config.sources if s.enabled]
    attempts = [s.last_attempt for s in states.values() if s.last_attempt]
    last_cycle = max(attempts, default=None)
    failing = []
    for source in enabled:
        state = states.get(source.id)
        if state and (state.failures or state.gone):
            failing.append({
                "id": source.id,
                "failures": state.failures,
                "gone": state.gone,
                "failing_since": _iso(state.failing_since or state.last_error_at),
                "last_error": state.last_error,
                "last_success": _iso(state.last_success),
            })
    body: dict[str, Any] = {
        "status": "ok",
        "last_cycle": _iso(last_cycle),
        "sources": len(enabled),
        "failing": failing,
    }
    alive = True
    if provider is not None:
        scheduler = dict(provider())
        body["scheduler"] = scheduler
        alive = bool(scheduler.get("alive", True))
    elif last_cycle is not None and enabled:
        shortest = min(config.interval(s) for s in enabled)
        if now - last_cycle > max(3 * shortest, timedelta(minutes=5)):
            body["status"] = "stale"
            body["stale_after"] = _iso(last_cycle + max(3 * shortest, timedelta(minutes=5)))
            return 503, body
    elif last_cycle is None:
        body["status"] = "never polled"
    if not alive:
        body["status"] = "down"
        return 503, body
    if failing and body["status"] == "ok":
        body["status"] = "degraded"
    return 200, body


def build_app(
    config: Config,
    store: Store,
    health_provider: HealthProvider | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> GZipMiddleware:
    """The ASGI application serving ``config.output_dir``, /healthz and /metrics."""
    out = config.output_dir
    out.mkdir(parents=True, exist_ok=True)
    scrape = metrics.Joined([metrics.REGISTRY, metrics.StoreCollector(config, store)])

    def healthz(request: Request) -> Response:
        # A plain def: Starlette runs it in a worker thread, so SQLite never blocks the loop.
        status, body = health_report(config, store, health_provider, clock())
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(scrape), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    app = Starlette(routes=[
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET", "HEAD"]),
        # follow_symlink=False: StaticFiles resolves symlinks and refuses any outside out/.
        Mount("/", app=OutputFiles(directory=out, html=True, follow_symlink=False)),
    ])
    return GZipMiddleware(app, minimum_size=500)


def _uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    # log_config=None: uvicorn's loggers go to the handlers cli.py set up, like ours.
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                          server_header=False, lifespan="off")


@dataclass
class ServerHandle:
    """A server running in a background thread; :meth:`stop` ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    store: Store
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.store.close()


def start_server(
    config: Config,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    health_provider: HealthProvider | None = None,
    timeout: float = 10.0,
) -> ServerHandle:
    """Serve in a background thread (``feeds run --serve``); port 0 picks a free port."""
    store = Store.open(config.store_path)
    server = uvicorn.Server(_uvicorn_config(build_app(config, store, health_provider), host, port))

    def run() -> None:
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; start_server reports that
            log.debug("server thread ended early")

    thread = threading.Thread(target=run, name="feeds-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            store.close()
            raise OSError(f"could not serve on {host}:{port} (port in use?)")
        time.sleep(0.02)
    bound = port
    for listener in server.servers:
        for sock in listener.sockets:
            bound = sock.getsockname()[1]
    log.info("serving %s on http://%s:%d/", config.output_dir, host, bound)
    return ServerHandle(server, thread, store, host, bound)


@contextlib.contextmanager
def _stop_quietly(server: uvicorn.Server) -> Iterator[None]:
    """While uvicorn runs: a SIGTERM or SIGINT it caught ends this function normally.

    uvicorn shuts down on those signals, then raises the signal again for the handler that
    was in place before it started; with Python's defaults that kills the process (exit 143)
    or raises KeyboardInterrupt. A stop asked for is a clean exit, as in `feeds run`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals; uvicorn does not install any either
        return

    def stopped(signum: int, frame: FrameType | None) -> None:
        # Called again by uvicorn once it has stopped, or before it listens: then stop it.
        server.should_exit = True
        log.info("%s: stopping the server", signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve_forever(config: Config, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (``feeds serve``)."""
    store = Store.open(config.store_path)
    try:
        server = uvicorn.Server(_uvicorn_config(build_app(config, store), host, port))
        with _stop_quietly(server):
            server.run()
        if not server.started:
            raise OSError(f"could not serve on {host}:{port} (port in use?)")
    finally:
        store.close()
