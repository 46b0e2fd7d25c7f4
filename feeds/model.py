"""The article model every source kind fills. Frozen dataclasses, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Person:
    """An author or contributor."""

    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Image:
    """An image of an article, with its caption when the page gives one."""

    url: str
    caption: str | None = None


@dataclass(frozen=True)
class Enclosure:
    """A media file attached to an entry (podcast audio, attachments)."""

    url: str
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class Article:
    """One story, whatever kind of source it came from.

    ``key`` identifies the story within its source and never changes; ``first_seen`` is set by
    the store the first time it saves the story.
    """

    key: str
    url: str | None
    canonical_url: str | None
    title: str
    summary: str | None = None
    content_html: str | None = None
    text: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    first_seen: datetime | None = None
    authors: tuple[Person, ...] = ()
    contributors: tuple[Person, ...] = ()
    source_name: str | None = None
    categories: tuple[str, ...] = ()
    language: str | None = None
    images: tuple[Image, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    fingerprint: str | None = None
    content_hash: str = field(default="")

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", compute_content_hash(self))


def _payload(article: Article) -> dict[str, Any]:
    """The fields whose change means the story changed (not timestamps we derive ourselves)."""
    # The same dict dataclasses.asdict gives, built without its deep copies (5x faster, and
    # this runs for every parsed entry). tests/test_model.py holds it to asdict's result.
    data = {f.name: getattr(article, f.name) for f in fields(article)
            if f.name not in ("first_seen", "content_hash", "fingerprint")}
    for name in ("authors", "contributors", "images", "enclosures"):
        data[name] = [dict(vars(item)) for item in data[name]]
    data["categories"] = list(data["categories"])
    for name in ("published", "updated"):
        value = data[name]
        data[name] = value.isoformat() if value else None
    return data


def compute_content_hash(article: Article) -> str:
    """A hash of everything a reader sees, to detect changed entries."""
    blob = json.dumps(_payload(article), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Stored:
    """An article as stored, with the source it belongs to."""

    source_id: str
    article: Article

    @property
    def effective_updated(self) -> datetime:
        """When the entry last changed, for Atom ``updated`` (RFC 4287 §4.2.15)."""
        a = self.article
        return a.updated or a.published or a.first_seen or datetime.fromtimestamp(0, UTC)

    @property
    def sort_date(self) -> datetime:
        a = self.article
        return a.published or a.first_seen or datetime.fromtimestamp(0, UTC)
