"""Existing feeds (RSS 0.9x/1.0/2.0, RDF, Atom 0.3/1.0, JSON Feed) -> articles, via feedparser.

feedparser is tolerant: a feed with errors sets ``bozo`` and still yields what it could read.
We fail a source only when nothing feed-like came out; partial data beats a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any
from urllib.parse import urlsplit

from feeds.errors import ParseError
from feeds.extract.chinese import clean_text, convert
from feeds.extract.dates import parse_feed_date
from feeds.model import Article, Enclosure, Image, Person
from feeds.rows import Folding
from feeds.sanitize import html_to_text, one_line, sanitize_html, sanitized_text, shorten
from feeds.urls import canonical_url, join_url

log = logging.getLogger(__name__)

SUMMARY_CHARS = 600
HTML_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
# Media types of files feeds attach that Python's own table lacks; theirs is used otherwise
# (mimetypes.MimeTypes() without /etc/mime.types, so the guess is the same on every machine).
MEDIA_TYPES = {".m4a": "audio/mp4", ".m4b": "audio/mp4", ".oga": "audio/ogg",
               ".ogg": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac",
               ".m4v": "video/mp4", ".mkv": "video/x-matroska", ".webp": "image/webp",
               ".epub": "application/epub+zip"}
# A media:thumbnail no larger than this (both sides) is a person's avatar, not the item's.
AVATAR_PIXELS = 64


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document gave."""

    title: str | None
    link: str | None
    articles: tuple[Article, ...]
    ttl_minutes: int | None = None
    warning: str | None = None
    # With FeedContext.fold: each article's folded text for the topic index, in order.
    folded: tuple[str, ...] | None = None

    @property
    def site_link(self) -> str | None:
        """The feed's own link, if it is one a feed may point readers to (http or https)."""
        return self.link if self.link and self.link.startswith(("http://", "https://")) else None

    def folded_by_key(self) -> dict[str, str] | None:
        """Each article's folded text by its key (what Store.upsert's ``folded`` takes)."""
        if self.folded is None:
            return None
        return dict(zip((a.key for a in self.articles), self.folded, strict=True))


@dataclass(frozen=True)
class FeedContext:
    """What parsing needs to know about the source."""

    source_id: str
    url: str
    timezone: tzinfo
    language: str | None = None
    convert: str | None = None
    # Set when a cycle folds each article for the topic index where it is parsed
    # (feeds.folding.fold_article), instead of reading it back later.
    fold: Folding | None = None


def parse_feed(body: bytes, context: FeedContext, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document; raise ParseError if it holds nothing feed-like."""
    if _looks_json(body, content_type):
        parsed: Mapping[str, Any] = _json_feed(body, context)
    else:
        # Plain RSS 2.0 and Atom 1.0 take lxml's fast path (same articles, tests/test_fastpath.py).
        # Imported here: a process that only polls 304s, or hands parsing to worker
        # processes (feeds.poll.ParsePool), never loads feedparser, lxml or charset_normalizer.
        from feeds.sources.fastfeed import parse_plain_feed

        parsed = parse_plain_feed(body, context.url, content_type) or _xml_feed(
            body, context, content_type)
    warning = None
    if parsed.get("bozo"):
        warning = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    return _finish(parsed, context, body, warning)


@dataclass(frozen=True)
class ParseFailure:
    """A ParseError as a worker process sends it back (exceptions with required arguments do
    not survive pickling)."""

    source_id: str
    url: str
    message: str


def parse_feed_outcome(body: bytes, context: FeedContext, content_type: str | None = None
                       ) -> ParsedFeed | ParseFailure:
    """:func:`parse_feed` for a worker process: a ParseError comes back as a value."""
    try:
        return parse_feed(body, context, content_type)
    except ParseError as e:
        return ParseFailure(e.source_id, e.url, e.message)


def _xml_feed(body: bytes, context: FeedContext, content_type: str | None) -> Mapping[str, Any]:
    headers = {"content-location": context.url}
    import feedparser

    from feeds.encoding import feed_charset_override

    override = feed_charset_override(body, content_type)
    if override:
        headers["content-type"] = f"application/xml; charset={override}"
    else:
        # Local files carry no type; XML rules (the declaration, then UTF-8) apply.
        headers["content-type"] = content_type or "application/xml"
    try:
        parsed_: Mapping[str, Any] = feedparser.parse(
            body,
            response_headers=headers,
            sanitize_html=False,  # nh3 sanitizes once, below
            resolve_relative_uris=False,  # our sanitizer makes URLs absolute
        )
    except Exception as e:  # feedparser's contract is not to raise; be safe if it does
        raise ParseError(context.source_id, context.url, f"feed parser crashed: {e!r}") from e
    return parsed_


def _looks_json(body: bytes, content_type: str | None) -> bool:
    """The body decides; the type only when the body is neither XML-like nor JSON-like."""
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"<"):
        return first == b"{"
    return bool(content_type) and "json" in (content_type or "").lower()


def _json_feed(body: bytes, context: FeedContext) -> dict[str, Any]:
    """A JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) in feedparser's shape.

    feedparser 6 reads only XML, so JSON Feed is mapped here onto the keys ``_article`` reads.
    """
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ParseError(context.source_id, context.url, f"not a feed (bad JSON: {e})") from e
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError(context.source_id, context.url,
                         "not a feed (JSON without a jsonfeed.org version); check the URL")
    items = data.get("items")
    entries = [_json_item(item) for item in items if isinstance(item, dict)] if isinstance(
        items, list) else []
    return {
        "version": "json1",
        "feed": {"title": _json_str(data.get("title")),
                 "link": _json_str(data.get("home_page_url")),
                 "language": _json_str(data.get("language")),
                 "authors": _json_authors(data)},
        "entries": entries,
    }


def _json_authors(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A feed's or an item's authors: 1.1's ``authors``, else 1.0's single ``author``."""
    authors = data.get("authors")
    if not isinstance(authors, list):
        authors = [data.get("author")]
    return [{"name": _json_str(a.get("name")) or "", "href": _json_str(a.get("url"))}
            for a in authors if isinstance(a, dict)]


