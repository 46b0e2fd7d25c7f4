"""HTTP and local-file fetching: timeouts, size caps, redirects, conditional GET.

Usage::

    fetcher = Fetcher(base_dir=Path("config"))
    response = fetcher.get(url, source_id="python-insider", etag=state.etag)
    if response.not_modified: ...

Redirects are followed by hand so that every hop is checked against the private-address guard
and a permanent redirect (301/308) can be reported to the user. The guard checks the host that
urllib3 will connect to (URLs that parsers read differently are refused), and the connection
checks again the address it connects to (see :func:`_guarded_socket`).

``timeout`` is one limit for the whole request, redirects included: every socket read waits at
most until the deadline, and a watchdog thread shuts the connection of a response that is still
trickling in when it passes (:class:`_Watchdog`).

Politeness lives here, so that it covers every request (feeds, listing pages, article pages,
robots.txt): a :class:`HostLimiter` bounds concurrent requests per host and spaces them out,
and a fetcher from :meth:`Fetcher.obeying_robots` refuses URLs robots.txt disallows.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import hashlib
import logging
import math
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.connectionpool
from requests.cookies import extract_cookies_to_jar

from feeds import USER_AGENT
from feeds.errors import FetchError, GoneError
from feeds.urls import fetch_refusal, is_private_host

if TYPE_CHECKING:
    from protego import Protego

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CHUNK = 64 * 1024
POOL_SIZE = 64
PREPARED_URLS = 20_000  # URLs whose prepared form is kept (a cycle's feeds, and then some)
# Google reads the first 500 KiB of a robots.txt and ignores the rest; so does feeds.
ROBOTS_MAX_BYTES = 500 * 1024


@dataclass(frozen=True)
class Response:
    """What a fetch returned. ``body`` is empty when the resource was not modified."""

    url: str
    status: int
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    max_age: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return float(value)
    return None


class FetchCancelled(Exception):
    """The service is stopping; a request waiting for its host was abandoned.

    Deliberately not a FeedsError: an abandoned poll is not the source's failure and must
    not be recorded as one.
    """


@dataclass
class _HostSlot:
    active: int = 0
    ready_at: float = 0.0  # monotonic time before which no new request may start


class HostLimiter:
    """At most ``per_host`` requests at a time to one host, started at least ``delay`` apart.

    The delay also runs from the end of a request, so with ``per_host=1`` a host sees a
    pause of ``delay`` seconds between one response and the next request. Usage::

        limiter = HostLimiter(per_host=1, delay=1.0)
        with limiter.slot("example.org"):
            ...  # one HTTP request
    """

    def __init__(
        self, per_host: int = 1, delay: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_host = max(1, per_host)
        self.delay = max(0.0, delay)
        self.clock = clock
        self._slots: dict[str, _HostSlot] = {}
        self._cond = threading.Condition()
        self._closed = False

    def configure(self, per_host: int, delay: float) -> None:
        """New limits (after a config reload); requests in flight keep their slots."""
        with self._cond:
            self.per_host = max(1, per_host)
            self.delay = max(0.0, delay)
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiting request with FetchCancelled (the service is stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        host = host.lower()
        with self._cond:
            state = self._slots.setdefault(host, _HostSlot())
            while True:
                if self._closed:
                    raise FetchCancelled(host)
                now = self.clock()
                if state.active < self.per_host and now >= state.ready_at:
                    break
                wait = state.ready_at - now if state.active < self.per_host else None
                self._cond.wait(timeout=wait if wait is None else max(wait, 0.001))
            state.active += 1
            state.ready_at = now + self.delay
        try:
            yield
        finally:
            with self._cond:
                state.active -= 1
                state.ready_at = max(state.ready_at, self.clock() + self.delay)
                self._cond.notify_all()


@dataclass
class RobotsCache:
    """robots.txt per host (scheme and authority), kept for ``ttl`` seconds (RFC 9309 §2.4)."""

    ttl: float = 3600.0
    entries: dict[str, tuple[float, Protego | None]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _plain_environment() -> bool:
    """No proxy settings and no netrc file: what requests' trust_env would find is nothing
    but a CA bundle."""
    if urllib.request.getproxies():
        return False
    if os.environ.get("NETRC"):
        return False
    home = Path(os.path.expanduser("~"))
    return not any((home / name).exists() for name in (".netrc", "_netrc"))


class _PooledResponse:
    """The part of requests.Response that Fetcher reads, over a urllib3 response."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in _REDIRECTS

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body, decoded (gzip, deflate), with errors as Response.iter_content gives."""
        try:
            yield from self.raw.stream(chunk_size, decode_content=True)
        except urllib3.exceptions.ProtocolError as e:
            raise requests.exceptions.ChunkedEncodingError(e) from e
        except urllib3.exceptions.DecodeError as e:
            raise requests.exceptions.ContentDecodingError(e) from e
        except urllib3.exceptions.ReadTimeoutError as e:
            raise requests.exceptions.ConnectionError(e) from e
        except urllib3.exceptions.SSLError as e:
            raise requests.exceptions.SSLError(e) from e

    def close(self) -> None:
        self.raw.close()
        self.raw.release_conn()


_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_PRIVATE = ("refusing to fetch a private or loopback address; set allow_private: true on the "
            "source if this is intended")


def _too_slow(timeout: float) -> str:
    return f"response too slow: timed out after {timeout:g}s (total time limit)"


def _as_requests_error(error: Exception, request: requests.PreparedRequest
                       ) -> requests.exceptions.RequestException:
    """The exception HTTPAdapter.send raises for ``error`` of urllib3 (requests 2.3x)."""
    e3 = urllib3.exceptions
    rx = requests.exceptions
    if isinstance(error, e3.MaxRetryError):
        reason = error.reason
        if isinstance(reason, e3.ConnectTimeoutError) and not isinstance(
                reason, e3.NewConnectionError):
            return rx.ConnectTimeout(error, request=request)
        pairs: tuple[tuple[type[Exception], type[rx.RequestException]], ...] = (
            (e3.ResponseError, rx.RetryError), (e3.ProxyError, rx.ProxyError),
            (e3.SSLError, rx.SSLError))
        cause: object = reason
    else:
        pairs = ((e3.ProxyError, rx.ProxyError), (e3.SSLError, rx.SSLError),
                 (e3.ReadTimeoutError, rx.ReadTimeout), (e3.InvalidHeader, rx.InvalidHeader),
                 (e3.LocationValueError, rx.InvalidURL))
        cause = error
    # In HTTPAdapter.send's order; anything else (ProtocolError, ClosedPoolError, OSError, a
    # connection refused) is a ConnectionError.
    for caught, raised in pairs:
        if isinstance(cause, caught):
            return raised(error, request=request)
    return rx.ConnectionError(error, request=request)


def is_local(location: str) -> bool:
    """True for file:// URLs and plain paths."""
    scheme = urlsplit(location).scheme
    return scheme == "file" or scheme == "" or len(scheme) == 1


