"""The service: due times, backoff, Retry-After, 410, hints, restart, reload, signals, lock."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import LocalServer, RecordedRequest
from lxml import etree

from feeds.cli import cli
from feeds.config import load_config, parse_config
from feeds.errors import LockedError
from feeds.poll import effective_interval, next_due_after, poll_source, source_due_after
from feeds.scheduler import Service, health_event, initial_due, publish_at_start, service_lock
from feeds.store import SourceState, Store

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


def rss(title: str, count: int = 2, ttl: int | None = None) -> str:
    items = "".join(
        f"<item><title>{title} {i}</title><link>http://example.org/{title}/{i}</link>"
        f"<guid>{title}-{i}</guid></item>"
        for i in range(count)
    )
    extra = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.org/</link>{extra}{items}</channel></rss>")


def write_config(tmp_path: Path, sources: dict[str, str], interval: str = "1h",
                 extra: str = "") -> Path:
    lines = [
        f"defaults: {{interval: {interval}, jitter: 0, allow_private: true, host_delay: 1ms,"
        f" max_backoff: 1h{extra}}}",
        f"store: {{path: {tmp_path / 'feeds.db'}}}",
        f"output: {{dir: {tmp_path / 'out'}}}",
        "sources:",
    ]
    for sid, url in sources.items():
        lines += [f"  - id: {sid}", f"    url: {url}"]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Clock:
    """A controllable clock for the service's decisions."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


# -- pure decisions --------------------------------------------------------------------------


def test_backoff_doubles_from_the_interval_up_to_the_cap() -> None:
    """Consecutive failures wait 2x, 4x, 8x the interval, then the cap; success the interval."""
    interval, cap = timedelta(minutes=10), timedelta(hours=1)
    waits = [next_due_after(NOW, interval, f, cap) - NOW for f in range(6)]
    assert waits == [timedelta(minutes=m) for m in (10, 20, 40, 60, 60, 60)]


def test_backoff_never_polls_more_often_than_the_interval() -> None:
    """A cap shorter than the interval does not shorten the wait after a failure."""
    assert next_due_after(NOW, timedelta(hours=48), 3, timedelta(hours=24)) == NOW + timedelta(
        hours=48)


def test_retry_after_is_a_lower_bound() -> None:
    """A Retry-After later than the backoff wins; an earlier one does not shorten it."""
    later = NOW + timedelta(hours=5)
    assert next_due_after(NOW, timedelta(minutes=1), 1, timedelta(hours=1), later) == later
    early = NOW + timedelta(seconds=1)
    assert next_due_after(NOW, timedelta(minutes=1), 1, timedelta(hours=1), early) == (
        NOW + timedelta(minutes=2))


def test_hints_lengthen_never_shorten() -> None:
    """max-age or ttl longer than the interval lengthen it (up to the cap); shorter ones don't."""
    interval, cap = timedelta(minutes=30), timedelta(hours=24)
    assert effective_interval(interval, 60, cap) == interval
    assert effective_interval(interval, 7200, cap) == timedelta(hours=2)
    assert effective_interval(interval, 10**9, cap) == cap
    assert effective_interval(interval, None, cap) == interval


def test_jitter_adds_up_to_its_fraction() -> None:
    """Jitter only delays, by at most the given fraction of the wait."""
    due = next_due_after(NOW, timedelta(minutes=10), 0, timedelta(hours=1), jitter=0.1)
    assert due == NOW + timedelta(minutes=11)


def test_cron_source_runs_at_cron_times(tmp_path: Path) -> None:
    """A source with cron is due at the next matching time in its time zone."""
    config = parse_config(
        "defaults: {timezone: UTC}\nsources:\n  - id: c\n    url: http://example.org/f\n"
        "    cron: '0 6 * * *'\n", base_dir=tmp_path)
    due = source_due_after(NOW, config.source("c"), config)
    assert due == datetime(2024, 5, 2, 6, 0, tzinfo=UTC)


