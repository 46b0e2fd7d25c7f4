"""A real browser: headless Chromium renders index.html from `feeds serve`.

The page text must name every feed, the console must stay silent (the page has no script, so
any console message is a CSP violation or an injected script), the hostile title must render
as text, and a phone-sized screenshot goes to tests/output/ for a person to look at.
"""

from __future__ import annotations

import html
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from feedsite import HOSTILE, example_config, feeds_serve, publish_example
from lxml import etree
from lxml import html as lxml_html

from feeds.config import Config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium is not installed (.ci/run installs it)")
TEST_OUTPUT = Path(__file__).resolve().parent / "output"
A = "{http://www.w3.org/2005/Atom}"


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Headless Chromium with its own profile, logging console messages to stderr."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, timeout=90, stdin=subprocess.DEVNULL, check=True,
    )


def console_messages(stderr: bytes) -> list[str]:
    """Chromium logs each console message (log, warning, error, CSP report) as CONSOLE."""
    return [line for line in stderr.decode(errors="replace").splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Config, str, Path]]:
    """The example (with a hostile source title) published and served by `feeds serve`."""
    tmp = tmp_path_factory.mktemp("browser")
    config_path = example_config(tmp, hostile=True)
    config = publish_example(config_path)
    # A control page whose console must NOT stay silent: proves the console check can fail.
    (config.output_dir / "control.html").write_text(
        "<!DOCTYPE html><title>control</title><script>console.error('control-error')</script>",
        encoding="utf-8")
    with feeds_serve(config_path) as base:
        yield config, base, tmp


def test_console_check_catches_errors(page: tuple[Config, str, Path]) -> None:
    """A page that logs an error is caught by the console scan (the check is live)."""
    _, base, tmp = page
    result = chromium(tmp / "profile-control", "--dump-dom", base + "control.html")
    assert any("control-error" in m for m in console_messages(result.stderr))


def atom_title(path: Path) -> str:
    """A feed's title as a reader shows it (type="html" titles carry escaped text)."""
    element = etree.fromstring(path.read_bytes()).find(A + "title")
    assert element is not None and element.text is not None
    text = element.text
    return html.unescape(text) if element.get("type") == "html" else text


def test_index_renders_every_feed_title_without_console_errors(
    page: tuple[Config, str, Path],
) -> None:
    """The rendered page names every feed, keeps the hostile title as text, logs nothing."""
    config, base, tmp = page
    result = chromium(tmp / "profile-dom", "--dump-dom", base)
    assert console_messages(result.stderr) == []
    dom = lxml_html.document_fromstring(result.stdout.decode("utf-8"))
    text = dom.text_content()
    titles = {atom_title(p) for p in config.output_dir.glob("*/*.atom")}
    assert len(titles) == len([s for s in config.sources if s.enabled]) + len(config.topics)
    for title in titles:
        assert title in text
    assert "青岛新闻" in text and HOSTILE in text
    # The hostile title is text in a heading, not elements in the live DOM.
    assert HOSTILE in [h.text_content() for h in dom.xpath("//h3")]
    assert dom.xpath("//body//script | //body//img") == []
    assert dom.xpath("//a[@href='feeds.opml']")


def test_index_screenshot_on_a_phone(page: tuple[Config, str, Path]) -> None:
    """A 412x900 (phone) screenshot is written to tests/output/ without console errors."""
    _, base, tmp = page
    TEST_OUTPUT.mkdir(exist_ok=True)
    shot = TEST_OUTPUT / "index-phone.png"
    shot.unlink(missing_ok=True)
    result = chromium(tmp / "profile-shot", f"--screenshot={shot}", "--window-size=412,900",
                      base)
    assert console_messages(result.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (412, 900)
    assert len(data) > 10_000  # a blank page compresses to far less
