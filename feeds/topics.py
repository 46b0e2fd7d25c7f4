"""Topics: keyword rules over stored articles, folded so that readers' equivalents match.

Matching folds NFKC, case, and Traditional to Simplified (OpenCC ``t2s``), so the keyword
``青岛`` matches ``青島``; Latin keywords match whole words (``Taiwan`` not in ``Taiwanese``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from feeds.config import Topic
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.store import Stored

_LATIN_EDGE = re.compile(r"^\w|\w$", re.ASCII)


def fold(text: str) -> str:
    """The form both keywords and article text are compared in."""
    return convert(unicodedata.normalize("NFKC", text).casefold(), "t2s")


@dataclass(frozen=True)
class Matcher:
    """A compiled topic: call :meth:`matches` on each article."""

    topic: Topic
    any: tuple[re.Pattern[str], ...]
    all: tuple[re.Pattern[str], ...]
    none: tuple[re.Pattern[str], ...]
    regex: tuple[re.Pattern[str], ...]

    @classmethod
    def compile(cls, topic: Topic) -> Matcher:
        def keyword(word: str) -> re.Pattern[str]:
            folded = re.escape(fold(word))
            if topic.word_boundaries and _LATIN_EDGE.search(fold(word)):
                # Word boundaries only on Latin edges; CJK text has no spaces between words.
                start = r"(?<![A-Za-z0-9_])" if re.match(r"\w", fold(word), re.ASCII) else ""
                end = r"(?![A-Za-z0-9_])" if re.search(r"\w$", fold(word), re.ASCII) else ""
                return re.compile(start + folded + end)
            return re.compile(folded)

        return cls(
            topic=topic,
            any=tuple(keyword(w) for w in topic.any),
            all=tuple(keyword(w) for w in topic.all),
            none=tuple(keyword(w) for w in topic.none),
            regex=tuple(re.compile(p, re.IGNORECASE) for p in topic.regex),
        )

    def text_of(self, article: Article) -> str:
        parts: list[str] = []
        for field in self.topic.fields:
            if field == "title":
                parts.append(article.title)
            elif field == "summary":
                parts.append(article.summary or "")
            elif field == "content":
                parts.append(article.text or "")
            elif field == "author":
                parts += [p.name for p in (*article.authors, *article.contributors)]
            elif field == "categories":
                parts += list(article.categories)
            elif field == "source_name":
                parts.append(article.source_name or "")
        return "\n".join(parts)

    def accepts_source(self, source_id: str) -> bool:
        if self.topic.sources and source_id not in self.topic.sources:
            return False
        return source_id not in self.topic.exclude_sources

    def matches(self, stored: Stored, now: datetime | None = None) -> bool:
        if not self.accepts_source(stored.source_id):
            return False
        article = stored.article
        topic = self.topic
        if topic.language and not (article.language or "").lower().startswith(topic.language.lower()):
            return False
        if topic.max_age and now is not None and stored.sort_date < now - topic.max_age:
            return False
        raw = self.text_of(article)
        text = fold(raw)
        if self.none and any(p.search(text) for p in self.none):
            return False
        if self.all and not all(p.search(text) for p in self.all):
            return False
        keywords = self.any or self.regex
        if not keywords:
            return True  # a topic of whole sources
        return any(p.search(text) for p in self.any) or any(p.search(raw) for p in self.regex)


def select(topic: Topic, articles: Iterable[Stored], limit: int, now: datetime | None = None
           ) -> Iterator[Stored]:
    """The newest ``limit`` articles matching ``topic``, from articles given newest first."""
    matcher = Matcher.compile(topic)
    count = 0
    for stored in articles:
        if count >= limit:
            return
        if matcher.matches(stored, now):
            count += 1
            yield stored