def test_initial_due_keeps_future_times_and_starts_new_sources_soon(tmp_path: Path) -> None:
    """At start-up a stored future due time is kept; new and overdue sources start now
    (plus jitter); gone and disabled sources are not scheduled."""
    config = parse_config(
        "sources:\n  - id: a\n    url: http://example.org/a\n"
        "  - id: b\n    url: http://example.org/b\n    enabled: false\n", base_dir=tmp_path)
    a = config.source("a")
    future = NOW + timedelta(minutes=7)
    assert initial_due(NOW, a, SourceState("a", next_due=future), config, 0.5) == future
    assert initial_due(NOW, a, None, config, 0.0) == NOW
    assert initial_due(NOW, a, None, config, 0.5) == NOW + timedelta(seconds=30)
    overdue = SourceState("a", next_due=NOW - timedelta(days=3))
    assert initial_due(NOW, a, overdue, config, 0.0) == NOW
    pending = SourceState("a", next_due=NOW, retry_after=NOW + timedelta(hours=2))
    assert initial_due(NOW, a, pending, config, 0.0) == NOW + timedelta(hours=2)
    assert initial_due(NOW, a, SourceState("a", gone=True), config, 0.0) is None
    assert initial_due(NOW, config.source("b"), None, config, 0.0) is None


# -- HTTP semantics through poll_source and the service --------------------------------------


def service_for(tmp_path: Path, sources: dict[str, str], clock: Clock, interval: str = "1m"
                ) -> Service:
    path = write_config(tmp_path, sources, interval)
    return Service(path, load_config(path), workers=2, clock=clock, publish_every=60)


def test_backoff_sequence_under_500s_then_recovery(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """Repeated 500s back off 2, 4, 8 minutes then the 1 h cap; a success returns to the
    interval; health.atom gets one 'failing' and one 'recovered' entry."""
    url = http_server.add("/f.rss", "oops", status=500)
    clock = Clock()
    service = service_for(tmp_path, {"f": url}, clock)
    waits = []
    for _ in range(6):
        service._poll("f")
        state = service.store.state("f")
        assert state.next_due is not None
        waits.append(state.next_due - clock.now)
        clock.now = state.next_due
    assert waits == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 60)]
    assert service.store.state("f").failures == 6
    http_server.add("/f.rss", rss("f"))
    service._poll("f")
    state = service.store.state("f")
    assert (state.failures, state.failing_since, state.last_error) == (0, None, None)
    assert state.next_due == clock.now + timedelta(minutes=1)
    assert [e.kind for e in service.store.health_events()] == ["recovered", "failing"]
    assert service.due_times()  # still scheduled: never abandoned
    service.publish()
    health = etree.parse(str(tmp_path / "out" / "health.atom"))
    titles = health.findall(".//{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
    assert [t.text for t in titles] == ["f recovered", "f is failing"]
    content = (tmp_path / "out" / "sources" / "f.atom").read_text()
    assert "failing" not in content and "oops" not in content
    service.store.close()


def test_retry_after_delays_only_that_source(http_server: LocalServer, tmp_path: Path) -> None:
    """A 429 with Retry-After: 7200 puts that source off two hours; another source keeps its
    interval."""
    slow = http_server.add("/slow.rss", "busy", status=429, headers={"Retry-After": "7200"})
    fine = http_server.add("/fine.rss", rss("fine"))
    clock = Clock()
    service = service_for(tmp_path, {"slow": slow, "fine": fine}, clock)
    service._poll("slow")
    service._poll("fine")
    slow_state, fine_state = service.store.state("slow"), service.store.state("fine")
    assert slow_state.retry_after == NOW + timedelta(hours=2)
    assert slow_state.next_due == NOW + timedelta(hours=2)
    assert fine_state.next_due == NOW + timedelta(minutes=1)
    service.store.close()


def test_gone_stops_polling_with_a_clear_status(http_server: LocalServer, tmp_path: Path) -> None:
    """A 410 marks the source gone: no next due time, no job, a health entry, and `feeds
    status` says so."""
    url = http_server.add("/g.rss", "gone", status=410)
    clock = Clock()
    service = service_for(tmp_path, {"g": url}, clock)
    service._poll("g")
    state = service.store.state("g")
    assert state.gone and state.next_due is None
    assert "g" not in service.due_times()
    assert [e.kind for e in service.store.health_events()] == ["gone"]
    assert initial_due(NOW, service.config.source("g"), state, service.config, 0.0) is None
    service.store.close()
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "feeds.yaml"), "status"],
                                env={"COLUMNS": "250"})
    assert "gone (HTTP 410)" in result.output


