"""Feed documents from the article model: Atom (feedgen), RSS 2.0 and JSON Feed, and atomic writes.

Every feed is meant to pass the W3C Feed Validator with no errors and no warnings:
a ``rel="self"`` link from ``output.base_url`` (MissingSelf), an author (RFC 4287 §4.1.1),
``urn:uuid`` ids that never change (§4.2.6), and an ``updated`` that is the newest entry's,
so the bytes, and the file, change only when an entry does.

This module imports neither the config nor the store, so that a worker process can render
feeds (:mod:`feeds.worker`) without loading them.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import queue
import re
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from feeds import PROJECT_URL, __version__
from feeds.extract.chinese import convert
from feeds.model import Article, Person, Stored
from feeds.urls import uri_safe, without_tracking

ID_NAMESPACE = uuid.UUID("6f1c1d0e-4c55-4f3e-9a51-8a5d1e0b7c21")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes
# XML 1.0 forbids most control characters; one in a scraped title would break the whole feed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[A-Za-z]{2,}$")
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def language_tag(value: str | None) -> str | None:
    """A BCP 47 tag for xml:lang (``zh_CN`` -> ``zh-CN``); None if it cannot be one.

    An invalid xml:lang makes the whole feed fail the Atom schema, so it is dropped instead.
    """
    tag = (value or "").strip().replace("_", "-")
    return tag if _LANGUAGE_TAG.match(tag) else None


def xml_safe(text: str | None) -> str:
    return _XML_INVALID.sub("", text) if text else ""


def entry_id(source_id: str, key: str) -> str:
    """The Atom id of a stored article: stable for (source, key), a valid URI.

    ``uuid.uuid5(ID_NAMESPACE, f"{source_id}\\n{key}")`` (tests hold them equal), spelled
    out: the UUID object costs four times the hash, once per entry of every feed written.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source_id}\n{key}".encode(),
                                    usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def feed_id(kind: str, ident: str) -> str:
    name = f"feed\n{kind}\n{ident}"
    return f"urn:uuid:{uuid.uuid5(ID_NAMESPACE, name)}"


@dataclass(frozen=True)
class FeedSpec:
    """One feed to write: where, what it is called, and its entries newest first."""

    kind: str  # "sources", "topics", or a single file name such as "all"
    ident: str
    title: str
    entries: Sequence[Stored]
    subtitle: str | None = None
    site_link: str | None = None
    language: str | None = None
    conversion: str | None = None

    @property
    def relative_path(self) -> str:
        return self.path_for("atom")

    def path_for(self, fmt: str) -> str:
        """Where this feed's ``fmt`` ("atom", "rss" or "json") file goes under output/."""
        return feed_path(self.kind, self.ident, fmt)


def feed_path(kind: str, ident: str, fmt: str) -> str:
    """Where the ``fmt`` file of feed ``ident`` of ``kind`` goes under output/."""
    return f"{kind}/{ident}.{fmt}" if kind else f"{ident}.{fmt}"


def newest(entries: Sequence[Stored]) -> datetime | None:
    """The newest date of a feed's entries (its FeedSummary and index.html row)."""
    return max((max(s.effective_updated, s.sort_date) for s in entries), default=None)


def source_feed(ident: str, title: str | None, known_title: str | None,
                known_link: str | None, page: str | None, language: str | None,
                conversion: str | None) -> FeedSpec:
    """The feed of one source without its entries: ``title`` is the configured one, and
    ``known_title`` and ``known_link`` the publisher's own, as last polled."""
    name = title or known_title or ident
    return FeedSpec(
        kind="sources",
        ident=ident,
        title=name,
        subtitle=f"{name}, via feeds",
        entries=(),
        site_link=known_link or (page if page and page.startswith("http") else None),
        language=language_tag(language),
        conversion=conversion,
    )


# Text that a reader (and the W3C validator: ContainsUndeclaredHTML) would take for markup.
_LOOKS_LIKE_MARKUP = re.compile(r"<[A-Za-z/!?]|&[A-Za-z]+;|&#")


ATOM = "{http://www.w3.org/2005/Atom}"


def _children(parent: Any, names: tuple[str, ...]) -> Any:
    """The children of ``parent`` named ``names``, in the Atom namespace or none (feedgen
    builds entries without one); lxml filters them in C."""
    return parent.iterchildren(*names, *(ATOM + n for n in names))


def _declare_text(parent: Any, names: tuple[str, ...]) -> None:
    """Make text constructs that look like markup ``type="html"``, escaped, so that readers
    show the characters instead of interpreting them (RFC 4287 §3.1.1)."""
    for element in _children(parent, names):
        text = element.text
        if text and element.get("type", "text") == "text" and _LOOKS_LIKE_MARKUP.search(text):
            element.set("type", "html")
            element.text = html.escape(text, quote=False)


