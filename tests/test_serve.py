"""`feeds serve`: conditional requests, gzip, media types, HEAD, path safety, /healthz, /metrics."""

from __future__ import annotations

import gzip
import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from feedsite import example_config, free_port, publish_example

from feeds import metrics
from feeds.config import Config
from feeds.poll import PollResult
from feeds.serve import ServerHandle, health_report, start_server
from feeds.store import Store

Answer = tuple[int, dict[str, str], bytes]
# Polled "now", so that the store-based liveness check sees a fresh cycle.
STARTED = datetime.now(UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, ServerHandle]]:
    """The example published with every format, served in a background thread."""
    tmp = tmp_path_factory.mktemp("serve")
    config = publish_example(example_config(tmp), STARTED)
    (tmp / "secret.txt").write_text("top secret")
    (config.output_dir / "leak.txt").symlink_to(tmp / "secret.txt")
    (config.output_dir / "sources" / "inside.atom").symlink_to(
        config.output_dir / "sources" / "qingdao-news.atom")
    (config.output_dir / ".feed.atom.123.tmp").write_text("half written")
    handle = start_server(config, "127.0.0.1", 0)
    try:
        yield config, handle
    finally:
        handle.stop()


def request(handle: ServerHandle, path: str, headers: dict[str, str] | None = None,
            method: str = "GET") -> Answer:
    """One request with the path sent exactly as given (no client-side normalization)."""
    conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def test_binds_loopback_by_default(site: tuple[Config, ServerHandle]) -> None:
    """The server listens on 127.0.0.1 unless told otherwise."""
    _, handle = site
    assert handle.host == "127.0.0.1"
    assert handle.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("path", "media_type"), [
    ("/sources/qingdao-news.atom", "application/atom+xml; charset=utf-8"),
    ("/sources/qingdao-news.rss", "application/rss+xml; charset=utf-8"),
    ("/sources/qingdao-news.json", "application/feed+json"),
    ("/feeds.opml", "text/x-opml"),
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
])
def test_media_types(site: tuple[Config, ServerHandle], path: str, media_type: str) -> None:
    """Each format is served with its registered media type (and UTF-8 for text types)."""
    _, handle = site
    status, headers, body = request(handle, path)
    assert status == 200
    assert headers["content-type"].startswith(media_type)
    assert "charset=utf-8" in headers["content-type"]
    assert headers["cache-control"] == "public, max-age=300"
    assert body