def test_permanent_redirect_is_followed_and_reported(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """A 301 is followed, the articles are stored, and `feeds status` says to update the URL."""
    new = http_server.add("/new.rss", rss("n"))
    old = http_server.add("/old.rss", "", status=301, headers={"Location": new})
    service = service_for(tmp_path, {"m": old}, Clock())
    service._poll("m")
    assert service.store.state("m").moved_to == new
    assert service.store.counts() == {"m": 2}
    service.store.close()
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "feeds.yaml"), "status"],
                                env={"COLUMNS": "250"})
    assert f"moved to {new}, update the config" in result.output


def test_max_age_and_ttl_lengthen_the_interval(http_server: LocalServer, tmp_path: Path) -> None:
    """Cache-Control max-age=7200 and <ttl>180</ttl> push the next poll out; a short max-age
    does not bring it closer than the interval."""
    long_age = http_server.add("/a.rss", rss("a"), headers={"Cache-Control": "max-age=7200"})
    ttl = http_server.add("/t.rss", rss("t", ttl=180))
    short = http_server.add("/s.rss", rss("s"), headers={"Cache-Control": "max-age=5"})
    config = parse_config(write_config(tmp_path, {"a": long_age, "t": ttl, "s": short},
                                       "30m").read_text(), base_dir=tmp_path)
    store = Store.open(tmp_path / "feeds.db")
    from feeds.fetch import Fetcher

    due = {sid: poll_source(config.source(sid), config, Fetcher(), store, NOW).next_due
           for sid in ("a", "t", "s")}
    assert due == {"a": NOW + timedelta(hours=1),  # 2 h hint, capped by max_backoff (1 h)
                   "t": NOW + timedelta(hours=1),
                   "s": NOW + timedelta(minutes=30)}
    # A 304 keeps the ttl hint of the unchanged document.
    again = poll_source(config.source("t"), config, Fetcher(), store, NOW)
    assert again.status == "not modified" and again.next_due == NOW + timedelta(hours=1)
    store.close()


def test_unchanged_body_is_not_parsed_again(http_server: LocalServer, tmp_path: Path) -> None:
    """A 200 whose body hash is unchanged counts as not modified (no parse, no writes)."""
    url = http_server.add("/u.rss", rss("u"), conditional=False)
    service = service_for(tmp_path, {"u": url}, Clock())
    service._poll("u")
    service.store.upsert("u", [], NOW)  # nothing else changes
    import feeds.poll

    calls = []
    original = feeds.poll.collect_feed

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    feeds.poll.collect_feed = counting  # type: ignore[assignment]
    try:
        service._poll("u")
    finally:
        feeds.poll.collect_feed = original
    assert calls == []
    assert len(http_server.requests_for("/u.rss")) == 2
    service.store.close()


# -- restart, lock ---------------------------------------------------------------------------


