"""Fetcher security: what host is really asked, robots.txt limits, the total time limit.

In these tests the guard's resolver is replaced (``feeds.fetch.is_private_host``) so that a name
on 127.0.0.1 can stand for a public or a private host; the connection itself is real.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import LocalServer, RecordedRequest, Route

import feeds.fetch
from feeds.errors import FetchError
from feeds.fetch import Fetcher

BODY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


def redirect(to: str) -> Route:
    def answer(_: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        return 302, {"Location": to}, b""
    return Route(handler=answer)


@pytest.fixture
def localhost_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard takes "localhost" for a private host and 127.0.0.1 for a public one."""
    monkeypatch.setattr(feeds.fetch, "is_private_host", lambda host: host == "localhost")


@pytest.fixture(params=["pooled", "session"])
def fetcher(request: pytest.FixtureRequest) -> Iterator[Fetcher]:
    """A Fetcher on its fast path (the adapter's pool) or on the general one (Session.get)."""
    fetcher = Fetcher(timeout=5.0)
    if request.param == "session":
        fetcher.session.trust_env = True  # _direct_ok() is then False
    yield fetcher
    fetcher.close()


# -- 1. the host that is checked is the host that is asked -------------------------------------


@pytest.mark.usefixtures("localhost_private")
def test_backslash_before_at_is_refused(http_server: LocalServer, fetcher: Fetcher) -> None:
    """A backslash in the authority (read as "/" by browsers and urllib3, not by urlsplit) is
    refused, so that a private host cannot hide behind a public user-info part."""
    http_server.add("/%5C@127.0.0.1/secret", "secret")
    url = f"http://localhost:{http_server.port}\\@127.0.0.1/secret"
    with pytest.raises(FetchError, match="backslash") as caught:
        fetcher.get(url, source_id="s", allow_private=False)
    assert caught.value.source_id == "s"
    assert http_server.requests == []


@pytest.mark.usefixtures("localhost_private")
def test_backslash_in_a_redirect_is_refused(http_server: LocalServer, fetcher: Fetcher) -> None:
    """A redirect to a URL with a backslash in its authority is refused at that hop."""
    http_server.routes["/start"] = redirect(f"http://localhost:{http_server.port}\\@example.com/in")
    http_server.add("/%5C@example.com/in", "secret")
    with pytest.raises(FetchError, match="backslash"):
        fetcher.get(http_server.url("/start"), source_id="s", allow_private=False)
    assert [r.path for r in http_server.requests] == ["/start"]


def test_the_host_checked_is_the_host_connected_to(
    http_server: LocalServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A percent-encoded host (``%31%32%37.0.0.1``, which urllib3 decodes to 127.0.0.1) is
    checked as the address it is sent to."""
    monkeypatch.setattr(feeds.fetch, "is_private_host", lambda host: host == "127.0.0.1")
    http_server.add("/f.rss", BODY)
    with pytest.raises(FetchError, match="private or loopback"):
        fetcher.get(f"http://%31%32%37.0.0.1:{http_server.port}/f.rss", source_id="s",
                    allow_private=False)
    assert http_server.requests == []


@pytest.mark.usefixtures("localhost_private")
def test_user_info_is_refused(http_server: LocalServer, fetcher: Fetcher) -> None:
    """A URL with a user name (``http://public@private/``) is refused before any request."""
    url = http_server.add("/f.rss", BODY).replace("http://", "http://example.com@")
    with pytest.raises(FetchError, match="user name"):
        fetcher.get(url, source_id="s", allow_private=True)
    assert http_server.requests == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "gopher://example.com/1",
                                 "data:text/html,<p>x</p>"])
def test_only_http_urls_are_fetched_over_the_network(fetcher: Fetcher, url: str) -> None:
    """Other schemes are refused, whatever allow_private says."""
    with pytest.raises(FetchError, match="refusing to fetch"):
        fetcher.get(url, source_id="s", allow_private=True)