def test_conditional_get_etag_gives_304_without_body(site: tuple[Config, ServerHandle]) -> None:
    """A second request with the ETag gets 304 and no body; a stale ETag gets the feed."""
    _, handle = site
    status, headers, body = request(handle, "/sources/qingdao-news.atom")
    assert status == 200 and "青岛".encode() in body
    etag = headers["etag"]
    assert etag.startswith('"')
    status, again, body = request(handle, "/sources/qingdao-news.atom", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert again["etag"] == etag
    assert "content-length" not in again or again["content-length"] == "0"
    status, _, body = request(handle, "/sources/qingdao-news.atom", {"If-None-Match": '"other"'})
    assert status == 200 and body


def test_conditional_get_last_modified(site: tuple[Config, ServerHandle]) -> None:
    """If-Modified-Since equal to Last-Modified gets 304; an older date gets the feed."""
    _, handle = site
    _, headers, _ = request(handle, "/sources/python-insider.rss")
    modified = headers["last-modified"]
    status, _, body = request(handle, "/sources/python-insider.rss",
                              {"If-Modified-Since": modified})
    assert (status, body) == (304, b"")
    status, _, body = request(handle, "/sources/python-insider.rss",
                              {"If-Modified-Since": "Mon, 07 Jun 2021 02:22:00 GMT"})
    assert status == 200 and body


def test_rewritten_feed_gets_a_new_etag(site: tuple[Config, ServerHandle]) -> None:
    """After the file changes, the old ETag no longer matches."""
    config, handle = site
    path = config.output_dir / "topics" / "extra.atom"
    path.write_text("<feed xmlns='http://www.w3.org/2005/Atom'/>")
    _, headers, _ = request(handle, "/topics/extra.atom")
    path.write_text("<feed xmlns='http://www.w3.org/2005/Atom'><title>2</title></feed>")
    status, _, body = request(handle, "/topics/extra.atom", {"If-None-Match": headers["etag"]})
    assert status == 200 and b"<title>2</title>" in body


def test_gzip_is_negotiated(site: tuple[Config, ServerHandle]) -> None:
    """Clients that accept gzip get it; others get the plain bytes."""
    config, handle = site
    original = (config.output_dir / "sources" / "python-insider.atom").read_bytes()
    assert len(original) > 500
    status, headers, body = request(handle, "/sources/python-insider.atom",
                                    {"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert gzip.decompress(body) == original
    assert int(headers["content-length"]) == len(body) < len(original)
    status, headers, body = request(handle, "/sources/python-insider.atom",
                                    {"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers
    assert body == original


def test_head_has_headers_and_no_body(site: tuple[Config, ServerHandle]) -> None:
    """HEAD answers with GET's status and headers and an empty body."""
    config, handle = site
    size = (config.output_dir / "sources" / "qingdao-news.json").stat().st_size
    _, get_headers, _ = request(handle, "/sources/qingdao-news.json")
    status, headers, body = request(handle, "/sources/qingdao-news.json", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(size)
    for name in ("etag", "last-modified", "content-type", "cache-control"):
        assert headers[name] == get_headers[name]


@pytest.mark.parametrize("path", [
    "/../config/feeds.yaml",
    "/sources/../../config/feeds.yaml",
    "/%2e%2e/config/feeds.yaml",
    "/sources/%2E%2E/%2e%2e/config/feeds.yaml",
    "/..%2fconfig%2ffeeds.yaml",
    "/sources/..%5c..%5cconfig%5cfeeds.yaml",
    "/%2e%2e/secret.txt",
    "/leak.txt",
    "/.feed.atom.123.tmp",
])
def test_paths_outside_output_are_refused(site: tuple[Config, ServerHandle], path: str) -> None:
    """`..`, encoded traversal, symlinks leading out and hidden temp files all get 404."""
    _, handle = site
    status, _, body = request(handle, path)
    assert status == 404
    assert b"secret" not in body and b"sources:" not in body and b"half" not in body


def test_symlink_inside_output_is_served(site: tuple[Config, ServerHandle]) -> None:
    """A symlink that stays inside output/ is served (only escapes are refused)."""
    _, handle = site
    status, _, body = request(handle, "/sources/inside.atom")
    assert status == 200 and "青岛".encode() in body


def test_healthz_lists_failing_sources(site: tuple[Config, ServerHandle]) -> None:
    """/healthz is JSON naming the failing source, since when, and the last cycle."""
    _, handle = site
    status, headers, body = request(handle, "/healthz")
    assert status == 200
    assert headers["content-type"].startswith("application/json")
    report = json.loads(body)
    assert report["status"] == "degraded"
    config, _ = site
    assert report["sources"] == len([s for s in config.sources if s.enabled])
    failing = {f["id"]: f for f in report["failing"]}
    assert "qingdao-news" not in failing
    broken = failing["broken-example"]
    assert datetime.fromisoformat(broken["failing_since"]) == STARTED
    assert "web page" in broken["last_error"]
    assert datetime.fromisoformat(report["last_cycle"]) == STARTED


def test_health_is_stale_without_recent_polls(site: tuple[Config, ServerHandle]) -> None:
    """Without a scheduler in the process, polls older than 3 intervals mean 503 'stale'."""
    config, _ = site
    store = Store.open(config.store_path)
    try:
        t0 = STARTED
        status, body = health_report(config, store, None, t0 + timedelta(minutes=30))
        assert status == 200
        status, body = health_report(config, store, None, t0 + timedelta(hours=2))
        assert (status, body["status"]) == (503, "stale")
        status, body = health_report(config, store, lambda: {"alive": False}, t0)
        assert (status, body["status"]) == (503, "down")
        assert body["scheduler"] == {"alive": False}
    finally:
        store.close()


def test_health_provider_is_reported(tmp_path: Path) -> None:
    """A scheduler in the same process reports its own liveness through the provider."""
    config = publish_example(example_config(tmp_path))
    store = Store.open(config.store_path)
    states = store.states()
    store.close()
    healthy = config.model_copy(update={
        "sources": tuple(s for s in config.sources if not states[s.id].failures)})
    assert len(healthy.sources) >= 3
    handle = start_server(healthy, "127.0.0.1", 0,
                          health_provider=lambda: {"alive": True, "jobs": 3})
    try:
        status, _, body = request(handle, "/healthz")
    finally:
        handle.stop()
    report = json.loads(body)
    assert (status, report["status"], report["failing"]) == (200, "ok", [])
    assert report["scheduler"] == {"alive": True, "jobs": 3}


def test_metrics_expose_store_gauges_and_poll_counters(
    site: tuple[Config, ServerHandle],
) -> None:
    """/metrics is Prometheus text with per-source health from the store and poll counters."""
    _, handle = site
    metrics.record_poll(PollResult("qingdao-news", "ok", new=2, duration=0.3))
    metrics.record_poll(PollResult("broken-example", "failed", error="x", duration=0.1))
    metrics.record_cycle(1.5)
    status, headers, body = request(handle, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert 'feeds_source_up{source="broken-example"} 0.0' in text
    assert 'feeds_source_up{source="qingdao-news"} 1.0' in text
    assert 'feeds_source_articles{source="qingdao-news"} 2.0' in text
    assert 'feeds_polls_total{source="qingdao-news",status="ok"}' in text
    assert 'feeds_poll_failures_total{source="broken-example"}' in text
    assert 'feeds_new_entries_total{source="qingdao-news"}' in text
    assert "feeds_poll_duration_seconds_bucket" in text
    assert "feeds_cycle_duration_seconds_count" in text


def test_second_server_on_a_busy_port_fails_clearly(site: tuple[Config, ServerHandle]) -> None:
    """Starting on a port already in use raises OSError instead of hanging."""
    config, handle = site
    with pytest.raises(OSError, match="could not serve"):
        start_server(config, "127.0.0.1", handle.port, timeout=5)


def test_run_serve_serves_while_the_service_runs(tmp_path: Path) -> None:
    """`feeds run --serve` answers HTTP while the scheduler runs and stops with it on SIGTERM."""
    config_path = example_config(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds", "-c", str(config_path), "run", "--serve",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while health is None and time.monotonic() < deadline and process.poll() is None:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health is not None, process.stderr.read().decode() if process.stderr else ""
        assert health.headers["content-type"].startswith("application/json")
        assert "failing" in health.json()
        metrics_text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "feeds_source_up" in metrics_text
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
