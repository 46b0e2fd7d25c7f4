"""Crash safety: kill -9 the service at random points; the store and the output stay whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import LocalServer, RecordedRequest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
SOURCES = 8


def growing_feed(name: str) -> object:
    """A feed that gains an entry on every request, so every poll writes to the store."""
    counter = {"n": 0}
    lock = threading.Lock()

    def handler(request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        with lock:
            counter["n"] += 1
            n = counter["n"]
        items = "".join(
            f"<item><title>{name} story {i}</title><link>http://example.org/{name}/{i}</link>"
            f"<guid>{name}-{i}</guid><description>{'text ' * 200}</description></item>"
            for i in range(max(0, n - 30), n)
        )
        body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
                f"<link>http://example.org/</link>{items}</channel></rss>")
        return 200, {"Content-Type": "application/rss+xml"}, body.encode()

    return handler


def stored_keys(db: Path) -> set[tuple[str, str]]:
    if not db.exists():
        return set()
    with sqlite3.connect(db) as conn:
        return set(conn.execute("SELECT source_id, key FROM articles"))


@pytest.mark.slow
def test_kill_9_at_random_points_loses_nothing(http_server: LocalServer, tmp_path: Path) -> None:
    """20 kill -9s mid-cycle: integrity_check is ok, every output file parses, and every
    article stored before a kill is still stored after the restart."""
    lines = [
        "defaults: {interval: 1s, jitter: 0, allow_private: true, host_delay: 1ms, per_host: 4}",
        f"store: {{path: {tmp_path / 'feeds.db'}}}",
        f"output: {{dir: {tmp_path / 'out'}}}",
        "sources:",
    ]
    for i in range(SOURCES):
        http_server.add(f"/s{i}.rss", handler=growing_feed(f"s{i}"))
        lines += [f"  - id: s{i}", f"    url: {http_server.url(f'/s{i}.rss')}"]
    lines += ["topics:", "  - id: stories", "    any: [story]"]
    config = tmp_path / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n")
    db = tmp_path / "feeds.db"
    rng = random.Random(4)
    known: set[tuple[str, str]] = set()
    kills = 0
    deadline = time.monotonic() + 50
    while kills < 20 and time.monotonic() < deadline:
        before = len(http_server.requests)
        process = subprocess.Popen(
            [sys.executable, "-m", "feeds", "-c", str(config), "run"], cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        # Wait until it is polling, then kill it at a random moment of the cycle.
        while len(http_server.requests) == before and process.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.2))
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        kills += 1
        now_stored = stored_keys(db)
        assert known <= now_stored, f"articles lost after kill {kills}"
        known = now_stored
    assert kills >= 15
    # A last clean run: it restarts after the kills and publishes.
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds", "-c", str(config), "run"], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert known <= stored_keys(db)
    assert len(known) > SOURCES * 5
    out = tmp_path / "out"
    files = [p for p in out.rglob("*") if p.suffix in (".atom", ".opml")]
    assert len(files) >= SOURCES + 2
    for path in files:
        etree.parse(str(path))  # raises on a partial file
    atom = "{http://www.w3.org/2005/Atom}"
    topic = etree.parse(str(out / "topics" / "stories.atom"))
    assert len(topic.findall(f"{atom}entry")) > 0