def test_connection_checks_the_address_it_connects_to(
    http_server: LocalServer, fetcher: Fetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name the guard took for public but that resolves to a private address when the
    connection is made (DNS rebinding) is refused, and the server is never asked."""
    monkeypatch.setattr(feeds.fetch, "is_private_host", lambda host: host == "127.0.0.1")
    url = f"http://localhost:{http_server.port}/f.rss"
    http_server.add("/f.rss", BODY)
    with pytest.raises(FetchError, match="private or loopback"):
        fetcher.get(url, source_id="s", allow_private=False)
    assert http_server.requests == []


# -- 2. robots.txt: guarded, capped, on its own clock ------------------------------------------


@pytest.mark.usefixtures("localhost_private")
def test_robots_redirect_to_a_private_host_is_not_followed(http_server: LocalServer) -> None:
    """robots.txt redirecting to a private host is not followed (and counts as unavailable)."""
    http_server.routes["/robots.txt"] = redirect(f"http://localhost:{http_server.port}/inside")
    http_server.add("/inside", "User-agent: *\nDisallow: /\n")
    page = http_server.add("/page", "<html></html>")
    response = Fetcher().obeying_robots().get(page, source_id="s", allow_private=False)
    assert response.status == 200
    assert http_server.requests_for("/inside") == []


def raw_server(answer: Callable[[socket.socket, str], None]) -> Iterator[str]:
    """A one-thread-per-connection server on 127.0.0.1 calling ``answer(conn, path)``."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            request = conn.recv(65536).decode("latin-1")
            path = request.split(" ")[1] if " " in request else "/"
            with contextlib.suppress(OSError):
                answer(conn, path)

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


PAGE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>"


def endless_robots(conn: socket.socket, path: str) -> None:
    """robots.txt as an endless chunked body (for at most 4 s); any other path a page."""
    if path != "/robots.txt":
        conn.sendall(PAGE)
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    line = b"User-agent: *\nDisallow: /private\n" + b"# padding\n" * 6000
    started = time.monotonic()
    while time.monotonic() - started < 4:
        conn.sendall(b"%x\r\n%s\r\n" % (len(line), line))


@pytest.fixture
def endless_robots_site() -> Iterator[str]:
    yield from raw_server(endless_robots)


def test_robots_txt_is_capped(endless_robots_site: str) -> None:
    """An endless robots.txt is cut at 500 KB (as Google does) and its first rules still apply."""
    fetcher = Fetcher(timeout=10.0)
    started = time.monotonic()
    allowed = fetcher.robots_allow(endless_robots_site + "/private/a", source_id="s")
    assert time.monotonic() - started < 2.0
    assert not allowed
    assert fetcher.robots_allow(endless_robots_site + "/public", source_id="s")


def slow_robots(conn: socket.socket, path: str) -> None:
    """robots.txt sent a byte every 0.1 s (for at most 4 s); any other path a page."""
    if path != "/robots.txt":
        conn.sendall(PAGE)
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(40):
        conn.sendall(b"#")
        time.sleep(0.1)


@pytest.fixture
def slow_robots_site() -> Iterator[str]:
    yield from raw_server(slow_robots)


def test_slow_robots_txt_has_its_own_time_limit(slow_robots_site: str) -> None:
    """A robots.txt slower than the source's timeout is given up after that timeout (and
    counts as unavailable); the page itself still gets its whole time limit."""
    started = time.monotonic()
    response = Fetcher().obeying_robots().get(slow_robots_site + "/list", source_id="s",
                                              timeout=1.0)
    assert response.body == b"<html></html>"
    assert time.monotonic() - started < 1.8


# -- 3. one time limit for the whole request ---------------------------------------------------


def trickling_body(conn: socket.socket, path: str) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(40):
        conn.sendall(b" ")
        time.sleep(0.1)


def trickling_headers(conn: socket.socket, path: str) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for _ in range(40):
        conn.sendall(b"X-A: b\r\n")
        time.sleep(0.1)


@pytest.fixture(params=[trickling_body, trickling_headers], ids=["body", "headers"])
def trickle_site(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server that sends its body, or its headers, a little every 0.1 s for 4 s."""
    yield from raw_server(request.param)


def test_total_time_limit_covers_headers_and_body(trickle_site: str, fetcher: Fetcher) -> None:
    """A response trickling in, each piece in time, fails at the total time limit with an
    error naming the source, and the worker is not held past it."""
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.8s \(total time limit\)") as caught:
        fetcher.get(trickle_site + "/feed", source_id="slow", timeout=0.8, allow_private=True)
    assert caught.value.source_id == "slow"
    assert time.monotonic() - started < 1.3


def test_total_time_limit_spans_redirects(http_server: LocalServer, fetcher: Fetcher) -> None:
    """Redirect hops share one time limit: two slow hops fail though each is under it."""
    http_server.routes["/a"] = Route(handler=lambda _: (time.sleep(0.5), (302, {
        "Location": "/b"}, b""))[1])
    http_server.add("/b", BODY, delay=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.8s \(total time limit\)"):
        fetcher.get(http_server.url("/a"), source_id="s", timeout=0.8, allow_private=True)
    assert time.monotonic() - started < 1.2


def test_a_fast_fetch_is_not_cut_later(http_server: LocalServer, fetcher: Fetcher) -> None:
    """The time limit ends with its request: a kept-alive connection is not closed under the
    next request once the first one's limit passes."""
    url = http_server.add("/f.rss", BODY)
    assert fetcher.get(url, source_id="s", timeout=0.3, allow_private=True).body == BODY
    http_server.add("/late", BODY, delay=0.5)
    late = fetcher.get(http_server.url("/late"), source_id="s", timeout=3.0, allow_private=True)
    assert late.body == BODY
