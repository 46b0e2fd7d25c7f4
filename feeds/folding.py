"""Folding: the one form in which topic keywords and article text are compared.

NFKC, case folding and Traditional to Simplified (OpenCC ``t2s``), so ``青岛`` matches
``青島`` and ``ＱＩＮＧＤＡＯ``. Kept apart from :mod:`feeds.topics` (SQLAlchemy, numpy) so that
a worker process (:mod:`feeds.worker`) can fold a cycle's new articles cheaply.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence

from feeds.extract.chinese import convert

# Between the folded fields of one article in the index; fold() turns it into a space, so no
# keyword spans two fields.
SEP = "\x1f"
_SPACES = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")


def fold(text: str | None) -> str:
    """The form both keywords and article text are compared in."""
    if not text:
        return ""
    if text.isascii():
        # NFKC and t2s leave ASCII alone, and casefold is lower(): the cheap path.
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", convert(text, "t2s")).strip()


def body_text(text: str | None, content_html: str | None) -> str:
    if not text and content_html:
        return html.unescape(_TAGS.sub(" ", content_html))
    return text or ""


def folded_values(values: Sequence[str | None], wanted: Sequence[bool]) -> str:
    """The indexed form of one article: the wanted fields folded and joined by SEP.

    ``values`` are the article's stored columns title, summary, text, content_html, authors,
    contributors, categories (the last three JSON) and source_name; ``wanted`` says, per
    field of :data:`feeds.topics.FIELDS`, whether some rule reads it (others stay empty).
    """
    title, summary, text, content_html, authors, contributors, categories, source_name = values
    out = []
    for n, want in enumerate(wanted):
        if not want:
            out.append("")
        elif n == 0:
            out.append(fold(title))
        elif n == 1:
            out.append(fold(summary))
        elif n == 2:
            out.append(fold(body_text(text, content_html)))
        elif n == 3:
            people = [p["name"] for p in (*json.loads(authors or "[]"),
                                          *json.loads(contributors or "[]"))]
            out.append(fold("\n".join(people)))
        elif n == 4:
            out.append(fold("\n".join(json.loads(categories or "[]"))))
        else:
            out.append(fold(source_name))
    return SEP.join(out)


def fold_rows(rows: Sequence[Sequence[str | None]], wanted: Sequence[bool]) -> list[str]:
    """:func:`folded_values` of many articles (one job of a worker process)."""
    return [folded_values(values, wanted) for values in rows]
