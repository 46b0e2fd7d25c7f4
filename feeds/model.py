"""The article model every source kind fills. Frozen dataclasses, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime


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


def _s(value: str | None) -> str:
    """A string field in a self-delimiting form: its length first, so no content can imitate
    a field boundary; None differs from every string."""
    return "N" if value is None else f"{len(value)}:{value}"


def _date(value: datetime | None) -> str:
    # The written offset counts: 08:00+00:00 and 16:00+08:00 are equal datetimes.
    return _s(value.isoformat() if value is not None else None)


def _payload(article: Article) -> str:
    """The fields whose change means the story changed (not timestamps we derive ourselves),
    as one unambiguous string: equal articles give equal strings, any field change another.

    Spelled out field by field (a generic walk over ``fields`` cost twice as much);
    tests/test_model.py changes every field of every kind and checks the hash follows.
    """
    a = article
    parts = [_s(a.key), _s(a.url), _s(a.canonical_url), _s(a.title), _s(a.summary),
             _s(a.content_html), _s(a.text), _date(a.published), _date(a.updated),
             _s(a.source_name), _s(a.language), f"#{len(a.categories)};"]
    parts += [_s(c) for c in a.categories]
    for group in (a.authors, a.contributors):
        parts.append(f"#{len(group)};")
        parts += [_s(p.name) + _s(p.email) + _s(p.uri) for p in group]
    parts.append(f"#{len(a.images)};")
    parts += [_s(i.url) + _s(i.caption) for i in a.images]
    parts.append(f"#{len(a.enclosures)};")
    parts += [_s(e.url) + _s(e.type) + ("N" if e.length is None else f"{e.length};")
              for e in a.enclosures]
    return "".join(parts)


def compute_content_hash(article: Article) -> str:
    """A hash of everything a reader sees, to detect changed entries."""
    # A length-prefixed string and SHA-256: a third of the cost of the JSON form it replaced
    # (it runs for every parsed entry). Stored hashes changed once with it.
    blob = _payload(article).encode("utf-8", "surrogatepass")
    return hashlib.sha256(blob).hexdigest()[:32]


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
