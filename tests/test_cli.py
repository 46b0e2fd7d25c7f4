"""The `feeds` command: exit codes, `check` listing every problem, `status`, store errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import LocalServer
from rich.console import Console

from feeds import __version__, cli

RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Good</title>
<link>https://good.example.org/</link><description>d</description>
<item><title>One</title><link>https://good.example.org/1</link><guid>g1</guid>
<pubDate>Tue, 03 Dec 2024 10:00:00 +0000</pubDate><description>first</description></item>
<item><title>Two</title><link>https://good.example.org/2</link><guid>g2</guid>
<pubDate>Tue, 03 Dec 2024 11:00:00 +0000</pubDate><description>second</description></item>
</channel></rss>"""

BAD_CONFIG = """\
defaults:
  intervall: 30m
output:
  base_url: not-a-url
sources:
  - id: a
    url: https://a.example.org/feed
    interval: soon
  - id: a
    url: https://b.example.org/feed
topics:
  - id: t
    sources: [aa]
"""


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps tables at 80 columns when not on a terminal; widen so lines stay whole."""
    monkeypatch.setattr(cli, "console", Console(width=250))
    monkeypatch.setattr(cli, "err_console", Console(width=250, stderr=True))
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.cli, list(args), env=env, catch_exceptions=False)


def write_config(tmp_path: Path, server: LocalServer, *, with_bad: bool = True,
                 disabled: bool = False) -> Path:
    server.add("/good.rss", RSS, headers={"Content-Type": "application/rss+xml"})
    server.add("/bad.rss", "upstream down", status=503)
    lines = [
        "defaults: {timeout: 5s, allow_private: true}",
        'output: {dir: out, base_url: "https://feeds.example.org/"}',
        "store: {path: state/feeds.db}",
        "sources:",
        "  - id: good",
        f"    url: {server.url('/good.rss')}",
    ]
    if with_bad:
        lines += ["  - id: bad", f"    url: {server.url('/bad.rss')}"]
    if disabled:
        lines += ["  - id: resting", f"    url: {server.url('/none.rss')}", "    enabled: false"]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bad_store(tmp_path: Path, http_server: LocalServer) -> Iterator[Path]:
    """A config whose store path is another program's SQLite database."""
    config = write_config(tmp_path, http_server, with_bad=False)
    db = tmp_path / "state" / "feeds.db"
    db.parent.mkdir()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    yield config


