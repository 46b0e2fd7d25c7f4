"""The `feeds` command, on problems found in review: an unusable store path, output under a
pipe, -v after the subcommand, APScheduler's chatter, `feeds serve` and SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from feeds import cli

RSS = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Local</title>
<link>https://local.example.org/</link><description>d</description>
<item><title>One</title><link>https://local.example.org/1</link><guid>g1</guid>
<pubDate>Tue, 03 Dec 2024 10:00:00 +0000</pubDate><description>first</description></item>
</channel></rss>"""

LONG_ID = "python-insider-with-a-rather-long-identifier-for-a-source"


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole lines in CliRunner tests; the subprocess tests see the real consoles."""
    monkeypatch.setattr(cli, "console", Console(width=500))
    monkeypatch.setattr(cli, "err_console", Console(width=500, stderr=True))
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The command sets logger levels; other tests get them back as they were."""
    names = ["", "apscheduler", "feeds"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.cli, list(args), catch_exceptions=False)


def write_config(tmp_path: Path, store: str = "state/feeds.db", source_id: str = "local",
                 extra: str = "") -> Path:
    (tmp_path / "feed.rss").write_text(RSS, encoding="utf-8")
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"output: {{dir: out}}\nstore: {{path: {store}}}\n"
        f"sources:\n  - id: {source_id}\n    url: feed.rss\n{extra}",
        encoding="utf-8",
    )
    return path


