"""`feeds run --once` loads only what a cycle of feed sources needs, and says little per source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from feeds import cli
from feeds.poll import PollResult

# Modules only page sources, serving, metrics, robots.txt, conversion or OPML import need.
LAZY = ["trafilatura", "justext", "htmldate", "starlette", "uvicorn", "prometheus_client",
        "protego", "opencc", "listparser", "apscheduler", "jinja2"]

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<link>https://example.org/</link><item><title>One</title><link>https://example.org/1</link>
<guid>https://example.org/1</guid><description>Body</description></item></channel></rss>"""

SCRIPT = """
import json, sys
from pathlib import Path
from feeds.config import load_config
from feeds.scheduler import Service
config_path = Path(sys.argv[1])
config = load_config(config_path)
for _ in range(2):  # cold, then warm (where index.html is not rendered again)
    service = Service(config_path, config, workers=2)
    service.run_once()
    service.close()
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_run_once_imports_no_optional_stack(tmp_path: Path) -> None:
    """A cold and a warm cycle of a feed source import none of the optional stacks but jinja2
    (the cold cycle renders index.html)."""
    (tmp_path / "feed.xml").write_text(RSS, encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text("output: {dir: out, base_url: 'https://feeds.example.org/'}\n"
                      "store: {path: feeds.db}\nsources:\n  - {id: local, url: feed.xml}\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(config)], capture_output=True,
                          text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout))
    assert sorted(loaded & set(LAZY)) == ["jinja2"]
    assert (tmp_path / "out" / "sources" / "local.atom").is_file()


def test_summary_of_many_sources_lists_only_news_and_errors(capsys: object) -> None:
    """Above SUMMARY_ROWS sources the table lists failures and moves, and counts the rest."""
    results = [PollResult(f"s{n}", "not modified") for n in range(cli.SUMMARY_ROWS + 10)]
    results.append(PollResult("broken", "failed", error="HTTP 500"))
    cli._summary(results, [])
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "broken" in out and "s1 " not in out
    assert f"({cli.SUMMARY_ROWS + 10} sources without errors not listed)" in out