class _Feed(FeedGenerator):  # type: ignore[misc]
    def _create_atom(self, extensions: bool = True) -> Any:
        feed, document = super()._create_atom(extensions)
        _declare_text(feed, ("title", "subtitle"))
        return feed, document


class _Entry(FeedEntry):  # type: ignore[misc]
    """feedgen 1.0 drops rel/type/length from entry links in Atom (feedgen #135, #143);
    without them an enclosure turns into a second alternate link (DuplicateAtomLink)."""

    def atom_entry(self, extensions: bool = True) -> Any:
        entry = super().atom_entry(extensions)
        links = self.link() or []
        for element, link in zip(_children(entry, ("link",)), links, strict=False):
            for name in ("rel", "type", "length", "hreflang", "title"):
                if link.get(name) not in (None, ""):
                    element.set(name, str(link[name]))
        summary = self.summary()  # feedgen keeps it as {"summary": text, "type": ...}
        texts = (self.title(), summary.get("summary") if isinstance(summary, dict) else summary)
        if any(isinstance(t, str) and _LOOKS_LIKE_MARKUP.search(t) for t in texts):
            _declare_text(entry, ("title", "summary"))  # only then: it walks the elements
        return entry


def _person(person: Person, conversion: str | None) -> dict[str, str]:
    out = {"name": xml_safe(convert(person.name, conversion)) or "unknown"}
    if person.email and _EMAIL.match(person.email):
        out["email"] = person.email
    if person.uri and person.uri.startswith(("http://", "https://")):
        out["uri"] = person.uri
    return out


def _bylines(article: Article) -> tuple[Person, ...]:
    """Who an entry is by: its authors; without any, the source line's name (来源：新华社, a
    news agency or the paper a site reprints), which readers then show as the byline."""
    if article.authors or not article.source_name:
        return article.authors
    return (Person(article.source_name),)


def _entry_updated(stored: Stored) -> datetime:
    """An entry's ``updated``: never before its ``published`` (some publishers send that)."""
    published = stored.article.published or stored.article.first_seen
    updated = stored.effective_updated
    return max(updated, published) if published else updated


# A picture in content as a reader shows it: an <img> or a <video> poster. The content was
# written by nh3 (feeds.sanitize): attributes double-quoted, `"` escaped inside them.
_CONTENT_PICTURE = re.compile(r'<(?:img|video)\b([^>"]*(?:"[^"]*"[^>"]*)*)>')
_PICTURE_URL = re.compile(r'\s(?:src|poster)="([^"]*)"')
# A tracking pixel (WordPress.com's, FeedBurner's) is no picture to a reader.
_PIXEL = re.compile(r'\s(?:width|height)="[01]"')
# A person's picture (GitHub's avatars.githubusercontent.com, Gravatar's /avatar/, Mastodon's
# /accounts/avatars/) says who posted, not what: no picture to lead an entry with.
_AVATAR = re.compile(r"(?i)[/.]avatars?[/.]")


def _resolved(base: str | None, url: str) -> str:
    try:
        return urljoin(base or "", url.strip())
    except ValueError:
        return url


def lead_image(article: Article, content: str, conversion: str | None) -> str:
    """The entry's first picture (``article.images``, from media:thumbnail or media:content)
    as HTML to put above ``content``; "" when the content shows a picture already.

    Atom and RSS have no field for an entry's picture (JSON Feed's ``image`` is not shown by
    every reader), so a YouTube video or a Mastodon post with media would show none. The
    picture is never one the content holds already (URLs compared resolved), nor an avatar.
    """
    if not article.images:
        return ""
    held: set[str] = set()
    if "<img" in content or "<video" in content:
        for match in _CONTENT_PICTURE.finditer(content):
            found = _PICTURE_URL.search(match.group(1))
            if found is None:
                continue
            if not _PIXEL.search(match.group(1)):
                return ""
            held.add(uri_safe(_resolved(article.url, html.unescape(found.group(1)))))
    for image in article.images:
        url = xml_safe(uri_safe(_resolved(article.url, image.url)))
        if (url.startswith(("http://", "https://")) and url not in held
                and not _AVATAR.search(url)):
            alt = xml_safe(convert(image.caption or "", conversion))
            return f'<p><img src="{html.escape(url)}" alt="{html.escape(alt)}"></p>'
    return ""


def _with_lead_image(article: Article, content: str, summary: str,
                     conversion: str | None) -> str:
    """``content`` with :func:`lead_image` on top; an entry with only a summary gets the
    picture above the summary's text."""
    lead = lead_image(article, content, conversion)
    if not lead:
        return content
    if content:
        return lead + content
    return lead + ("<p>" + html.escape(summary, quote=False) + "</p>" if summary else "")