def run_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "PYTHONWARNINGS": "ignore"}
    env.pop("FEEDS_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "feeds", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_version() -> None:
    """--version prints the package version."""
    result = invoke("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_check_valid_config(tmp_path: Path, http_server: LocalServer) -> None:
    """`feeds check` on a good config exits 0 and counts sources and topics."""
    config = write_config(tmp_path, http_server)
    result = invoke("--config", str(config), "check")
    assert result.exit_code == 0, result.output
    assert "ok, 2 sources, 0 topics" in result.stdout
    assert not (tmp_path / "state").exists()  # checking touches no store


def test_check_lists_every_error(tmp_path: Path) -> None:
    """`feeds check` reports every problem with file:line and key, and exits 2."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG, encoding="utf-8")
    result = invoke("--config", str(path), "check")
    assert result.exit_code == cli.EXIT_CONFIG
    err = result.stderr
    assert f"{path}:2: defaults.intervall: unknown key (did you mean 'interval'?)" in err
    assert f"{path}:4: output.base_url:" in err
    assert f"{path}:8: sources[0].interval:" in err
    assert "duplicate id 'a'" in err
    assert "unknown source 'aa'" in err
    assert "problem(s)" in err
    assert "Traceback" not in result.output


def test_check_in_subprocess_lists_every_error(tmp_path: Path) -> None:
    """The real `python -m feeds check` prints each problem on stderr and exits 2."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG, encoding="utf-8")
    result = run_subprocess("--config", str(path), "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count(str(path)) >= 4
    assert "Traceback" not in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    """A missing config file is a config error (exit 2) that says how to point at one."""
    result = invoke("--config", str(tmp_path / "nope.yaml"), "check")
    assert result.exit_code == 2
    assert "config file not found" in result.stderr


def test_config_from_environment(tmp_path: Path, http_server: LocalServer) -> None:
    """$FEEDS_CONFIG names the config when --config is not given."""
    config = write_config(tmp_path, http_server)
    result = invoke("check", env={"FEEDS_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert str(config) in result.stdout


def test_run_once_with_invalid_config_exits_2(tmp_path: Path) -> None:
    """`feeds run --once` on an invalid config exits 2 before opening a store or fetching."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_CONFIG, encoding="utf-8")
    result = invoke("--config", str(path), "run", "--once")
    assert result.exit_code == 2
    assert not list(tmp_path.glob("*.db"))


def test_run_once_exit_1_when_a_source_fails(tmp_path: Path, http_server: LocalServer) -> None:
    """One failing source makes the exit code 1, but the others are polled and published."""
    config = write_config(tmp_path, http_server)
    result = invoke("--config", str(config), "run", "--once")
    assert result.exit_code == cli.EXIT_SOURCES_FAILED, result.output
    assert "2 sources, 1 failed, 2 new" in result.stdout
    bad_line = next(x for x in result.stdout.splitlines() if " bad " in x)
    assert "failed" in bad_line and "HTTP 503" in bad_line
    assert "<title>One</title>" in (tmp_path / "out/sources/good.atom").read_text("utf-8")
    assert http_server.requests_for("/bad.rss")


def test_run_once_exit_0_when_all_succeed(tmp_path: Path, http_server: LocalServer) -> None:
    """With every source fine, `feeds run --once` exits 0; a second run is 'not modified'."""
    config = write_config(tmp_path, http_server, with_bad=False)
    first = invoke("--config", str(config), "run", "--once")
    assert first.exit_code == 0, first.output
    second = invoke("--config", str(config), "run", "--once")
    assert second.exit_code == 0, second.output
    assert "not modified" in second.stdout
    assert "0 output file(s) written" in second.stdout


def test_status_shows_success_error_and_counts(tmp_path: Path, http_server: LocalServer) -> None:
    """`feeds status` shows per source the article count, last success and the last error."""
    config = write_config(tmp_path, http_server, disabled=True)
    before = invoke("--config", str(config), "status")
    assert before.exit_code == 0, before.output
    assert "never polled" in before.stdout
    invoke("--config", str(config), "run", "--once")
    result = invoke("--config", str(config), "status")
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines()
             if line.startswith("│") and line.split()[1] in ("good", "bad", "resting")}
    good = lines["good"].split("│")
    assert good[2].strip() == "2"  # articles
    assert good[3].strip() != "-"  # last success
    assert good[6].strip() == "ok"
    bad = lines["bad"].split("│")
    assert bad[2].strip() == "0" and bad[3].strip() == "-"
    assert bad[5].strip() == "1"  # failures
    assert "failing since" in bad[6] and "HTTP 503" in bad[6]
    assert "disabled" in lines["resting"]


def test_store_error_exits_3(bad_store: Path) -> None:
    """A store that is another program's database: a clear message and exit 3, no traceback."""
    for command in (["run", "--once"], ["status"]):
        result = invoke("--config", str(bad_store), *command)
        assert result.exit_code == cli.EXIT_STORE, result.output
        assert "store error" in result.stderr
        assert "not created by feeds" in result.stderr


def test_store_not_a_database_exits_3_in_subprocess(tmp_path: Path,
                                                    http_server: LocalServer) -> None:
    """The real CLI on a store file that is not a database prints one clear line, exit 3."""
    config = write_config(tmp_path, http_server, with_bad=False)
    db = tmp_path / "state" / "feeds.db"
    db.parent.mkdir()
    db.write_bytes(b"garbage, not sqlite\n" * 200)
    result = run_subprocess("--config", str(config), "run", "--once", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not a usable database" in result.stderr
    assert "Traceback" not in result.stderr
    assert not http_server.requests  # nothing fetched with an unusable store


def test_unwritable_output_exits_3(tmp_path: Path, http_server: LocalServer) -> None:
    """When output.dir cannot be created (a file is in the way), run exits 3 with a message."""
    config = write_config(tmp_path, http_server, with_bad=False)
    (tmp_path / "out").write_text("a file, not a directory")
    result = invoke("--config", str(config), "run", "--once")
    assert result.exit_code == cli.EXIT_STORE, result.output
    assert "cannot write output" in result.stderr