@contextmanager
def _in_turn(first: contextlib.AbstractContextManager[Any],
             second: contextlib.AbstractContextManager[Any]) -> Iterator[None]:
    """Both, the first first: a request waiting for a slow host holds no shared slot."""
    with first, second:
        yield


class _Watch:
    """One request (one redirect hop) under way: its deadline and its guard settings.

    Set in a thread-local while the hop runs, so that the connections urllib3 opens for it
    (see :class:`_GuardedHTTPConnection`) can check the address they connect to and put
    themselves under the deadline.
    """

    __slots__ = ("allow_private", "connections", "deadline", "direct", "expired", "refused")

    def __init__(self, deadline: float, allow_private: bool, direct: bool) -> None:
        self.deadline = deadline
        self.allow_private = allow_private
        self.direct = direct  # no proxy: the connection goes to the URL's host itself
        self.expired = False  # set by the watchdog when it cut the request off
        self.refused = False  # the connection found a private address
        self.connections: list[_GuardedHTTPConnection] = []


_current = threading.local()


def _shut(conn: _GuardedHTTPConnection) -> None:
    """Make the read that blocks on ``conn`` return at once (with an end of stream)."""
    sock = conn.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, also for an SSLSocket, whose override drops its SSL
        # object under the thread that is still reading from it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that cuts off requests at their deadline.

    Socket timeouts bound each read, not a response that trickles in (a header line or a byte
    every half second); the watchdog shuts the socket of a request past its deadline, so that
    no worker is held longer than its source's ``timeout``.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[_Watch] = set()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork either
            os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        # A child process has no watchdog thread (nor the parent's requests).
        self._cond = threading.Condition()
        self._watches = set()
        self._wake_at = math.inf
        self._thread = None

    def start(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="feeds-fetch-watchdog",
                                                daemon=True)
                self._thread.start()
            elif watch.deadline < self._wake_at:
                self._cond.notify()

    def stop(self, watch: _Watch) -> None:
        with self._cond:
            self._watches.discard(watch)
            for conn in watch.connections:
                if conn.feeds_watch is watch:
                    conn.feeds_watch = None

    def own(self, conn: _GuardedHTTPConnection) -> None:
        """Put ``conn`` under the deadline of the current thread's request, if any."""
        watch: _Watch | None = getattr(_current, "watch", None)
        if watch is None or conn.feeds_watch is watch:
            return
        with self._cond:
            # A kept-alive connection changes hands: the request it served before (maybe in
            # another thread) must no longer shut it.
            conn.feeds_watch = watch
            watch.connections.append(conn)
            if watch.expired:
                _shut(conn)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for watch in [w for w in self._watches if w.deadline <= now]:
                    self._watches.discard(watch)
                    watch.expired = True
                    for conn in watch.connections:
                        if conn.feeds_watch is watch:
                            _shut(conn)
                self._wake_at = min((w.deadline for w in self._watches), default=math.inf)
                self._cond.wait(None if self._wake_at == math.inf else self._wake_at - now)