def _json_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_id(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are strings by the spec, numbers in practice
    return _json_str(value)


def _json_item(item: Mapping[str, Any]) -> dict[str, Any]:
    tags = item.get("tags")
    tags = tags if isinstance(tags, list) else []
    attachments = item.get("attachments")
    attachments = attachments if isinstance(attachments, list) else []
    content = []
    for key, kind in (("content_html", "text/html"), ("content_text", "text/plain")):
        if _json_str(item.get(key)):
            content.append({"value": item[key], "type": kind})
    entry: dict[str, Any] = {
        "id": _json_id(item.get("id")),
        "link": _json_str(item.get("url")) or _json_str(item.get("external_url")),
        "title": _json_str(item.get("title")) or "",
        "content": content,
        "published": _json_str(item.get("date_published")),
        "updated": _json_str(item.get("date_modified")),
        "authors": _json_authors(item),
        "tags": [{"term": t} for t in tags if isinstance(t, str)],
        "enclosures": [{"href": _json_str(a.get("url")), "type": _json_str(a.get("mime_type")),
                        "length": _json_id(a.get("size_in_bytes"))}
                       for a in attachments if isinstance(a, dict)],
        "language": _json_str(item.get("language")),
    }
    if _json_str(item.get("summary")):
        entry["summary_detail"] = {"value": item["summary"], "type": "text/plain"}
    image = _json_str(item.get("image"))
    if image:
        entry["media_content"] = [{"url": image, "medium": "image"}]
    return entry


# Entries read from one feed document: a full archive has a few thousand; a hostile feed
# of a million small items (10 MB) would otherwise cost a poll minutes and gigabytes.
MAX_ENTRIES = 5000


def _newest(entries: Sequence[Mapping[str, Any]], context: FeedContext
            ) -> list[Mapping[str, Any]]:
    """The MAX_ENTRIES newest of ``entries`` (undated ones count as newest), in their order."""
    def when(entry: Mapping[str, Any]) -> float:
        date = parse_feed_date(entry.get("published"), entry.get("published_parsed"),
                               context.timezone) or parse_feed_date(
            entry.get("updated"), entry.get("updated_parsed"), context.timezone)
        return date.timestamp() if date is not None else float("inf")

    stamps = [when(e) for e in entries]
    keep = set(sorted(range(len(entries)), key=lambda i: -stamps[i])[:MAX_ENTRIES])
    return [e for i, e in enumerate(entries) if i in keep]


def _finish(parsed: Mapping[str, Any], context: FeedContext, body: bytes,
            warning: str | None) -> ParsedFeed:
    if not parsed.get("version") and not parsed.get("entries"):
        looks_html = body.lstrip()[:200].lower().startswith((b"<!doctype html", b"<html"))
        hint = ("it looks like a web page: an error page if this feed worked before, else a "
                "site without a feed at this URL (then use 'page:' instead of 'url:')"
                ) if looks_html else "check the URL; the response is not RSS, Atom or JSON Feed"
        what = warning or ("an empty body" if not body.strip() else "no feed elements found")
        raise ParseError(context.source_id, context.url, f"not a feed ({what}); {hint}")
    feed = parsed.get("feed", {})
    language = context.language or _language(feed.get("language"))
    entries = parsed.get("entries", [])
    if len(entries) > MAX_ENTRIES:
        log.warning("%s: the feed has %d entries; only its newest %d are read",
                    context.source_id, len(entries), MAX_ENTRIES)
        entries = _newest(entries, context)
    literal = str(parsed.get("version") or "").startswith("atom")
    guid_counts = Counter(e.get("id") for e in entries if e.get("id"))
    links = [_link(e, context.url) for e in entries]
    link_counts = Counter(links)
    feed_authors = _feed_persons(feed.get("authors") or (), context.convert)
    articles: list[Article] = []
    seen: set[str] = set()
    for entry, link in zip(entries, links, strict=True):
        article = _article(entry, context, language, guid_counts, link_counts, link, literal,
                           feed_authors)
        if article is None or article.key in seen:
            continue
        seen.add(article.key)
        articles.append(article)
    ttl = feed.get("ttl")
    folded = None
    if context.fold is not None:
        from feeds.folding import fold_article

        folded = tuple(fold_article(a, context.fold.fields) for a in articles)
    return ParsedFeed(
        title=_construct(feed, "title", context.convert, literal) or None,
        link=feed.get("link"),
        articles=tuple(articles),
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        warning=warning,
        folded=folded,
    )


def _language(value: Any) -> str | None:
    return value.strip()[:35] if isinstance(value, str) and value.strip() else None


def _text(value: Any, conversion: str | None) -> str:
    return convert(clean_text(one_line(value if isinstance(value, str) else "")), conversion)


def _construct(item: Mapping[str, Any], key: str, conversion: str | None, literal: bool) -> str:
    """A title as text. Markup in an HTML one is dropped. With ``literal`` (an Atom feed, whose
    ``type="text"`` says so), a plain-text one is kept as written, ``std::vector<bool>`` and
    all (feedparser has decoded its entities); an RSS title is ambiguous, and escaped markup
    in one is nearly always meant as markup."""
    value = item.get(key)
    detail = item.get(f"{key}_detail") or {}
    if literal and isinstance(value, str) and detail.get("type") == "text/plain":
        return convert(clean_text(" ".join(value.split())), conversion)
    return _text(value, conversion)


def _link(entry: Mapping[str, Any], base: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = join_url(base, link.strip())
    return absolute if absolute.startswith(("http://", "https://")) else None


def _html_of(detail: Mapping[str, Any]) -> tuple[str, str | None]:
    """(HTML, base URL) of a feedparser text construct; plain text is escaped into HTML."""
    value = detail.get("value") or ""
    kind = (detail.get("type") or "text/html").lower()
    if not any(t in kind for t in HTML_TYPES):
        from html import escape

        value = "<p>" + escape(value).replace("\n\n", "</p><p>") + "</p>" if value else ""
    return value, detail.get("base")


def _persons(items: Iterable[Mapping[str, Any]], conversion: str | None) -> tuple[Person, ...]:
    out: list[Person] = []
    for item in items:
        name = _text(item.get("name"), conversion)
        email = item.get("email") or None
        if not name and email:
            name = email
        if name and not any(p.name == name for p in out):
            out.append(Person(name=name[:200], email=email, uri=item.get("href") or None))
    return tuple(out)


def _feed_persons(items: Iterable[Mapping[str, Any]], conversion: str | None
                  ) -> tuple[Person, ...]:
    """The feed's own authors (Atom feed ``author``, JSON Feed ``author(s)``, RSS channel
    ``managingEditor``, ``itunes:author``, ``dc:creator``), for entries that name none.

    Only named ones, and without their email: feedparser gives a channel's author the
    ``itunes:owner`` address (meant for the podcast directory, not for readers), and this
    person is copied onto every entry."""
    return _persons(({"name": i.get("name"), "href": i.get("href")} for i in items
                     if i.get("name")), conversion)


def _guess_type(url: str) -> str | None:
    """The media type a URL's file extension suggests (the query does not count)."""
    path = urlsplit(url).path
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    extension = path[dot:].lower()
    return MEDIA_TYPES.get(extension) or _mime_table().guess_type("x" + extension,
                                                                  strict=False)[0]


_MIME_TABLE: list[mimetypes.MimeTypes] = []


def _mime_table() -> mimetypes.MimeTypes:
    if not _MIME_TABLE:
        _MIME_TABLE.append(mimetypes.MimeTypes())
    return _MIME_TABLE[0]


def _enclosure(url: str, kind: Any, length: Any) -> Enclosure:
    # RSS 2.0 requires the type and Atom readers need one; a file a podcast host links
    # without it is named by its extension (RFC 4287 4.2.7.3 makes it advisory anyway).
    kind = kind.strip() if isinstance(kind, str) else None
    return Enclosure(url=url, type=kind or _guess_type(url) or "application/octet-stream",
                     length=int(length) if str(length or "").isdigit() else None)


def _media_kind(media: Mapping[str, Any]) -> tuple[str, str]:
    """(medium, type) of a Media RSS ``media:content``, lower case, a missing type guessed."""
    medium = str(media.get("medium") or "").strip().lower()
    kind = str(media.get("type") or "").strip().lower()
    return medium, kind or (_guess_type(str(media.get("url") or "")) or "")


def _enclosures(entry: Mapping[str, Any], base: str) -> tuple[Enclosure, ...]:
    out: list[Enclosure] = []
    for item in entry.get("enclosures", []):
        href = item.get("href")
        if not href:
            continue
        url = join_url(base, href)
        if not url.startswith(("http://", "https://")) or any(e.url == url for e in out):
            continue
        out.append(_enclosure(url, item.get("type"), item.get("length")))
    if out:
        return tuple(out)
    # Media RSS (video sites, news agencies) attaches its audio and video as media:content,
    # alone or as the alternatives of a media:group, which feedparser lists alike.
    for media in entry.get("media_content", []):
        medium, kind = _media_kind(media)
        if not media.get("url") or not (medium in ("audio", "video")
                                        or kind.startswith(("audio/", "video/"))):
            continue
        url = join_url(base, media["url"])
        if url.startswith(("http://", "https://")) and all(e.url != url for e in out):
            out.append(_enclosure(url, media.get("type"), media.get("filesize")))
    return tuple(out)


def _is_avatar(media: Mapping[str, Any]) -> bool:
    """A thumbnail showing who posted (GitHub's 30-pixel avatars), not what was posted."""
    sizes = [str(media.get(side) or "") for side in ("width", "height")]
    small = all(s.isdigit() and int(s) <= AVATAR_PIXELS for s in sizes)
    return small or "avatar" in str(media.get("url") or "").lower()


def _images(
    entry: Mapping[str, Any], enclosures: Iterable[Enclosure], base: str
) -> tuple[Image, ...]:
    media_content = entry.get("media_content")
    thumbnails = entry.get("media_thumbnail")
    if not media_content and not thumbnails:  # most entries: only image enclosures, if any
        return tuple(Image(url=e.url) for e in enclosures if (e.type or "").startswith(
            "image/") and e.url.startswith(("http://", "https://")))
    media_images = []
    for media in media_content or ():
        medium, kind = _media_kind(media)
        # A media:content is an image only when it says so (or its file does): YouTube's
        # has no medium and is the Flash player.
        if medium == "image" or (medium in ("", "image") and kind.startswith("image/")):
            media_images.append(media)
    thumbnails = thumbnails or []
    # The item's own pictures first (images[0] is what readers show), avatars last.
    ordered = [*media_images, *(t for t in thumbnails if not _is_avatar(t)),
               *(t for t in thumbnails if _is_avatar(t))]
    urls = [join_url(base, m["url"]) for m in ordered if m.get("url")]
    urls += [e.url for e in enclosures if (e.type or "").startswith("image/")]
    return tuple(Image(url=u) for u in dict.fromkeys(urls) if u.startswith(("http://", "https://")))


def _is_html(detail: Mapping[str, Any]) -> bool:
    kind: str = detail.get("type") or "text/html"
    if kind in ("text/html", "text/plain"):  # nearly always, from feedparser and the fast path
        return kind == "text/html"
    kind = kind.lower()
    return any(t in kind for t in HTML_TYPES)


def _body(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The text construct that is the entry's body.

    The richest HTML among the content and the summary: feedparser also files plain-text
    descriptions of attached media (``media:description``, ``itunes:summary``) under
    ``content``, and those must not replace the post's HTML (a toot's image alt text, a
    podcast's plain summary beside its show notes). Plain text only when nothing is HTML;
    at equal length the content wins.
    """
    summary: Mapping[str, Any] = entry.get("summary_detail") or {}
    if not entry.get("content"):  # most RSS items: a description only
        return summary if summary.get("value") else None
    contents: list[Mapping[str, Any]] = [c for c in entry["content"] if c.get("value")]
    candidates = [*contents, summary] if summary.get("value") else contents
    html = [c for c in candidates if _is_html(c)]
    if html:
        return max(html, key=lambda c: len(c["value"]))
    if contents:
        return max(contents, key=lambda c: len(c["value"]))
    return summary or None


def _article(
    entry: Mapping[str, Any],
    context: FeedContext,
    language: str | None,
    guid_counts: Counter[Any],
    link_counts: Counter[str | None],
    link: str | None,
    literal: bool = False,
    feed_authors: tuple[Person, ...] = (),
) -> Article | None:
    conversion = context.convert
    base = link or context.url
    title = _construct(entry, "title", conversion, literal)
    summary_detail = entry.get("summary_detail") or {}
    body = _body(entry)
    raw_html, content_base = _html_of(body) if body else ("", None)
    # xml:base wins. feedparser reports the document's own URL as the base when there is no
    # xml:base; the entry's link is the better base then (a feed served from a CDN or
    # feedburner holds links relative to the site), and a local file's URL is no base at all.
    if (not content_base or content_base == context.url
            or not content_base.startswith(("http://", "https://"))):
        content_base = base
    content_html = convert(clean_text(sanitize_html(raw_html, content_base)), conversion)
    text = sanitized_text(content_html)
    summary_source = summary_detail.get("value") if summary_detail else None
    summary = ""
    if summary_source:
        summary = convert(clean_text(html_to_text(summary_source)), conversion)
    summary = shorten(summary or text, SUMMARY_CHARS)
    if not title and not text and not link:
        return None
    if not title:
        title = shorten(" ".join(text.split()), 80) if text else (link or "")
    guid = entry.get("id")
    canonical = canonical_url(link) if link else None
    stripped = guid.strip()[:2000] if isinstance(guid, str) and guid.strip() else None
    # The key (DESIGN): the GUID if unique in this document, else the URL if unique, else a
    # hash. Uniqueness can change from one poll to the next (a publisher reuses a GUID), so
    # the others travel along: the store keeps whichever it already holds the story under.
    alt_keys: tuple[str, ...]
    if stripped and guid_counts[guid] == 1:
        key, alt_keys = stripped, (canonical[:2000],) if canonical else ()
    elif canonical and link_counts[link] == 1:
        key, alt_keys = canonical, (stripped,) if stripped else ()
    else:
        digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:24]
        key = f"sha256:{digest}"
        alt_keys = tuple(k[:2000] for k in (stripped, canonical) if k)
    # An entry naming no author is the feed's (or, copied from another feed, its source's).
    authors = _persons(entry.get("authors") or ([entry["author_detail"]] if entry.get(
        "author_detail") else []), conversion) or _feed_persons(
        (entry.get("source") or {}).get("authors") or (), conversion) or feed_authors
    enclosures = _enclosures(entry, base)
    updated = parse_feed_date(entry.get("updated"), entry.get("updated_parsed"), context.timezone)
    # RSS 1.0's dc:date and an Atom entry with only <updated> give one date: the publication.
    published = parse_feed_date(entry.get("published"), entry.get("published_parsed"),
                                context.timezone) or updated
    categories = tuple(
        dict.fromkeys(
            _text(t.get("term") or t.get("label"), conversion)[:100]
            for t in entry.get("tags", [])
            if (t.get("term") or t.get("label"))
        )
    )
    return Article(
        key=key[:2000],
        alt_keys=alt_keys,
        url=link,
        canonical_url=canonical,
        title=title[:1000],
        summary=summary or None,
        content_html=content_html or None,
        text=text or None,
        published=published,
        updated=updated if updated and updated != published else None,
        authors=authors,
        contributors=_persons(entry["contributors"], conversion) if entry.get(
            "contributors") else (),
        categories=tuple(c for c in categories if c),
        # RSS <source>新华社</source>, or the feed an Atom entry was copied from.
        source_name=_text((entry.get("source") or {}).get("title"), conversion)[:200] or None,
        language=_language(entry.get("language")) or language,
        images=_images(entry, enclosures, base),
        enclosures=enclosures,
    )