def test_restart_keeps_due_times_and_pending_retries(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """After a restart nothing that is not due is polled, and a pending Retry-After stands."""
    ok = http_server.add("/ok.rss", rss("ok"))
    busy = http_server.add("/busy.rss", "busy", status=503, headers={"Retry-After": "3600"})
    path = write_config(tmp_path, {"ok": ok, "busy": busy}, "1h")
    first = Service(path, load_config(path), workers=2, publish_every=0.2)
    first.start()
    wait_for(lambda: first.polls == 2)
    assert first.stop(5)
    polled = len(http_server.requests)
    assert polled == 2
    second = Service(path, load_config(path), workers=2, publish_every=0.2)
    second.start()
    time.sleep(1.0)
    due = second.due_times()
    assert len(http_server.requests) == polled  # nothing polled twice on start-up
    assert due["busy"] >= datetime.now(UTC) + timedelta(minutes=59)
    assert due["ok"] >= datetime.now(UTC) + timedelta(minutes=58)
    assert second.stop(5)


def test_service_polls_on_schedule_and_never_twice_at_once(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """With a 1 s interval and slow responses, each source is polled again and again, never
    with two of its requests overlapping."""
    urls = {}
    for name in ("a", "b", "c"):
        urls[name] = http_server.add(f"/{name}.rss", rss(name), delay=0.3)
    path = write_config(tmp_path, urls, "1s")
    service = Service(path, load_config(path), workers=3, publish_every=0.2)
    started = time.monotonic()
    service.start()
    wait_for(lambda: all(len(http_server.requests_for(f"/{n}.rss")) >= 3 for n in urls), 15)
    assert service.stop(5)
    elapsed = time.monotonic() - started
    for name in urls:
        requests: list[RecordedRequest] = sorted(http_server.requests_for(f"/{name}.rss"),
                                                 key=lambda r: r.started)
        for a, b in itertools.pairwise(requests):
            assert b.started >= a.finished
        # Due one interval after each poll started: no more polls than seconds elapsed, + 1.
        assert len(requests) <= elapsed + 1
    assert (tmp_path / "out" / "sources" / "a.atom").exists()
    assert (tmp_path / "out" / "health.atom").exists()


def test_second_service_on_the_same_store_is_refused(tmp_path: Path) -> None:
    """The lock lets one service use a store and output; another gets LockedError."""
    path = write_config(tmp_path, {"f": "http://example.org/f.rss"})
    config = load_config(path)
    with service_lock(config), pytest.raises(LockedError, match="another feeds service"):  # noqa: SIM117
        with service_lock(config):
            pass
    with service_lock(config):  # released: usable again
        pass


def test_health_event_only_on_transitions() -> None:
    """A source failing for many polls gives one event; a ParseError is 'broken'."""
    from feeds.poll import PollResult

    failing = PollResult("s", "failed", error="boom", error_kind="FetchError")
    assert health_event(SourceState("s"), failing, NOW).kind == "failing"  # type: ignore[union-attr]
    assert health_event(SourceState("s", failures=2), failing, NOW) is None
    broken = PollResult("s", "failed", error="no items", error_kind="ParseError")
    assert health_event(SourceState("s"), broken, NOW).kind == "broken"  # type: ignore[union-attr]
    assert health_event(SourceState("s"), PollResult("s", "ok"), NOW) is None


# -- the real command in a subprocess --------------------------------------------------------


def start_service(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "-c", str(config), "run"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stop_service(process: subprocess.Popen[str], timeout: float = 10.0) -> tuple[int, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=timeout)
    assert time.monotonic() - started < timeout
    return process.returncode, err


def test_sighup_reload_adds_removes_and_refuses_broken_configs(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """SIGHUP applies a changed config (the new source is polled, the removed one no longer);
    a broken config is refused and the old one keeps running; SIGTERM exits 0 promptly."""
    old = http_server.add("/old.rss", rss("old"))
    new = http_server.add("/new.rss", rss("new"))
    path = write_config(tmp_path, {"old": old}, "1s")
    process = start_service(path)
    try:
        wait_for(lambda: len(http_server.requests_for("/old.rss")) >= 2)
        write_config(tmp_path, {"new": new}, "1s")
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: len(http_server.requests_for("/new.rss")) >= 1)
        old_count = len(http_server.requests_for("/old.rss"))
        path.write_text(path.read_text() + "  - id: bad\n    url: htp://x\n    intervall: 5m\n")
        process.send_signal(signal.SIGHUP)
        seen = len(http_server.requests_for("/new.rss"))
        wait_for(lambda: len(http_server.requests_for("/new.rss")) >= seen + 2)
        assert len(http_server.requests_for("/old.rss")) <= old_count + 1  # one in flight
    finally:
        code, err = stop_service(process)
    assert code == 0, err
    assert "config reload refused" in err and "intervall" in err
    assert "config reloaded: 1 source(s) added, 1 removed" in err
    assert "poll new: ok, 2 new, 0 updated" in err
    assert not (tmp_path / "out" / "sources" / "old.atom").exists()
    assert (tmp_path / "out" / "sources" / "new.atom").exists()


def test_second_service_process_exits_with_a_clear_message(
    http_server: LocalServer, tmp_path: Path
) -> None:
    """A second `feeds run` on the same store exits 3 naming the lock; the first runs on."""
    url = http_server.add("/f.rss", rss("f"))
    path = write_config(tmp_path, {"f": url}, "1s")
    first = start_service(path)
    try:
        wait_for(lambda: len(http_server.requests_for("/f.rss")) >= 1)
        second = subprocess.run(
            [sys.executable, "-m", "feeds", "-c", str(path), "run"], cwd=ROOT,
            capture_output=True, text=True, timeout=30,
        )
        assert second.returncode == 3
        assert "another feeds service (pid " in second.stderr
        assert first.poll() is None
    finally:
        code, err = stop_service(first)
    assert code == 0, err


def test_config_from_the_cli_is_validated_before_starting(tmp_path: Path) -> None:
    """A bad cron expression stops the service from starting, with exit code 2."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"store: {{path: {tmp_path / 'f.db'}}}\noutput: {{dir: {tmp_path / 'out'}}}\n"
        "sources:\n  - id: c\n    url: http://example.org/f\n    cron: 'every day'\n")
    result = subprocess.run([sys.executable, "-m", "feeds", "-c", str(path), "run"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "not a crontab expression" in result.stderr



def test_run_once_does_not_ask_again_within_retry_after(
        http_server: LocalServer, tmp_path: Path) -> None:
    """`run --once` (a cron job) leaves a source alone until its Retry-After has passed, and
    says so in its results; the other sources are polled; after the wait it polls it again."""
    slow = http_server.add("/slow.rss", "busy", status=429, headers={"Retry-After": "7200"})
    fine = http_server.add("/fine.rss", rss("fine"))
    clock = Clock()
    service = service_for(tmp_path, {"slow": slow, "fine": fine}, clock)
    try:
        service.run_once()
        assert len(http_server.requests_for("/slow.rss")) == 1
        clock.now = NOW + timedelta(hours=1)
        results, _ = service.run_once()
        assert len(http_server.requests_for("/slow.rss")) == 1
        assert len(http_server.requests_for("/fine.rss")) == 2
        waiting = next(r for r in results if r.source_id == "slow")
        assert waiting.status == "waiting" and not waiting.failed
        assert "Retry-After" in (waiting.error or "")
        assert [e.kind for e in service.store.health_events(10)].count("recovered") == 0
        clock.now = NOW + timedelta(hours=2, seconds=1)
        service.run_once()
        assert len(http_server.requests_for("/slow.rss")) == 2
    finally:
        service.store.close()


def test_the_service_publishes_at_start_only_on_a_store_that_was_polled(
        tmp_path: Path, store: Store) -> None:
    """A new store's feeds are not written (empty) before its first polls; a store some
    source was polled into is published at once, in case the config changed while down."""
    assert not publish_at_start(store.states())
    store.save_state(SourceState("a", last_attempt=NOW, failures=1))
    assert not publish_at_start(store.states())
    store.save_state(SourceState("b", last_success=NOW))
    assert publish_at_start(store.states())
