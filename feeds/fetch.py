"""HTTP and local-file fetching: timeouts, size caps, redirects, conditional GET.

Usage::

    fetcher = Fetcher(base_dir=Path("config"))
    response = fetcher.get(url, source_id="python-insider", etag=state.etag)
    if response.not_modified: ...

Redirects are followed by hand so that every hop is checked against the private-address guard
and a permanent redirect (301/308) can be reported to the user.

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
import os
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
from requests.cookies import extract_cookies_to_jar

from feeds import USER_AGENT
from feeds.errors import FetchError, GoneError
from feeds.urls import is_private_host

if TYPE_CHECKING:
    from protego import Protego

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
CHUNK = 64 * 1024
POOL_SIZE = 64
PREPARED_URLS = 20_000  # URLs whose prepared form is kept (a cycle's feeds, and then some)


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
        # URL -> PreparedRequest.prepare_url(URL), shared with obeying_robots() views.
        self._prepared_urls: dict[str, str] = {}
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

    def robots_allow(self, url: str, *, source_id: str, allow_private: bool = True) -> bool:
        """Whether robots.txt of ``url``'s host lets our user agent fetch it (cached per host)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = time.monotonic()
        with self.robots.lock:
            cached = self.robots.entries.get(origin)
        if cached is None or cached[0] < now:
            rules = self._fetch_robots(origin, source_id, allow_private)
            with self.robots.lock:
                self.robots.entries[origin] = (now + self.robots.ttl, rules)
        else:
            rules = cached[1]
        return rules is None or bool(rules.can_fetch(url, self.user_agent))

    def _fetch_robots(self, origin: str, source_id: str, allow_private: bool) -> Protego | None:
        """robots.txt parsed; None means everything is allowed."""
        # Imported here: only page sources read robots.txt, and a cycle of feeds needs none.
        from protego import Protego

        url = origin + "/robots.txt"
        self._check_address(url, source_id, allow_private)
        try:
            with self._slot(url):
                response = self.session.get(url, timeout=(10.0, 20.0), allow_redirects=True)
                status, text = response.status_code, response.text[:500_000]
                response.close()
        except requests.exceptions.RequestException as e:
            # The page request itself will fail and report why; do not block it here.
            log.debug("%s: robots.txt unreachable (%s); assuming allowed", origin, e)
            return None
        if status >= 500:
            # RFC 9309 §2.3.1.4: a server error means "assume complete disallow" for now.
            return Protego.parse("User-agent: *\nDisallow: /\n")
        if status >= 400:
            return None  # RFC 9309 §2.3.1.3: unavailable robots.txt allows everything
        return Protego.parse(text)

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
        """Fetch ``location`` (URL or local path); raise FetchError naming the source."""
        if is_local(location):
            return self._get_file(location, source_id=source_id, etag=etag)
        timeout = timeout or self.timeout
        max_bytes = max_bytes or self.max_bytes
        request_headers = dict(headers or {})
        if accept:
            request_headers.setdefault("Accept", accept)
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        proxies = {"http": proxy, "https": proxy} if proxy else None
        deadline = time.monotonic() + timeout
        url = location
        moved_to: str | None = None
        permanent = True
        for _hop in range(self.max_redirects + 1):
            self._check_address(url, source_id, allow_private)
            if self.check_robots and not self.robots_allow(
                url, source_id=source_id, allow_private=allow_private
            ):
                raise FetchError(
                    source_id, url,
                    "robots.txt disallows this URL for feeds; set robots: false on the source "
                    "only if the site owner agrees",
                )
            with self._slot(url):
                response = self._send(url, source_id, request_headers, proxies, timeout)
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    response.close()
                    permanent = permanent and response.status_code in (301, 308)
                    url = target
                    moved_to = target if permanent else None
                    continue
                return self._finish(response, url, source_id, moved_to, deadline, max_bytes)
        raise FetchError(
            source_id, location, f"more than {self.max_redirects} redirects; check the URL"
        )

    def _check_address(self, url: str, source_id: str, allow_private: bool) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(
                source_id, url, f"refusing to fetch a {parts.scheme or 'relative'} URL"
            )
        if not allow_private and is_private_host(parts.hostname or ""):
            raise FetchError(
                source_id,
                url,
                "refusing to fetch a private or loopback address; set allow_private: true "
                "on the source if this is intended",
            )

    def _send(
        self,
        url: str,
        source_id: str,
        headers: Mapping[str, str],
        proxies: dict[str, str] | None,
        timeout: float,
    ) -> requests.Response | _PooledResponse:
        try:
            if self._direct_ok():
                return self._send_direct(url, headers, proxies, (min(timeout, 10.0), timeout))
            return self.session.get(
                url,
                headers=dict(headers),
                proxies=proxies,
                timeout=(min(timeout, 10.0), timeout),
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
        built without Session.request (see :meth:`_direct_ok`)."""
        session = self.session
        request = requests.PreparedRequest()
        request.method = "GET"
        prepared = self._prepared_urls.get(url)
        if prepared is None:
            request.prepare_url(url, None)  # IDNA, quoting; the same URLs come every cycle
            if len(self._prepared_urls) >= PREPARED_URLS:
                self._prepared_urls.clear()
            prepared = self._prepared_urls[url] = request.url or url
        request.url = prepared
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
        if declared and declared.isdigit() and int(declared) > max_bytes:
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
                if size > max_bytes:
                    raise FetchError(
                        source_id, url, f"response exceeds the {max_bytes:,}-byte cap (max_bytes)",
                        status=status,
                    )
                if time.monotonic() > deadline:
                    raise FetchError(source_id, url, "response too slow: total time limit reached",
                                     status=status)
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
