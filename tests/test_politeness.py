"""Politeness: per-host limits and delays over every request, robots.txt, the User-Agent."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LocalServer, RecordedRequest

from feeds.config import parse_config
from feeds.errors import FetchError
from feeds.fetch import FetchCancelled, Fetcher, HostLimiter
from feeds.poll import poll_source, run_cycle
from feeds.store import Store

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def rss(title: str, count: int = 2) -> str:
    items = "".join(
        f"<item><title>{title} {i}</title><link>http://example.org/{title}/{i}</link>"
        f"<guid>{title}-{i}</guid></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>' \
           f"<link>http://example.org/</link>{items}</channel></rss>"


def host_of(request: RecordedRequest) -> str:
    return request.headers.get("Host", "").split(":")[0]


def max_overlap(requests: list[RecordedRequest]) -> int:
    """The most requests in flight at one moment, from their start and finish times."""
    events = sorted([(r.started, 1) for r in requests] + [(r.finished, -1) for r in requests],
                    key=lambda e: (e[0], e[1]))
    active = peak = 0
    for _, step in events:
        active += step
        peak = max(peak, active)
    return peak


def config_for(tmp_path: Path, urls: list[str], per_host: int, delay: str) -> object:
    sources = "\n".join(f"  - id: s{i}\n    url: {url}" for i, url in enumerate(urls))
    text = (
        "defaults: {interval: 1h, jitter: 0, allow_private: true, "
        f"per_host: {per_host}, host_delay: {delay}}}\n"
        f"store: {{path: {tmp_path / 'feeds.db'}}}\noutput: {{dir: {tmp_path / 'out'}}}\n"
        f"sources:\n{sources}\n"
    )
    return parse_config(text, base_dir=tmp_path)


def test_twenty_sources_on_one_host_never_exceed_the_limit(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """20 sources on 127.0.0.1 and 20 on localhost: one request at a time per host, spaced by
    the delay, while the two hosts are polled in parallel."""
    urls = []
    for i in range(20):
        http_server.add(f"/a{i}.rss", rss(f"a{i}"), delay=0.02)
        http_server.add(f"/b{i}.rss", rss(f"b{i}"), delay=0.02)
        urls.append(http_server.url(f"/a{i}.rss"))
        urls.append(f"http://localhost:{http_server.port}/b{i}.rss")
    config = config_for(tmp_path, urls, per_host=1, delay="30ms")
    limiter = HostLimiter(1, 0.03)
    fetcher = Fetcher(limiter=limiter)
    store = Store.open(tmp_path / "feeds.db")
    results = run_cycle(config, store, fetcher, NOW, workers=8)  # type: ignore[arg-type]
    assert [r.status for r in results] == ["ok"] * 40
    by_host: dict[str, list[RecordedRequest]] = {}
    for request in http_server.requests:
        by_host.setdefault(host_of(request), []).append(request)
    assert set(by_host) == {"127.0.0.1", "localhost"}
    for host, requests in by_host.items():
        assert len(requests) == 20
        assert max_overlap(requests) == 1, host
        ordered = sorted(requests, key=lambda r: r.started)
        gaps = [b.started - a.finished for a, b in itertools.pairwise(ordered)]
        assert min(gaps) >= 0.025, (host, min(gaps))
    # The two hosts did not wait for each other.
    assert max_overlap(http_server.requests) == 2


def test_per_host_limit_of_two_is_used_and_never_exceeded(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """With per_host: 2, two requests to one host run at once, never three."""
    urls = []
    for i in range(12):
        http_server.add(f"/f{i}.rss", rss(f"f{i}"), delay=0.05)
        urls.append(http_server.url(f"/f{i}.rss"))
    config = config_for(tmp_path, urls, per_host=2, delay="1ms")
    fetcher = Fetcher(limiter=HostLimiter(2, 0.001))
    store = Store.open(tmp_path / "feeds.db")
    run_cycle(config, store, fetcher, NOW, workers=6)  # type: ignore[arg-type]
    assert len(http_server.requests) == 12
    assert max_overlap(http_server.requests) == 2


def test_limiter_close_abandons_waiting_requests() -> None:
    """A request waiting for its host raises FetchCancelled when the service stops."""
    limiter = HostLimiter(1, 0.0)
    errors: list[BaseException] = []
    entered = threading.Event()

    def second() -> None:
        try:
            with limiter.slot("example.org"):
                pass
        except FetchCancelled as e:
            errors.append(e)

    with limiter.slot("example.org"):
        thread = threading.Thread(target=second)
        thread.start()
        entered.wait(0.1)
        limiter.close()
        thread.join(2)
    assert not thread.is_alive()
    assert len(errors) == 1


def test_limiter_delay_uses_the_clock_seam() -> None:
    """The delay is measured from the previous request's end on the limiter's clock."""
    clock = [100.0]
    limiter = HostLimiter(1, 5.0, clock=lambda: clock[0])
    with limiter.slot("h"):
        pass
    started = threading.Event()

    def later() -> None:
        with limiter.slot("h"):
            started.set()

    thread = threading.Thread(target=later)
    thread.start()
    assert not started.wait(0.1)  # the clock has not moved: still inside the delay
    clock[0] = 105.5
    with limiter._cond:
        limiter._cond.notify_all()
    assert started.wait(2)
    thread.join(2)


ROBOTS = "User-agent: *\nDisallow: /private/\n"


def test_robots_txt_is_obeyed_and_cached_per_host(http_server: LocalServer) -> None:
    """A fetcher obeying robots.txt refuses disallowed URLs, fetches robots.txt once per host,
    and the plain fetcher (robots: false) is not affected."""
    http_server.add("/robots.txt", ROBOTS, conditional=False)
    http_server.add("/private/list.html", "<html>secret</html>")
    http_server.add("/public/list.html", "<html>open</html>")
    polite = Fetcher().obeying_robots()
    with pytest.raises(FetchError, match=r"robots\.txt disallows"):
        polite.get(http_server.url("/private/list.html"), source_id="s")
    assert polite.get(http_server.url("/public/list.html"), source_id="s").status == 200
    assert polite.get(http_server.url("/public/list.html"), source_id="s").status == 200
    assert len(http_server.requests_for("/robots.txt")) == 1
    assert http_server.requests_for("/private/list.html") == []
    plain = Fetcher()
    assert plain.get(http_server.url("/private/list.html"), source_id="s").status == 200


def test_missing_robots_txt_allows_everything(http_server: LocalServer) -> None:
    """A 404 for robots.txt means everything may be fetched (RFC 9309 §2.3.1.3)."""
    http_server.add("/page.html", "<html>x</html>")
    polite = Fetcher().obeying_robots()
    assert polite.get(http_server.url("/page.html"), source_id="s").status == 200
    assert len(http_server.requests_for("/robots.txt")) == 1


def test_page_source_respects_robots_unless_overridden(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """A page source disallowed by robots.txt fails with a clear message and is not fetched;
    with robots: false the page is requested."""
    http_server.add("/robots.txt", ROBOTS, conditional=False)
    http_server.add("/private/news.html", "<html><body><a href='/a'>x</a></body></html>")
    url = http_server.url("/private/news.html")
    text = (
        f"defaults: {{allow_private: true, jitter: 0}}\nstore: {{path: {tmp_path / 'f.db'}}}\n"
        f"sources:\n  - id: polite\n    page: {url}\n"
        f"  - id: rude\n    page: {url}\n    robots: false\n"
    )
    config = parse_config(text, base_dir=tmp_path)
    store = Store.open(tmp_path / "f.db")
    fetcher = Fetcher()
    result = poll_source(config.source("polite"), config, fetcher, store, NOW)
    assert result.failed and "robots.txt" in (result.error or "")
    assert http_server.requests_for("/private/news.html") == []
    poll_source(config.source("rude"), config, fetcher, store, NOW)
    assert len(http_server.requests_for("/private/news.html")) >= 1


def test_every_request_names_the_project(http_server: LocalServer) -> None:
    """The User-Agent of every request names feeds and its URL."""
    http_server.add("/x.rss", rss("x"))
    Fetcher().obeying_robots().get(http_server.url("/x.rss"), source_id="s")
    agents = {r.headers.get("User-Agent", "") for r in http_server.requests}
    assert agents and all(a.startswith("feeds/") and "+http" in a for a in agents)


def test_limiter_spaces_requests_in_real_time() -> None:
    """Three back-to-back slots on one host take at least two delays."""
    limiter = HostLimiter(1, 0.05)
    started = time.monotonic()
    for _ in range(3):
        with limiter.slot("example.org"):
            pass
    assert time.monotonic() - started >= 0.1