def feeds_process(*args: str, cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    """`python -m feeds ...` with stdout and stderr on pipes, as under journald or `| less`."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    for name in ("COLUMNS", "LINES", "FEEDS_CONFIG", "FORCE_COLOR", "TTY_COMPATIBLE"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "feeds", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)  # type: ignore[call-overload]


def run_feeds(*args: str, cwd: Path) -> tuple[int, str, str]:
    process = feeds_process(*args, cwd=cwd)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


# -- 2: a store path that cannot be used ------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["run", "--once"], ["run"],
                                     ["serve", "--port", "0"], ["run", "--serve", "--port", "0"]])
def test_store_under_a_file_exits_3_naming_the_store(tmp_path: Path, command: list[str]) -> None:
    """Every command that opens the store exits 3 with a message naming the store path when a
    directory on that path is a file, instead of a traceback or an 'output' error."""
    (tmp_path / "afile").write_text("not a directory", encoding="utf-8")
    config = write_config(tmp_path, store="afile/x.db")
    result = invoke("--config", str(config), *command)
    assert result.exit_code == 3, result.output
    assert "cannot open the store" in result.stderr
    assert "afile/x.db" in result.stderr
    assert "afile is a file, not a directory" in result.stderr
    assert "cannot write output" not in result.stderr


@pytest.mark.parametrize("command", [["status"], ["run", "--once"]])
def test_store_that_is_a_directory_exits_3(tmp_path: Path, command: list[str]) -> None:
    """A store path naming a directory exits 3 saying so, with the path."""
    (tmp_path / "adir").mkdir()
    config = write_config(tmp_path, store="adir")
    result = invoke("--config", str(config), *command)
    assert result.exit_code == 3, result.output
    assert "cannot open the store" in result.stderr
    assert "it is a directory" in result.stderr


# -- 3: output under a pipe -------------------------------------------------------------------


def test_check_problems_stay_on_one_line_under_a_pipe(tmp_path: Path) -> None:
    """Off a terminal, `feeds check` prints each problem on one line, however long."""
    config = write_config(tmp_path, extra="    timezone: Mars/Olympus\n")
    code, _, err = run_feeds("--config", str(config), "check", cwd=tmp_path)
    assert code == 2, err
    problem = (f"{config}:6: sources[0].timezone: unknown time zone 'Mars/Olympus'; "
               "use an IANA name such as Asia/Shanghai or UTC")
    assert len(problem) > 80
    assert f"  {problem}" in err.splitlines()


def test_tables_are_not_wrapped_or_cut_under_a_pipe(tmp_path: Path) -> None:
    """Off a terminal, the run summary and the status table keep long ids and notes whole,
    one row per line."""
    config = write_config(tmp_path, source_id=LONG_ID)
    code, out, err = run_feeds("--config", str(config), "run", "--once", cwd=tmp_path)
    assert code == 0, err
    [row] = [line for line in out.splitlines() if LONG_ID in line]
    assert "ok" in row and " 1 " in row
    code, out, err = run_feeds("--config", str(config), "status", cwd=tmp_path)
    assert code == 0, err
    assert "…" not in out
    [row] = [line for line in out.splitlines() if LONG_ID in line]
    assert row.count("│") == 7  # every column of the row on this one line
    assert row.split("│")[-2].strip() == "ok"
    assert f"feeds status ({tmp_path / 'state' / 'feeds.db'})" in out.splitlines()


# -- 4 and 5: -v after the subcommand; APScheduler kept quiet ---------------------------------


@pytest.mark.parametrize("command", ["run", "check", "preview", "add", "status", "serve",
                                     "import-opml"])
def test_every_subcommand_accepts_verbose(command: str) -> None:
    """-v and --verbose are options of every subcommand, not only of `feeds` itself."""
    result = invoke(command, "-v", "--verbose", "--help")
    assert result.exit_code == 0, result.output
    assert "--verbose" in result.stdout


def test_verbose_after_the_subcommand_raises_the_log_level(tmp_path: Path) -> None:
    """`feeds check -v` logs INFO and `feeds -v check -v` DEBUG, as `-v` and `-vv` before it."""
    config = write_config(tmp_path)
    assert invoke("--config", str(config), "check", "-v").exit_code == 0
    assert logging.getLogger().level == logging.INFO
    assert invoke("--config", str(config), "-v", "check", "-v").exit_code == 0
    assert logging.getLogger().level == logging.DEBUG


def test_run_once_accepts_verbose_after_the_subcommand(tmp_path: Path) -> None:
    """`feeds run --once -v` runs the cycle (it said 'No such option: -v')."""
    config = write_config(tmp_path)
    result = invoke("--config", str(config), "run", "--once", "-v")
    assert result.exit_code == 0, result.output
    assert "1 sources, 0 failed, 1 new" in result.stdout


@pytest.mark.parametrize(("flags", "level"), [([], logging.WARNING), (["-v"], logging.WARNING),
                                              (["-vv"], logging.DEBUG)])
def test_apscheduler_logs_warnings_only_unless_debugging(tmp_path: Path, flags: list[str],
                                                         level: int) -> None:
    """APScheduler's per-job INFO lines stay out of -v output; -vv lets them through."""
    config = write_config(tmp_path)
    assert invoke("--config", str(config), *flags, "check").exit_code == 0
    assert logging.getLogger("apscheduler").getEffectiveLevel() == level
    assert logging.getLogger("feeds").isEnabledFor(logging.INFO) == bool(flags)
    assert logging.getLogger("apscheduler.executors.default").isEnabledFor(logging.INFO) \
        == (level == logging.DEBUG)


def test_service_with_verbose_logs_polls_not_scheduler_jobs(tmp_path: Path) -> None:
    """`feeds -v run` logs its polls but not APScheduler's two 'Running job' lines every 2 s."""
    config = write_config(tmp_path)
    process = feeds_process("--config", str(config), "-v", "run", cwd=tmp_path)
    time.sleep(3.5)  # past the first publish check (every 2 s), whose job APScheduler logs
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "INFO feeds." in err
    assert "Running job" not in err
    assert "apscheduler" not in err


# -- 6: `feeds serve` and SIGTERM -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    """`feeds serve` shuts down with exit 0 on SIGTERM (as `feeds run` does) and on Ctrl-C,
    without a traceback."""
    config = write_config(tmp_path)
    port = free_port()
    process = feeds_process("--config", str(config), "serve", "--port", str(port), cwd=tmp_path)
    wait_listening(port, process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
