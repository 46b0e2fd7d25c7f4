"""The article model every source kind fills. Frozen dataclasses, no I/O."""

from __future__ import annotations

import hashlib
from array import array
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
    # The story's other identities in its source (its GUID or URL, when one was not unique
    # in the document and so not the key): a store that holds the story under one of them
    # keeps that key (feeds.rows.upsert_rows). Not part of the content hash.
    alt_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", compute_content_hash(self))


def _payload(article: Article) -> bytes:
    """The fields whose change means the story changed (not timestamps we derive ourselves),
    in one unambiguous form: equal articles give equal bytes, any field change other bytes.

    The item counts and every value's length (-1 for None) come first, as 64-bit integers,
    then the values concatenated in UTF-8: the counts fix which value is which, the lengths
    where each ends, so no content can imitate a boundary. Spelled out field by field (a
    generic walk over ``fields`` cost twice as much); tests/test_model.py changes every field
    of every kind and checks the hash follows.
    """
    a = article
    values = [a.key, a.url, a.canonical_url, a.title, a.summary, a.content_html, a.text,
              # The written offset counts: 08:00+00:00 and 16:00+08:00 are equal datetimes.
              a.published.isoformat() if a.published is not None else None,
              a.updated.isoformat() if a.updated is not None else None,
              a.source_name, a.language, *a.categories]
    for person in (*a.authors, *a.contributors):
        values += (person.name, person.email, person.uri)
    for image in a.images:
        values += (image.url, image.caption)
    for enclosure in a.enclosures:
        values += (enclosure.url, enclosure.type,
                   None if enclosure.length is None else str(enclosure.length))
    header = array("q", (len(a.categories), len(a.authors), len(a.contributors), len(a.images),
                         len(a.enclosures)))
    header.extend([-1 if v is None else len(v) for v in values])
    return header.tobytes() + "".join([v for v in values if v]).encode("utf-8", "surrogatepass")


def compute_content_hash(article: Article) -> str:
    """A hash of everything a reader sees, to detect changed entries."""
    # Counts, lengths and values, and SHA-256: a third of the cost of the JSON form it replaced
    # (it runs for every parsed entry). Stored hashes changed once with it.
    return hashlib.sha256(_payload(article)).hexdigest()[:32]


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
