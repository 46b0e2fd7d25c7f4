"""Config problems found in review, through the real `feeds` command and real files: cron
expressions, interval with cron, proxies, problems hidden behind others, YAML syntax hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from feeds import cli


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole lines whatever the terminal: these tests read messages, not layout."""
    monkeypatch.setattr(cli, "console", Console(width=500))
    monkeypatch.setattr(cli, "err_console", Console(width=500, stderr=True))
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli.cli, list(args), catch_exceptions=False)


def write(tmp_path: Path, text: str) -> Path:
    """A config file; its feed file exists so that only the problem under test is reported."""
    (tmp_path / "feed.xml").write_text("<rss version='2.0'><channel/></rss>", encoding="utf-8")
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


HEAD = "output: {dir: out}\nstore: {path: state/feeds.db}\nsources:\n"


def test_check_reports_bad_cron_with_line_key_and_example(tmp_path: Path) -> None:
    """`feeds check` refuses a crontab expression APScheduler cannot parse, at its line and
    list index, saying what is wrong and showing a valid one."""
    path = write(tmp_path, HEAD + (
        "  - id: f\n    url: feed.xml\n    cron: \"0 6 * *\"\n"
        "  - id: h\n    url: feed.xml\n    cron: \"99 * * * *\"\n"
    ))
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    four = f"{path}:{line_of(path, '0 6 * *')}: sources[0].cron: '0 6 * *' is not a crontab"
    assert four in result.stderr
    assert "got 4, expected 5" in result.stderr
    ninety_nine = f"{path}:{line_of(path, '99 * * * *')}: sources[1].cron: '99 * * * *'"
    assert ninety_nine in result.stderr
    assert "maximum value (59)" in result.stderr
    assert result.stderr.count("e.g. '0 6 * * *'") == 2


def test_run_once_refuses_bad_cron_before_polling(tmp_path: Path) -> None:
    """`feeds run --once` stops at a bad cron with exit 2 and the line, instead of polling
    and then crashing with a traceback."""
    path = write(tmp_path, HEAD + "  - id: f\n    url: feed.xml\n    cron: \"0 6 * *\"\n")
    result = invoke("--config", str(path), "run", "--once")
    assert result.exit_code == 2, result.output
    assert f"{path}:{line_of(path, 'cron')}: sources[0].cron:" in result.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was polled or stored


def test_valid_cron_expressions_pass(tmp_path: Path) -> None:
    """Ordinary crontab expressions, with ranges, steps and day names, are accepted."""
    path = write(tmp_path, HEAD + (
        "  - {id: a, url: feed.xml, cron: \"*/15 * * * *\"}\n"
        "  - {id: b, url: feed.xml, cron: \"30 6 * * mon-fri\"}\n"
        "  - {id: c, url: feed.xml, cron: \"0 0 1,15 * *\"}\n"
    ))
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 0, result.output
    assert "ok, 3 sources" in result.stdout


def test_interval_with_cron_is_refused(tmp_path: Path) -> None:
    """A source with both `interval` and `cron` is an error naming both, not a silent choice."""
    path = write(tmp_path, HEAD + (
        "  - id: e\n    url: feed.xml\n    interval: 15m\n    cron: \"0 6 * * *\"\n"
    ))
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    expected = (f"{path}:{line_of(path, 'cron')}: sources[0].cron: give either 'interval' or "
                "'cron', not both")
    assert expected in result.stderr


@pytest.mark.parametrize("proxy", ["notaproxy", "127.0.0.1:3128", "ftp://proxy.example:21"])
def test_proxy_must_be_a_url_with_a_scheme(tmp_path: Path, proxy: str) -> None:
    """A proxy without an http(s) scheme is refused at its line, with an example."""
    path = write(tmp_path, HEAD + f"  - id: g\n    url: feed.xml\n    proxy: \"{proxy}\"\n")
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:{line_of(path, 'proxy')}: sources[0].proxy: '{proxy}'" in result.stderr
    assert "http://127.0.0.1:3128" in result.stderr


def test_proxy_url_is_accepted(tmp_path: Path) -> None:
    """An http proxy URL with host and port passes."""
    path = write(tmp_path, HEAD + "  - {id: g, url: feed.xml, proxy: 'http://127.0.0.1:3128'}\n")
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 0, result.output


def test_source_level_problem_is_listed_beside_field_errors(tmp_path: Path) -> None:
    """Both `url` and `page` in a source is reported even when the same source has a field
    error too, so one run of `feeds check` lists every problem."""
    path = write(tmp_path, HEAD + (
        "  - id: d\n    url: http://x.example/\n    page: http://y.example/\n"
        "    timezone: Mars/Olympus\n"
        "  - id: e\n    timeout: 5s\n"
    ))
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:{line_of(path, 'id: d')}: sources[0]: give exactly one of 'url'" \
        in result.stderr
    assert "sources[0].timezone: unknown time zone 'Mars/Olympus'" in result.stderr
    assert f"{path}:{line_of(path, 'id: e')}: sources[1]: give exactly one of 'url'" \
        in result.stderr
    assert "sources[1].timeout: unknown key" in result.stderr
    assert result.stderr.count("give exactly one of") == 2  # each once, not twice


def test_tab_indentation_gets_a_hint_and_column(tmp_path: Path) -> None:
    """A tab in the indentation is reported at its line and column with 'indent with spaces'."""
    path = write(tmp_path, "output:\n\tdir: out\n")
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:2: YAML syntax error:" in result.stderr
    assert "(column 1)" in result.stderr
    assert "indent with spaces, not tabs" in result.stderr


@pytest.mark.parametrize(("text", "line", "column"), [
    ("sources:\n  - id: a\n    url: feed.xml\n   interval: 15m\n", 4, 4),
    ("sources:\n  - id: a\n    url: feed.xml\n  - id: b\n     url: feed.xml\n", 5, 9),
])
def test_bad_indentation_gets_a_hint_and_column(tmp_path: Path, text: str, line: int,
                                                column: int) -> None:
    """A line indented one space too few or too many points at the indentation, with the
    column, keeping file:line."""
    path = write(tmp_path, text)
    result = invoke("--config", str(path), "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: YAML syntax error:" in result.stderr
    assert f"(column {column})" in result.stderr
    assert "check the indentation of this line and the line above" in result.stderr
