"""Helpers for the serving tests: the bundled example published into tmp_path, and a
`feeds serve` subprocess on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from feeds.cli import make_fetcher
from feeds.config import Config, load_config
from feeds.poll import run_cycle
from feeds.publish import publish_all
from feeds.store import Store

PROJECT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def example_config(tmp_path: Path, formats: tuple[str, ...] = ("atom", "rss", "json"),
                   hostile: bool = False, base_url: str = "http://localhost:8080/") -> Path:
    """The bundled example config copied into ``tmp_path`` (output and store there too)."""
    shutil.copytree(PROJECT / "config", tmp_path / "config")
    path = tmp_path / "config" / "feeds.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["output"]["formats"] = list(formats)
    data["output"]["base_url"] = base_url
    if hostile:
        for source in data["sources"]:
            if source["id"] == "planet-example":
                source["title"] = HOSTILE
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def publish_example(config_path: Path, now: datetime = NOW) -> Config:
    """One cycle over the example's local files, then publish (as `feeds run --once`)."""
    config = load_config(config_path)
    store = Store.open(config.store_path)
    fetcher = make_fetcher(config)
    try:
        run_cycle(config, store, fetcher, now, workers=2)
        publish_all(config, store, now)
    finally:
        fetcher.close()
        store.close()
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def feeds_serve(config_path: Path) -> Iterator[str]:
    """`feeds serve` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds", "-c", str(config_path), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(base + "healthz", timeout=1).status_code in (200, 503):
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"feeds serve did not start: {err}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
