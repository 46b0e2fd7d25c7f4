"""Fetcher over real HTTP: conditional GET, redirects and the guard on every hop, caps, errors."""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LocalServer, RecordedRequest, Route

import feeds.fetch
from feeds import USER_AGENT
from feeds.errors import FetchError, GoneError
from feeds.fetch import Fetcher, parse_max_age, parse_retry_after

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A default Fetcher, closed after the test."""
    fetcher = Fetcher(timeout=5.0)
    yield fetcher
    fetcher.close()


def test_conditional_get_sends_validators_and_reads_304(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    """A first GET returns body and validators; sending them back yields an empty 304."""
    url = http_server.add("/f.rss", BODY, headers={"Content-Type": "application/rss+xml",
                                                   "Cache-Control": "public, max-age=600"})
    first = fetcher.get(url, source_id="s", allow_private=True)
    assert (first.status, first.body, first.content_type) == (200, BODY, "application/rss+xml")
    assert first.etag and first.last_modified and first.max_age == 600.0
    again = fetcher.get(url, source_id="s", etag=first.etag, last_modified=first.last_modified,
                        allow_private=True)
    assert again.not_modified and again.body == b"" and again.etag == first.etag
    sent = http_server.requests_for("/f.rss")[-1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept-Encoding"] == "gzip, deflate"


def test_warm_304s_reuse_one_connection(http_server: LocalServer, fetcher: Fetcher) -> None:
    """Successive 304s from one host go over a single keep-alive connection."""
    url = http_server.add("/f.rss", BODY)
    first = fetcher.get(url, source_id="s", allow_private=True)
    for _ in range(5):
        assert fetcher.get(url, source_id="s", etag=first.etag, allow_private=True).not_modified
    pools = fetcher.session.get_adapter(url).poolmanager.pools  # type: ignore[attr-defined]
    # urllib3's pool container refuses iteration; keys() is its way to list the pools.
    assert [pools[key].num_connections for key in pools.keys()] == [1]  # noqa: SIM118


def test_source_headers_accept_and_cookies_are_sent(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    """A source's own headers and Accept go out, and a cookie the site set comes back."""
    http_server.add("/login", "ok", headers={"Set-Cookie": "sid=abc; Path=/"})
    url = http_server.add("/page.html", "<html></html>")
    fetcher.get(http_server.url("/login"), source_id="s", allow_private=True)
    fetcher.get(url, source_id="s", headers={"X-Token": "t1"}, accept="text/html",
                allow_private=True)
    sent = http_server.requests_for("/page.html")[0].headers
    assert sent["X-Token"] == "t1" and sent["Accept"] == "text/html"
    assert sent["Cookie"] == "sid=abc"
    assert "Cookie" not in http_server.requests_for("/login")[0].headers


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_decoded(
    http_server: LocalServer, fetcher: Fetcher, encoding: str
) -> None:
    """gzip and deflate bodies arrive decoded."""
    packed = gzip.compress(BODY) if encoding == "gzip" else zlib.compress(BODY)
    url = http_server.add("/z.rss", packed, headers={"Content-Encoding": encoding})
    assert fetcher.get(url, source_id="s", allow_private=True).body == BODY


def test_proxy_of_a_source_is_used(http_server: LocalServer, fetcher: Fetcher) -> None:
    """With ``proxy`` set, the request goes to the proxy with the absolute URL."""
    http_server.routes["http://feeds.invalid/x.rss"] = Route(body=BODY)
    response = fetcher.get("http://feeds.invalid/x.rss", source_id="s",
                           proxy=http_server.url("/"), allow_private=True)
    assert response.body == BODY
    assert http_server.requests_for("http://feeds.invalid/x.rss")