def _add_entry(fg: FeedGenerator, stored: Stored, conversion: str | None) -> None:
    article: Article = stored.article
    entry = _Entry()
    fg.add_entry(entry, order="append")
    c = conversion
    entry.id(entry_id(stored.source_id, article.key))
    entry.title(xml_safe(convert(article.title, c)) or "(untitled)")
    if article.url:
        entry.link(href=uri_safe(without_tracking(article.url)), rel="alternate",
                   type="text/html")
    for enclosure in article.enclosures:
        link: dict[str, Any] = {"href": uri_safe(enclosure.url), "rel": "enclosure"}
        if enclosure.type:
            link["type"] = enclosure.type
        # RFC 4287 §4.2.7.6: length is advisory; 0 means unknown to most readers.
        link["length"] = str(enclosure.length or 0)
        entry.link(**link)
    published = article.published or article.first_seen
    entry.updated(_entry_updated(stored))
    if published:
        entry.published(published)
    authors = [_person(p, c) for p in _bylines(article)]
    if authors:
        entry.author(authors)
    for contributor in article.contributors:
        entry.contributor(_person(contributor, c))
    for category in article.categories:
        term = xml_safe(convert(category, c))
        if term:
            entry.category(term=term)
    content = xml_safe(convert(article.content_html or "", c))
    summary = xml_safe(convert(article.summary or "", c))
    if not content and not article.url:
        # RFC 4287 §4.1.1: an entry needs an alternate link or content; feedgen raises
        # without one, which would stop every feed from being written.
        content = "<p>" + html.escape(summary or xml_safe(convert(article.title, c))) + "</p>"
    content = _with_lead_image(article, content, summary, c)
    if content:
        entry.content(content, type="html")
    if summary:
        entry.summary(summary)
    elif not content:
        entry.summary(xml_safe(convert(article.title, c)) or "(no text)")


def render_atom(spec: FeedSpec, base_url: str, author: str, empty_updated: datetime) -> bytes:
    """The Atom document for ``spec``: same entries in, same bytes out."""
    fg = _Feed()
    c = spec.conversion
    fg.id(feed_id(spec.kind, spec.ident))
    fg.title(xml_safe(convert(spec.title, c)) or spec.ident)
    if spec.subtitle:
        fg.subtitle(xml_safe(convert(spec.subtitle, c)))
    fg.author({"name": author, "uri": base_url})
    fg.link(href=base_url + spec.relative_path, rel="self", type="application/atom+xml")
    if spec.site_link and spec.site_link.startswith(("http://", "https://")):
        fg.link(href=spec.site_link, rel="alternate", type="text/html")
    fg.generator("feeds", version=__version__, uri=PROJECT_URL)
    if spec.language:
        fg.language(spec.language)
    # The feed changed when its newest entry did: the same value that entry shows.
    updated = max((_entry_updated(s) for s in spec.entries), default=empty_updated)
    fg.updated(updated)
    for stored in spec.entries:
        _add_entry(fg, stored, c)
    data: bytes = fg.atom_str(pretty=True, encoding="utf-8")
    return data


def _site_link(spec: FeedSpec, base_url: str) -> str:
    """Where a reader's "visit site" goes: the source's page, else the index of all feeds."""
    if spec.site_link and spec.site_link.startswith(("http://", "https://")):
        return spec.site_link
    return base_url


def render_rss(spec: FeedSpec, base_url: str, author: str, empty_updated: datetime) -> bytes:
    """The RSS 2.0 document for ``spec``, from the same model as the Atom one.

    What the W3C validator wants of RSS beyond the spec: an ``atom:link rel="self"``
    (MissingAtomSelfLink), a ``guid`` on every item (here ``isPermaLink="false"``: the entry
    id is a urn, not a page), RFC 822 dates, and ``author`` only as an e-mail address (names
    go to ``dc:creator``). ``lastBuildDate`` is the newest entry's date, not the clock, so the
    bytes change only when an entry does.
    """
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    c = spec.conversion
    title = xml_safe(convert(spec.title, c)) or spec.ident
    fg.title(title)
    fg.description(xml_safe(convert(spec.subtitle or "", c)) or title)
    fg.link(href=base_url + spec.path_for("rss"), rel="self", type="application/rss+xml")
    # feedgen takes the channel's <link> from the last link given: the site, not the feed.
    fg.link(href=_site_link(spec, base_url), rel="alternate")
    fg.generator(f"feeds {__version__}", uri=PROJECT_URL)
    if spec.language:
        fg.language(spec.language)
    fg.lastBuildDate(max((_entry_updated(s) for s in spec.entries), default=empty_updated))
    for stored in spec.entries:
        _add_entry(fg, stored, c)
    for entry, stored in zip(fg.entry(), spec.entries, strict=True):
        article = stored.article
        entry.guid(entry_id(stored.source_id, article.key), permalink=False)
        names = [_person(p, c)["name"] for p in _bylines(article)]
        if names:
            entry.dc.dc_creator(names)
        if article.enclosures:
            # RSS 2.0 allows one enclosure per item, and its type is required.
            first = article.enclosures[0]
            entry.enclosure(uri_safe(first.url), str(first.length or 0),
                            first.type or "application/octet-stream")
    data: bytes = fg.rss_str(pretty=True, encoding="utf-8")
    return data


JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _json_date(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def render_json_feed(spec: FeedSpec, base_url: str, author: str, empty_updated: datetime
                     ) -> bytes:
    """The JSON Feed 1.1 document for ``spec`` (https://www.jsonfeed.org/version/1.1/)."""
    c = spec.conversion
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": xml_safe(convert(spec.title, c)) or spec.ident,
        "home_page_url": _site_link(spec, base_url),
        "feed_url": base_url + spec.path_for("json"),
    }
    if spec.subtitle:
        feed["description"] = xml_safe(convert(spec.subtitle, c))
    feed["authors"] = [{"name": author, "url": base_url}]
    if spec.language:
        feed["language"] = spec.language
    items = []
    for stored in spec.entries:
        article = stored.article
        item: dict[str, Any] = {"id": entry_id(stored.source_id, article.key)}
        if article.url:
            item["url"] = uri_safe(without_tracking(article.url))
        item["title"] = xml_safe(convert(article.title, c)) or "(untitled)"
        content = xml_safe(convert(article.content_html or "", c))
        summary = xml_safe(convert(article.summary or "", c))
        content = _with_lead_image(article, content, summary, c)
        # JSON Feed 1.1: an item must have content_html or content_text.
        if content:
            item["content_html"] = content
        else:
            item["content_text"] = summary or item["title"]
        if summary:
            item["summary"] = summary
        if article.images:
            item["image"] = uri_safe(article.images[0].url)
        item["date_published"] = _json_date(article.published or article.first_seen)
        item["date_modified"] = _json_date(_entry_updated(stored))
        authors = []
        for person in _bylines(article):
            p = _person(person, c)
            authors.append({"name": p["name"], **({"url": p["uri"]} if "uri" in p else {})})
        if authors:
            item["authors"] = authors
        tags = [t for t in (xml_safe(convert(x, c)) for x in article.categories) if t]
        if tags:
            item["tags"] = tags
        attachments = []
        for enclosure in article.enclosures:
            attachment: dict[str, Any] = {
                "url": uri_safe(enclosure.url),
                "mime_type": enclosure.type or "application/octet-stream",
            }
            if enclosure.length:
                attachment["size_in_bytes"] = enclosure.length
            attachments.append(attachment)
        if attachments:
            item["attachments"] = attachments
        if article.language:
            item["language"] = article.language
        items.append({k: v for k, v in item.items() if v is not None})
    feed["items"] = items
    text = json.dumps(feed, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json_feed}


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) if unchanged."""
    staged = _stage(path, data)
    if staged is None:
        return False
    _commit(*staged)
    return True


def _stage(path: Path, data: bytes) -> tuple[int, str, Path] | None:
    """``data`` written to a temporary file beside ``path`` (not yet synced), or None if
    ``path`` holds it already."""
    try:
        if path.read_bytes() == data:
            return None
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp, path


def _commit(fd: int, tmp: str, path: Path) -> None:
    """The staged file on disk, then in the place of ``path``: readers see the old bytes or
    the new ones, even after a crash."""
    try:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BackgroundWriter:
    """:func:`write_atomic` whose wait for the disk (fsync, then the rename) happens on a thread
    of its own, so that the caller renders the next feed meanwhile (a worker process writes
    a thousand feeds a cycle; an fsync is a fraction of a millisecond, or far more while the
    disk is busy). :meth:`drain` waits until every file is in place and returns the errors.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[int, str, Path] | None] = queue.Queue()
        self._pending: set[Path] = set()
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def write(self, path: Path, data: bytes) -> bool:
        """As :func:`write_atomic`: True if ``path`` will hold new bytes."""
        with self._lock:
            waiting = path in self._pending
        if waiting:
            self._queue.join()  # compare with what the last write of it leaves
        staged = _stage(path, data)
        if staged is None:
            return False
        with self._lock:
            self._pending.add(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fsync", daemon=True)
                self._thread.start()
        self._queue.put(staged)
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                try:
                    _commit(*item)
                except OSError as e:
                    with self._lock:
                        self._errors.append(f"{item[2]}: {e}")
                finally:
                    with self._lock:
                        self._pending.discard(item[2])
            finally:
                self._queue.task_done()

    def drain(self) -> list[str]:
        """Wait until every file written is in place; the errors since the last drain."""
        self._queue.join()
        with self._lock:
            errors, self._errors = self._errors, []
        return errors
