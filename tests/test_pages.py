"""Article extraction on real Chinese news pages (../shared/pages/zh-news; skipped when absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import shared_path

from feeds.encoding import decode_html
from feeds.extract.article import Extracted, extract_article, parse_html
from feeds.extract.metadata import page_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXPECTED: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "data" / "pages_expected.yaml").read_text(encoding="utf-8"))


def load(page: str) -> tuple[str, Extracted]:
    html, _ = decode_html((shared_path("pages", "zh-news") / page).read_bytes())
    return html, extract_article(html, f"https://example.com/{page}", timezone=SHANGHAI)


def every_field(extracted: Extracted) -> str:
    people = [p.name for p in (*extracted.authors, *extracted.contributors)]
    return "\n".join([extracted.title, extracted.content_html, extracted.text,
                      extracted.source_name or "", *people])


def test_expectation_table_is_large_enough() -> None:
    """The table covers at least 20 pages, each with a body and a boilerplate snippet."""
    assert len(EXPECTED) >= 20
    assert all(case["body"] and case["absent"] and case["title"] for case in EXPECTED)


def test_every_page_extracts() -> None:
    """Every zh-news page gives a title and a body without raising."""
    root = shared_path("pages", "zh-news")
    pages = sorted(root.rglob("*.html"))
    assert len(pages) >= 60
    for path in pages:
        html, _ = decode_html(path.read_bytes())
        extracted = extract_article(html, f"https://example.com/{path.name}", timezone=SHANGHAI)
        assert extracted.title, path
        assert extracted.text, path
        assert extracted.published is None or extracted.published.tzinfo is not None, path


@pytest.mark.parametrize("case", EXPECTED, ids=[case["page"] for case in EXPECTED])
def test_page_matches_expectations(case: dict[str, Any]) -> None:
    """Title, date with offset, people, source and body are what a reader should get."""
    html, extracted = load(case["page"])
    assert extracted.title == case["title"]
    published = extracted.published.isoformat() if extracted.published else ""
    assert published == case["published"]
    if "authors" in case:
        assert [p.name for p in extracted.authors] == case["authors"]
    if "contributors" in case:
        assert [p.name for p in extracted.contributors] == case["contributors"]
    for name in case.get("contributors_include", []):
        assert name in [p.name for p in extracted.contributors]
    if "source" in case:
        assert extracted.source_name == case["source"]
    assert case["body"] in extracted.text
    # The boilerplate is really on the page, so its absence shows it was removed.
    assert case["absent"] in page_text(parse_html(html))
    assert case["absent"] not in every_field(extracted)