_WATCHDOG = _Watchdog()


def _guarded_socket(conn: _GuardedHTTPConnection,
                    connect: Callable[[], socket.socket]) -> socket.socket:
    """``connect()``, to an address of the host that the guard has checked.

    The check before a request resolves the name on its own; a name that resolves to a public
    address then and to a private one a moment later (DNS rebinding) would slip through. Here
    the name is resolved once, every address checked, and the connection made to a checked
    one; TLS still names the host (SNI, certificate), as ``conn.host`` is unchanged.
    """
    _WATCHDOG.own(conn)
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is None or watch.allow_private or not watch.direct:
        return connect()
    host = conn._dns_host
    try:
        infos = socket.getaddrinfo(host, conn.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return connect()  # fails the same way, with urllib3's own error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if any(is_private_host(address) for address in addresses):
        watch.refused = True
        raise urllib3.exceptions.NewConnectionError(
            conn, f"{host} resolves to a private or loopback address")
    error: Exception | None = None
    for address in addresses:
        conn._dns_host = address
        try:
            return connect()
        except (urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError) as e:
            error = e
        finally:
            conn._dns_host = host
        if time.monotonic() >= watch.deadline:
            break
    assert error is not None
    raise error


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that connects only to checked addresses and obeys the watchdog."""

    feeds_watch: _Watch | None = None

    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self, super()._new_conn)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _WATCHDOG.own(self)
        super().request(*args, **kwargs)


class _GuardedHTTPSConnection(_GuardedHTTPConnection, urllib3.connection.HTTPSConnection):
    """:class:`_GuardedHTTPConnection` over TLS (its methods, then urllib3's TLS ones)."""


class _GuardedHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection



class Fetcher:
    """A requests Session with the limits every poll must respect."""

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        user_agent: str = USER_AGENT,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = 5,
        session: requests.Session | None = None,
        limiter: HostLimiter | None = None,
    ) -> None:
        self.base_dir = base_dir or Path(".")
        self.user_agent = user_agent
        # One limiter for every request of this process; without one, requests are not limited.
        self.limiter = limiter
        self.robots: RobotsCache = RobotsCache()
        self.check_robots = False
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        if session is None:
            session = requests.Session()
            # Keep-alive connections for as many workers as a config may run (up to 64), so
            # that concurrent polls of one host reuse connections instead of dropping them
            # (requests keeps 10 per host by default and discards the rest after each use).
            adapter = requests.adapters.HTTPAdapter(pool_connections=POOL_SIZE,
                                                    pool_maxsize=POOL_SIZE)
            # Its connections check the address they connect to and obey the watchdog (the
            # pools of a proxy, made elsewhere, do neither: the proxy is the user's choice).
            adapter.poolmanager.pool_classes_by_scheme = {
                "http": _GuardedHTTPConnectionPool, "https": _GuardedHTTPSConnectionPool}
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if _plain_environment():
                # requests reads the proxy variables (all of os.environ, twice) on every
                # request when trust_env is on; with no proxy and no netrc to honour, the
                # one setting left to take from the environment is the CA bundle.
                session.trust_env = False
                session.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                                  or os.environ.get("CURL_CA_BUNDLE") or True)
        self.session = session
        self._total: threading.Semaphore | None = None  # see limited()
        # URL -> (PreparedRequest.prepare_url(URL), the host urllib3 connects to for it),
        # shared with obeying_robots() views.
        self._prepared_urls: dict[str, tuple[str, str]] = {}
        # (scheme, host, TLS settings) -> the adapter's connection pool key for them.
        self._pool_keys: dict[tuple[str, str, str, str], Any] = {}
        self.session.headers["User-Agent"] = user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def close(self) -> None:
        self.session.close()

    def obeying_robots(self) -> Fetcher:
        """The same fetcher (session, limiter, robots cache) refusing what robots.txt disallows.

        Page sources poll through this view unless they set ``robots: false``.
        """
        view = copy.copy(self)
        view.check_robots = True
        return view

    def limited(self, slots: threading.Semaphore) -> Fetcher:
        """The same fetcher with at most ``slots`` requests in flight over every host.

        A cycle's ``workers`` bound its concurrent requests this way, also when it has
        more polling threads than that (see :func:`feeds.poll.run_cycle`).
        """
        view = copy.copy(self)
        view._total = slots
        return view

    def _slot(self, url: str) -> contextlib.AbstractContextManager[Any]:
        host: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.limiter is not None:
            host = self.limiter.slot(urlsplit(url).hostname or "")
        if self._total is None:
            return host
        return _in_turn(host, self._total)

    def robots_allow(self, url: str, *, source_id: str, allow_private: bool = True,
                     timeout: float | None = None) -> bool:
        """Whether robots.txt of ``url``'s host lets our user agent fetch it (cached per host).

        robots.txt is fetched as any other URL (the guard on every hop, the source's
        ``timeout``), and only its first :data:`ROBOTS_MAX_BYTES` are read.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.monotonic()
        with self.robots.lock:
            cached = self.robots.entries.get(origin)
        if cached is None or cached[0] < now:
            rules = self._fetch_robots(origin, source_id, allow_private, timeout or self.timeout)
            with self.robots.lock:
                self.robots.entries[origin] = (now + self.robots.ttl, rules)
        else:
            rules = cached[1]
        return rules is None or bool(rules.can_fetch(url, self.user_agent))

    def _fetch_robots(self, origin: str, source_id: str, allow_private: bool,
                      timeout: float) -> Protego | None:
        """robots.txt parsed; None means everything is allowed."""
        # Imported here: only page sources read robots.txt, and a cycle of feeds needs none.
        from protego import Protego

        try:
            response = self._get_http(
                origin + "/robots.txt", source_id=source_id, headers={}, proxies=None,
                allow_private=allow_private, timeout=timeout, max_bytes=ROBOTS_MAX_BYTES,
                truncate=True, robots=False)
        except FetchError as e:
            if e.status is not None and e.status >= 500:
                # RFC 9309 §2.3.1.4: a server error means "assume complete disallow" for now.
                return Protego.parse("User-agent: *\nDisallow: /\n")
            # RFC 9309 §2.3.1.3: an unavailable robots.txt allows everything. Unreachable
            # (or refused by the guard) is taken the same way: the page request itself will
            # fail and say why if the host is down.
            log.debug("%s: robots.txt unavailable (%s); assuming allowed", origin, e)
            return None
        # RFC 9309 §2.2: robots.txt is UTF-8.
        return Protego.parse(response.body.decode("utf-8", errors="replace"))

    def get(
        self,
        location: str,
        *,
        source_id: str,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        allow_private: bool = True,
        timeout: float | None = None,
        max_bytes: int | None = None,
        accept: str | None = None,
    ) -> Response:
        """Fetch ``location`` (URL or local path); raise FetchError naming the source.

        ``timeout`` bounds the whole request, redirects included (connecting, headers and
        body); time spent waiting for the host's turn or on robots.txt does not count.
        """
        if is_local(location):
            return self._get_file(location, source_id=source_id, etag=etag)
        request_headers = dict(headers or {})
        if accept:
            request_headers.setdefault("Accept", accept)
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        proxies = {"http": proxy, "https": proxy} if proxy else None
        return self._get_http(
            location, source_id=source_id, headers=request_headers, proxies=proxies,
            allow_private=allow_private, timeout=timeout or self.timeout,
            max_bytes=max_bytes or self.max_bytes, truncate=False, robots=self.check_robots)

    def _get_http(
        self,
        location: str,
        *,
        source_id: str,
        headers: Mapping[str, str],
        proxies: dict[str, str] | None,
        allow_private: bool,
        timeout: float,
        max_bytes: int,
        truncate: bool,
        robots: bool,
    ) -> Response:
        """:meth:`get` over http(s); ``truncate`` keeps the first ``max_bytes`` of a longer
        body instead of failing."""
        remaining = timeout
        url = location
        moved_to: str | None = None
        permanent = True
        for _hop in range(self.max_redirects + 1):
            prepared = self._target(url, source_id, allow_private)
            if robots and not self.robots_allow(
                url, source_id=source_id, allow_private=allow_private, timeout=timeout
            ):
                raise FetchError(
                    source_id, url,
                    "robots.txt disallows this URL for feeds; set robots: false on the source "
                    "only if the site owner agrees",
                )
            with self._slot(url):
                started = time.monotonic()
                watch = _Watch(started + remaining, allow_private, proxies is None)
                _WATCHDOG.start(watch)
                _current.watch = watch
                try:
                    response = self._send(prepared, url, source_id, headers, proxies,
                                          watch.deadline, timeout)
                    if response.is_redirect and not watch.expired:
                        target = urljoin(url, response.headers.get("Location", ""))
                        response.close()
                        permanent = permanent and response.status_code in (301, 308)
                        url = target
                        moved_to = target if permanent else None
                        remaining -= time.monotonic() - started
                        if remaining <= 0:
                            raise FetchError(source_id, url, _too_slow(timeout))
                        continue
                    result = self._finish(response, url, source_id, moved_to, watch.deadline,
                                          max_bytes, timeout, truncate)
                    if watch.expired:
                        # Cut off by the watchdog, the response can look complete: headers
                        # trickling in end at the end of the stream, and so does a body
                        # without a Content-Length.
                        raise FetchError(source_id, url, _too_slow(timeout))
                    return result
                except FetchError as e:
                    if watch.refused:
                        raise FetchError(source_id, url, _PRIVATE) from e
                    if watch.expired or time.monotonic() >= watch.deadline:
                        raise FetchError(source_id, url, _too_slow(timeout)) from e
                    raise
                except (urllib3.exceptions.HTTPError, OSError) as e:
                    # From reading the empty body of a 304 (the watchdog may cut that too).
                    if watch.expired or time.monotonic() >= watch.deadline:
                        raise FetchError(source_id, url, _too_slow(timeout)) from e
                    raise FetchError(source_id, url, f"reading the response failed: {e}") from e
                finally:
                    _current.watch = None
                    _WATCHDOG.stop(watch)
        raise FetchError(
            source_id, location, f"more than {self.max_redirects} redirects; check the URL"
        )

    def _target(self, url: str, source_id: str, allow_private: bool) -> str:
        """``url`` as it is sent (IDNA, quoting), once the guard has passed the host urllib3
        will connect to; FetchError otherwise."""
        cached = self._prepared_urls.get(url)
        if cached is None:
            refusal = fetch_refusal(url)
            if refusal:
                raise FetchError(source_id, url, refusal)
            request = requests.PreparedRequest()
            try:
                request.prepare_url(url, None)  # the same URLs come every cycle
            except requests.exceptions.RequestException as e:
                raise FetchError(source_id, url, f"invalid URL: {e}") from e
            prepared = request.url or url
            # The host the connection goes to is the one urllib3 reads from the prepared URL;
            # a URL that urlsplit reads another way is refused rather than guessed at.
            host = (urllib3.util.parse_url(prepared).host or "").strip("[]").lower()
            if not host or host != (urlsplit(prepared).hostname or ""):
                raise FetchError(source_id, url, "refusing to fetch a URL whose host is ambiguous")
            if len(self._prepared_urls) >= PREPARED_URLS:
                self._prepared_urls.clear()
            cached = self._prepared_urls[url] = (prepared, host)
        if not allow_private and is_private_host(cached[1]):
            raise FetchError(source_id, url, _PRIVATE)
        return cached[0]

    def _send(
        self,
        prepared: str,
        url: str,
        source_id: str,
        headers: Mapping[str, str],
        proxies: dict[str, str] | None,
        deadline: float,
        timeout: float,
    ) -> requests.Response | _PooledResponse:
        """The response to GET ``prepared`` (``url`` as sent), its body not read yet."""
        # Every read waits at most until the deadline; the watchdog cuts a response that
        # keeps arriving, a little at a time, when it passes.
        left = max(deadline - time.monotonic(), 0.001)
        limits = (min(left, 10.0), left)
        try:
            if self._direct_ok():
                return self._send_direct(prepared, headers, proxies, limits)
            return self.session.get(
                prepared,
                headers=dict(headers),
                proxies=proxies,
                timeout=limits,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as e:
            raise FetchError(source_id, url, f"TLS error: {e}") from e
        except requests.exceptions.Timeout as e:
            raise FetchError(source_id, url, f"timed out after {timeout:g}s") from e
        except requests.exceptions.ConnectionError as e:
            raise FetchError(
                source_id, url, "cannot connect; check the URL and whether the site is up"
            ) from e
        except requests.exceptions.RequestException as e:
            raise FetchError(source_id, url, f"request failed: {e}") from e

    def _direct_ok(self) -> bool:
        """Whether Session.request would add nothing but headers and cookies to the request.

        That holds for our own session in a plain environment (no proxy variables, no netrc)
        with no session-wide auth, proxies, params or hooks; then :meth:`_send_direct` can
        skip what Session.request spends on a request (~0.2 ms of CPU: merging settings and
        the environment, copying the cookie jar, hooks) and hand a PreparedRequest straight
        to the mounted HTTPAdapter, which keeps TLS, proxies and the error mapping.
        """
        session = self.session
        return (
            type(session) is requests.Session
            and not session.trust_env
            and session.auth is None
            and not session.proxies
            and not session.params
            and not any(session.hooks.values())
        )

    def _send_direct(
        self,
        url: str,
        headers: Mapping[str, str],
        proxies: dict[str, str] | None,
        timeout: tuple[float, float],
    ) -> requests.Response | _PooledResponse:
        """What ``session.get(url, stream=True, allow_redirects=False, ...)`` sends and returns,
        built without Session.request (see :meth:`_direct_ok`); ``url`` is prepared already
        (:meth:`_target`)."""
        session = self.session
        request = requests.PreparedRequest()
        request.method = "GET"
        prepared = request.url = url
        # As Session.request: a header set to None on the session is not sent.
        merged = {k: v for k, v in {**session.headers, **headers}.items() if v is not None}
        verify = True if session.verify is None else session.verify
        adapter = session.get_adapter(prepared)
        if not proxies and not session.cookies and type(adapter) is requests.adapters.HTTPAdapter:
            return self._send_pooled(adapter, request, merged, verify, timeout)
        request.prepare_headers(merged)
        request.body = None
        request.hooks = {"response": []}
        if session.cookies:
            request.prepare_cookies(session.cookies)
        response = adapter.send(request, stream=True, timeout=timeout, verify=verify,
                                cert=session.cert, proxies=proxies or {})
        # As Session.send: cookies the site sets are kept for the next request to it.
        if "set-cookie" in response.headers:
            extract_cookies_to_jar(  # type: ignore[no-untyped-call]
                session.cookies, request, response.raw)
        return response

    def _send_pooled(self, adapter: requests.adapters.HTTPAdapter,
                     request: requests.PreparedRequest, headers: dict[str, str | bytes],
                     verify: bool | str, timeout: tuple[float, float]) -> _PooledResponse:
        """:meth:`HTTPAdapter.send` without its Response: the request goes to the adapter's
        own connection pool for the host (its TLS settings, its retries), and the urllib3
        response is read as it is; errors become the requests exceptions HTTPAdapter.send
        raises. What is skipped (a Response, its cookie jar and header dict, the proxy
        lookups) cost more than the request itself on a fast server (issue 7). Not used with
        a proxy or cookies to send: those take HTTPAdapter.send."""
        session, url = self.session, request.url or ""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, str(verify), str(session.cert))
        attributes = self._pool_keys.get(key)
        if attributes is None:
            attributes = self._pool_keys[key] = adapter.build_connection_pool_key_attributes(
                request, verify, session.cert)
        host, pool_kwargs = attributes
        try:
            pool = adapter.poolmanager.connection_from_host(**host, pool_kwargs=pool_kwargs)
            adapter.cert_verify(pool, url, verify, session.cert)  # type: ignore[no-untyped-call]
            raw = pool.urlopen(
                method="GET", url=request.path_url, body=None, headers=headers, redirect=False,
                assert_same_host=False, preload_content=False, decode_content=False,
                retries=adapter.max_retries, chunked=False,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]))
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise _as_requests_error(e, request) from e
        if "set-cookie" in raw.headers:
            # As Session.send: cookies the site sets are kept for the next request to it.
            request.prepare_headers(headers)  # the cookie policy reads the request's headers
            extract_cookies_to_jar(session.cookies, request, raw)  # type: ignore[no-untyped-call]
        return _PooledResponse(raw)

    def _finish(
        self,
        response: requests.Response | _PooledResponse,
        url: str,
        source_id: str,
        moved_to: str | None,
        deadline: float,
        max_bytes: int,
        timeout: float,
        truncate: bool,
    ) -> Response:
        status = response.status_code
        head = response.headers
        if status == 304:
            # Read the (empty) body first: closing an unread response drops the keep-alive
            # connection, and a warm cycle of 304s would open one connection per source.
            # raw.read() rather than response.content: no chunk generator for an empty body.
            response.raw.read()
            response.close()
            return Response(
                url, 304, b"", head.get("Content-Type"), head.get("ETag"),
                head.get("Last-Modified"), moved_to, parse_max_age(head.get("Cache-Control")),
            )
        if status >= 400:
            response.close()
            retry_after = parse_retry_after(head.get("Retry-After"))
            if status == 410:
                raise GoneError(source_id, url, "HTTP 410 Gone: the site removed this resource",
                                status=status)
            raise FetchError(source_id, url, f"HTTP {status} {response.reason or ''}".strip(),
                             status=status, retry_after=retry_after)
        declared = head.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes and not truncate:
            response.close()
            raise FetchError(
                source_id, url, f"response of {int(declared):,} bytes exceeds the {max_bytes:,}"
                "-byte cap (max_bytes)", status=status,
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes and truncate:
                    chunks.append(chunk[:len(chunk) - (size - max_bytes)])
                    break
                if size > max_bytes:
                    raise FetchError(
                        source_id, url, f"response exceeds the {max_bytes:,}-byte cap (max_bytes)",
                        status=status,
                    )
                if time.monotonic() > deadline:
                    raise FetchError(source_id, url, _too_slow(timeout), status=status)
                chunks.append(chunk)
        except requests.exceptions.RequestException as e:
            raise FetchError(source_id, url, f"reading the response failed: {e}") from e
        finally:
            response.close()
        return Response(
            url, status, b"".join(chunks), head.get("Content-Type"), head.get("ETag"),
            head.get("Last-Modified"), moved_to, parse_max_age(head.get("Cache-Control")),
        )

    def local_path(self, location: str) -> Path:
        parts = urlsplit(location)
        if parts.scheme == "file":
            return Path(unquote(parts.path))
        path = Path(location).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def _get_file(self, location: str, *, source_id: str, etag: str | None) -> Response:
        path = self.local_path(location)
        try:
            stat = path.stat()
            stamp = email.utils.formatdate(stat.st_mtime, usegmt=True)
            # The validator is the modification time in nanoseconds and the size: a file
            # rewritten within the second of its last poll is read again (an HTTP date has
            # whole seconds).
            tag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            if etag == tag:
                return Response(location, 304, b"", None, tag, stamp)
            if stat.st_size > self.max_bytes:
                raise FetchError(source_id, location, "file exceeds the size cap (max_bytes)")
            body = path.read_bytes()
        except OSError as e:
            raise FetchError(source_id, location, f"cannot read file {path}: {e.strerror}") from e
        return Response(path.resolve().as_uri(), 200, body, None, tag, stamp)