def redirect(to: str, status: int = 302) -> Route:
    def answer(_: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        return status, {"Location": to}, b""
    return Route(handler=answer)


@pytest.mark.parametrize(("first", "second", "moved"), [(301, 308, True), (301, 302, False)])
def test_redirects_are_followed_and_permanent_moves_reported(
    http_server: LocalServer, fetcher: Fetcher, first: int, second: int, moved: bool
) -> None:
    """A chain of redirects is followed; moved_to is set only if every hop was permanent."""
    http_server.routes["/a"] = redirect("/b", first)
    http_server.routes["/b"] = redirect(http_server.url("/c"), second)
    final = http_server.add("/c", BODY)
    response = fetcher.get(http_server.url("/a"), source_id="s", allow_private=True)
    assert (response.url, response.body) == (final, BODY)
    assert response.moved_to == (final if moved else None)


def test_redirect_limit(http_server: LocalServer) -> None:
    """A redirect loop stops after max_redirects hops with an error naming the source."""
    http_server.routes["/loop"] = redirect("/loop")
    fetcher = Fetcher(max_redirects=3)
    with pytest.raises(FetchError, match="more than 3 redirects") as caught:
        fetcher.get(http_server.url("/loop"), source_id="looping", allow_private=True)
    assert caught.value.source_id == "looping"
    assert len(http_server.requests_for("/loop")) == 4


def test_private_guard_refuses_loopback(http_server: LocalServer, fetcher: Fetcher) -> None:
    """Without allow_private a loopback URL is refused before any request is sent."""
    url = http_server.add("/f.rss", BODY)
    with pytest.raises(FetchError, match="private or loopback") as caught:
        fetcher.get(url, source_id="s", allow_private=False)
    assert caught.value.url == url
    assert http_server.requests == []


def test_private_guard_checks_every_redirect_hop(
    http_server: LocalServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect to a private host is refused at that hop, and the target is never asked."""
    # Only "localhost" counts as private here, so the first hop (127.0.0.1) is allowed.
    monkeypatch.setattr(feeds.fetch, "is_private_host", lambda host: host == "localhost")
    http_server.routes["/start"] = redirect(f"http://localhost:{http_server.port}/inside")
    http_server.add("/inside", BODY)
    with pytest.raises(FetchError, match="private") as caught:
        fetcher.get(http_server.url("/start"), source_id="s", allow_private=False)
    assert caught.value.url == f"http://localhost:{http_server.port}/inside"
    assert len(http_server.requests_for("/start")) == 1
    assert http_server.requests_for("/inside") == []


def test_other_schemes_are_refused(fetcher: Fetcher) -> None:
    """Only http and https are fetched over the network."""
    with pytest.raises(FetchError, match="refusing to fetch a ftp URL"):
        fetcher.get("ftp://example.org/feed", source_id="s")


def test_declared_size_over_the_cap(http_server: LocalServer) -> None:
    """A Content-Length above max_bytes fails before the body is read."""
    url = http_server.add("/big", b"x" * 5000)
    with pytest.raises(FetchError, match="5,000 bytes exceeds the 1,000-byte cap"):
        Fetcher().get(url, source_id="s", max_bytes=1000, allow_private=True)


def test_decoded_size_over_the_cap(http_server: LocalServer) -> None:
    """A small gzip body that inflates past max_bytes is cut off while streaming."""
    url = http_server.add("/bomb", gzip.compress(b"x" * 300_000),
                          headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="exceeds the 100,000-byte cap"):
        Fetcher().get(url, source_id="s", max_bytes=100_000, allow_private=True)


@pytest.fixture
def trickle() -> Iterator[str]:
    """A server that promises 1 MB and sends it 16 KB every 30 ms."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
            for _ in range(64):
                if stop.wait(0.03):
                    return
                try:
                    conn.sendall(b"x" * 16384)
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
    stop.set()
    thread.join(5)
    listener.close()


def test_total_time_cap_while_streaming(trickle: str) -> None:
    """A body that keeps arriving, each piece in time, still stops at the total time limit."""
    started = time.monotonic()
    with pytest.raises(FetchError, match="response too slow"):
        Fetcher().get(trickle, source_id="s", timeout=0.4, allow_private=True)
    assert time.monotonic() - started < 1.5


def test_read_timeout(http_server: LocalServer) -> None:
    """A server that does not answer in time gives a timeout error naming the limit."""
    url = http_server.add("/late", BODY, delay=1.0)
    with pytest.raises(FetchError, match=r"timed out after 0\.2s"):
        Fetcher().get(url, source_id="s", timeout=0.2, allow_private=True)


def test_connection_refused_names_source_and_url(fetcher: Fetcher) -> None:
    """A closed port fails with a hint, the source id and the URL."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/f.rss"
    with pytest.raises(FetchError, match="cannot connect") as caught:
        fetcher.get(url, source_id="dead", allow_private=True)
    assert str(caught.value).startswith("dead: ") and url in str(caught.value)


def test_http_errors_gone_and_retry_after(http_server: LocalServer, fetcher: Fetcher) -> None:
    """410 raises GoneError; 429 carries status and Retry-After; 500 names the status."""
    gone = http_server.add("/gone", "x", status=410)
    busy = http_server.add("/busy", "x", status=429, headers={"Retry-After": "7200"})
    broken = http_server.add("/broken", "x", status=500)
    with pytest.raises(GoneError, match="410 Gone"):
        fetcher.get(gone, source_id="s", allow_private=True)
    with pytest.raises(FetchError) as caught:
        fetcher.get(busy, source_id="s", allow_private=True)
    assert (caught.value.status, caught.value.retry_after) == (429, 7200.0)
    with pytest.raises(FetchError, match="HTTP 500 Internal Server Error") as failed:
        fetcher.get(broken, source_id="s", allow_private=True)
    assert failed.value.url == broken


def test_header_parsers() -> None:
    """Retry-After takes seconds or a date; max-age is read from Cache-Control."""
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 May 2024 12:01:00 GMT", now=None) is not None
    assert parse_retry_after("Wed, 01 May 2024 12:01:00 GMT",
                             now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == 60.0
    assert parse_retry_after("soon") is None
    assert parse_max_age("no-cache, Max-Age=30") == 30.0
    assert parse_max_age("no-store") is None


def test_urls_are_quoted_as_requests_quotes_them(
    http_server: LocalServer, fetcher: Fetcher
) -> None:
    """A URL with a space is sent percent-encoded, the first time and again from the cache."""
    http_server.add("/a%20b.rss", BODY)
    for _ in range(2):
        assert fetcher.get(http_server.url("/a b.rss"), source_id="s",
                           allow_private=True).body == BODY
    assert len(http_server.requests_for("/a%20b.rss")) == 2


def test_session_wide_settings_still_apply(http_server: LocalServer, fetcher: Fetcher) -> None:
    """Auth set on the session (which the direct adapter path does not handle) is still sent."""
    url = http_server.add("/private.rss", BODY)
    fetcher.session.auth = ("user", "secret")
    assert fetcher.get(url, source_id="s", allow_private=True).body == BODY
    assert http_server.requests_for("/private.rss")[0].headers["Authorization"].startswith("Basic ")


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: (feed URL, cert file)."""
    import http.server
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/feed.xml", cert
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_tls_certificates_are_verified(tls_server: tuple[str, Path]) -> None:
    """An HTTPS feed with a certificate no CA vouches for is refused as a TLS error; trusting
    that certificate (verify = its file) reads it, over the same fast path."""
    url, cert = tls_server
    fetcher = Fetcher()
    with pytest.raises(FetchError, match="TLS error") as failed:
        fetcher.get(url, source_id="secure")
    assert failed.value.source_id == "secure"
    trusting = Fetcher()
    trusting.session.verify = str(cert)
    response = trusting.get(url, source_id="secure")
    assert response.status == 200 and response.body.startswith(b"<rss")
    fetcher.close()
    trusting.close()


def test_local_file_rewritten_within_the_second_is_read_again(tmp_path: Path,
                                                               fetcher: Fetcher) -> None:
    """A local file's validator changes with every write, even two within one second of
    the same size; the unchanged file gives a 304."""
    path = tmp_path / "feed.xml"
    path.write_bytes(b"<rss>first</rss>")
    first = fetcher.get(str(path), source_id="s")
    assert first.status == 200 and first.etag
    again = fetcher.get(str(path), source_id="s", etag=first.etag)
    assert again.not_modified
    stat = path.stat()
    path.write_bytes(b"<rss>other</rss>")  # same size; keep the mtime within that second
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    changed = fetcher.get(str(path), source_id="s", etag=first.etag)
    assert changed.status == 200 and changed.body == b"<rss>other</rss>"
