"""Writers: Atom per source and per topic (feedgen), OPML; atomic, rewrite only on change.

Every feed is meant to pass the W3C Feed Validator with no errors and no warnings:
a ``rel="self"`` link from ``output.base_url`` (MissingSelf), an author (RFC 4287 §4.1.1),
``urn:uuid`` ids that never change (§4.2.6), and an ``updated`` that is the newest entry's,
so the bytes, and the file, change only when an entry does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from feeds import __version__
from feeds.config import Config, Source, Topic
from feeds.extract.chinese import convert
from feeds.model import Article, Stored
from feeds.render import (
    RENDERERS,
    FeedSpec,
    entry_id,
    feed_id,
    feed_path,
    language_tag,
    newest,
    render_atom,
    render_json_feed,
    render_rss,
    source_feed,
    write_atomic,
    xml_safe,
)
from feeds.store import SourceState, Store

if TYPE_CHECKING:
    from feeds.poll import ParsePool
    from feeds.topics import Index
    from feeds.worker import Rendered, SourceRender

__all__ = [
    "RENDERERS", "FeedSpec", "entry_id", "feed_id", "language_tag", "publish_all",
    "render_atom", "render_json_feed", "render_opml", "render_rss", "write_atomic", "xml_safe",
]

log = logging.getLogger(__name__)


def opml_groups(config: Config, topic_specs: Sequence[FeedSpec],
                source_specs: Sequence[FeedSpec]) -> list[tuple[str, list[FeedSpec]]]:
    """OPML folders: one per topic, holding the topic feed and the sources it names (each
    source once, under the first topic naming it), then "Sources" for the rest and "All"."""
    by_source = {spec.ident: spec for spec in source_specs}
    placed: set[str] = set()
    groups: list[tuple[str, list[FeedSpec]]] = []
    topics = {spec.ident: spec for spec in topic_specs if spec.kind == "topics"}
    for topic in config.topics:
        folder = [topics[topic.id]] if topic.id in topics else []
        for source_id in topic.sources:
            if source_id in by_source and source_id not in placed:
                folder.append(by_source[source_id])
                placed.add(source_id)
        groups.append((topic.title or topic.id, folder))
    groups.append(("Sources", [s for s in source_specs if s.ident not in placed]))
    groups.append(("All", [s for s in topic_specs if s.kind != "topics"]))
    return groups


def render_opml(title: str, groups: Iterable[tuple[str, Sequence[FeedSpec]]], base_url: str
                ) -> bytes:
    """An OPML 2.0 subscription list, one folder per group."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(title)
    body = etree.SubElement(root, "body")
    for name, specs in groups:
        if not specs:
            continue
        folder = etree.SubElement(body, "outline", text=name, title=name)
        for spec in specs:
            label = xml_safe(convert(spec.title, spec.conversion)) or spec.ident
            attributes = {"type": "rss", "text": label, "title": label,
                          "xmlUrl": base_url + spec.relative_path}
            if spec.site_link:
                attributes["htmlUrl"] = spec.site_link
            etree.SubElement(folder, "outline", attributes)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return data


def clean_stale(directory: Path, keep: set[Path]) -> list[Path]:
    """Remove feeds of sources or topics no longer configured (and stray temp files)."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        if path.is_file() and path not in keep and (
            path.suffix in (".atom", ".rss", ".json") or path.name.endswith(".tmp")
        ):
            path.unlink()
            removed.append(path)
    return removed


def output_formats(config: Config) -> tuple[str, ...]:
    """The formats every feed is written in: Atom always, RSS 2.0 and JSON Feed beside it when
    configured."""
    return ("atom", *(f for f in config.output.formats if f != "atom"))


def now_utc() -> datetime:
    return datetime.now(UTC)


def source_spec(
    config: Config, source: Source, store: Store, state: SourceState | None,
    index: Index | None = None,
) -> FeedSpec:
    """The feed of one source: its newest ``max_entries`` articles (that pass its filter)."""
    if source.filter and index is None:
        from feeds.topics import Index

        index = Index(config, store)
        index.update()
    entries = (index.source_entries(source) if index
               else store.latest(source.id, config.output.max_entries))
    return replace(source_meta(source, state), entries=entries)


def source_meta(source: Source, state: SourceState | None) -> FeedSpec:
    """The feed of one source without its entries: what OPML and signatures need."""
    return source_feed(source.id, source.title, state.title if state else None,
                       state.link if state else None, source.page, source.language,
                       source.convert)


def topic_meta(topic: Topic) -> FeedSpec:
    """The feed of one topic without its entries: what OPML and index.html need."""
    return FeedSpec(kind="topics", ident=topic.id, title=topic.title or topic.id,
                    subtitle=topic.description, entries=(),
                    language=language_tag(topic.language), conversion=topic.convert)


def all_meta(config: Config) -> FeedSpec:
    """The ``all`` feed without its entries."""
    return FeedSpec(kind="", ident="all", title=f"{config.output.title}: all sources",
                    subtitle="Every source in one feed, each story once", entries=())


def topic_spec(config: Config, topic: Topic, store: Store, now: datetime,
               index: Index | None = None) -> FeedSpec:
    """The feed of one topic: matching articles from its sources, each story once, newest
    first. Pass an updated ``index`` when writing many feeds (publish_all does)."""
    if index is None:
        from feeds.topics import Index

        index = Index(config, store)
        index.update()
    return replace(topic_meta(topic), entries=index.topic_entries(topic, now))


def all_spec(config: Config, index: Index) -> FeedSpec:
    """The ``all`` feed: every enabled source, filtered, each story once."""
    return replace(all_meta(config), entries=index.all_entries())


# What each written feed was rendered from, so an unchanged feed is not rendered again.
SIGNATURES = ".rendered.json"
# A change to the renderers must re-render every feed, even without a version bump.
_RENDERER_CODE = hashlib.sha256(
    Path(__file__).read_bytes() + Path(__file__).with_name("render.py").read_bytes()
).hexdigest()[:16]


def spec_signature(spec: FeedSpec, fmt: str, base_url: str, author: str,
                   empty_updated: datetime) -> str:
    """A hash of everything the rendered ``fmt`` file of ``spec`` depends on.

    Rendering is a pure function of these inputs (the article fields are covered by their
    ``content_hash``), so equal signatures mean equal bytes.
    """
    digest = hashlib.sha256(repr((
        _RENDERER_CODE, __version__, fmt, base_url, author, empty_updated, spec.kind, spec.ident,
        spec.title, spec.subtitle, spec.site_link, spec.language, spec.conversion,
    )).encode())
    for stored in spec.entries:
        a = stored.article
        digest.update(repr((stored.source_id, a.key, a.content_hash, a.first_seen, a.published,
                            a.updated, a.fingerprint)).encode())
    return digest.hexdigest()


def revision_signature(spec: FeedSpec, fmt: str, base_url: str, author: str,
                       empty_updated: datetime, limit: int, revision: int) -> str:
    """The signature of an unfiltered source feed without reading its entries.

    Its entries are the newest ``limit`` articles of the source, and they change only when
    an article of the source is added or changed, which raises the store's revision of the
    source (``Store.revisions``); ``empty_updated`` (the store's creation time) tells stores
    apart.
    """
    return hashlib.sha256(repr((
        "revision", _RENDERER_CODE, __version__, fmt, base_url, author, empty_updated, spec.kind,
        spec.ident, spec.title, spec.subtitle, spec.site_link, spec.language, spec.conversion,
        limit, revision,
    )).encode()).hexdigest()


@dataclass(frozen=True)
class FeedSummary:
    """What OPML and index.html show of a feed: its entry count and newest date."""

    entries: int
    newest: datetime | None

    @classmethod
    def of(cls, spec: FeedSpec) -> FeedSummary:
        return cls(len(spec.entries), newest(spec.entries))

    def stand_in(self) -> tuple[Stored, ...]:
        """Entries that index.html summarises exactly as the real ones: as many, as new.

        One shared object repeated, so that a summary of 1,000 feeds costs no articles.
        """
        if not self.entries or self.newest is None:
            return ()
        stub = Stored("", Article(key="", url=None, canonical_url=None, title="",
                                  published=self.newest, updated=self.newest,
                                  content_hash="-"))
        return (stub,) * self.entries


@dataclass
class PublishRecord:
    """What the last publish wrote (``output/.rendered.json``): each file's signature, each
    feed's summary (by its Atom path) and the index page's signature."""

    signatures: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, FeedSummary] = field(default_factory=dict)
    index: str | None = None
    topics: str | None = None  # topic_inputs() of the topic feeds written

    def to_json(self) -> bytes:
        return json.dumps({
            "files": self.signatures,
            "feeds": {k: [v.entries, v.newest.isoformat() if v.newest else None]
                      for k, v in self.summaries.items()},
            "index": self.index,
            "topics": self.topics,
        }, sort_keys=True, indent=0).encode()


def read_record(out: Path) -> PublishRecord:
    """The record of the last publish; empty (render everything) when absent or unreadable."""
    try:
        data = json.loads((out / SIGNATURES).read_bytes())
    except (OSError, ValueError):
        return PublishRecord()
    if not isinstance(data, dict):
        return PublishRecord()
    if not isinstance(data.get("files"), dict):  # the first format: signatures only
        return PublishRecord({str(k): str(v) for k, v in data.items()})
    summaries: dict[str, FeedSummary] = {}
    for key, value in (data.get("feeds") or {}).items():
        try:
            count, newest = value
            summaries[str(key)] = FeedSummary(
                int(count), datetime.fromisoformat(newest) if newest else None)
        except (TypeError, ValueError):
            continue
    index, topics = data.get("index"), data.get("topics")
    return PublishRecord({str(k): str(v) for k, v in data["files"].items()}, summaries,
                         index if isinstance(index, str) else None,
                         topics if isinstance(topics, str) else None)


# index.html is rendered by site.py: its code is part of the page's signature.
_SITE_CODE = hashlib.sha256(Path(__file__).with_name("site.py").read_bytes()).hexdigest()[:16]


def _health_key(state: SourceState | None) -> tuple[Any, ...]:
    """The parts of a state that index.html shows (feeds.site.source_health)."""
    if state is None or (state.last_attempt is None and not state.failures):
        return ("new",)
    if state.gone:
        return ("gone", state.last_error_at)
    if state.failures:
        return ("failing", state.failing_since or state.last_error_at, state.last_error)
    return ("ok",)


# The topic feeds are computed by these modules: their code is part of the inputs.
_TOPICS_CODE = hashlib.sha256(b"".join(
    Path(__file__).with_name(name).read_bytes() for name in ("topics.py", "folding.py")
)).hexdigest()[:16]


def topic_inputs(config: Config, revisions: dict[str, int], formats: Sequence[str],
                 empty_updated: datetime) -> str | None:
    """A hash of everything the topic feeds and the ``all`` feed are computed from, or None
    when they also depend on the clock (a topic with ``max_age``).

    The store only ever gains or changes articles, and every such upsert raises its source's
    revision, so equal revisions mean the same articles; the configuration covers the rules,
    the sources' names and the output settings.
    """
    if any(t.max_age for t in config.topics):
        return None
    return hashlib.sha256(repr((
        _TOPICS_CODE, _RENDERER_CODE, __version__, tuple(formats), empty_updated,
        config.output, config.sources, config.topics, sorted(revisions.items()),
    )).encode()).hexdigest()


def topic_metas(config: Config) -> list[FeedSpec]:
    """The topic feeds (and the ``all`` feed) as they are named, without their entries."""
    return ([all_meta(config)] if config.output.all_feed else []) + [
        topic_meta(t) for t in config.topics]


class _Writer:
    """Renders and writes feed files: here, or in a cycle's worker processes.

    With a pool, up to two jobs per process are in flight while the caller reads the next
    feeds' entries from the store; :meth:`finish` waits for them and raises the first error.
    """

    def __init__(self, pool: ParsePool | None, base_url: str, author: str,
                 empty_updated: datetime) -> None:
        self.pool = pool
        self.args = (base_url, author, empty_updated)
        self.changed: list[Path] = []
        # A worker process died with files left to write (ParsePool.drain): some of what was
        # rendered may be missing.
        self.lost = False
        self._jobs: list[Future[list[Path]]] = []
        self._threads: ThreadPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(2 * pool.processes if pool else 1)
        if pool is not None:
            self._threads = ThreadPoolExecutor(pool.processes, thread_name_prefix="render")

    def write(self, fmt: str, spec: FeedSpec, path: Path) -> None:
        pool = self.pool
        if pool is None:
            if write_atomic(path, RENDERERS[fmt](spec, *self.args)):
                self.changed.append(path)
            return
        self.submit(lambda: [path] if pool.render(fmt, spec, *self.args, path) else [])

    def submit(self, job: Callable[[], list[Path]]) -> None:
        """Run ``job`` (it returns the files it changed) on a render thread; with a pool only."""
        assert self._threads is not None, "submit() needs a pool"
        self._slots.acquire()

        def run() -> list[Path]:
            try:
                return job()
            finally:
                self._slots.release()

        self._jobs.append(self._threads.submit(run))

    def finish(self) -> list[Path]:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
            self._threads = None
            # In the order written; the first failed job raises here.
            for done in self._jobs:
                self.changed += done.result()
        if self.pool is not None and not self.pool.drain():  # in place, not just rendered
            self.lost = True
        return self.changed


class EarlyPublisher:
    """Writes a source's feeds while the cycle still polls, as soon as its new articles are
    stored, so that the worker processes render while they would otherwise wait for bodies.
    :func:`publish_all` then only records what was written (``early=``)::

        early = EarlyPublisher(config, store, pool)
        ...  early.request(source) / early.rendered(request, done)   # from the poll threads
        ...  early.source_stored(source)   # a source stored here: a render job
        publish_all(config, store, now, pool, early=early)

    With a SQLite store the worker process that stores a feed's articles writes its feeds in
    the same job (:meth:`request`, :func:`feeds.worker.ingest`); otherwise a render job reads
    them from the file itself, so this process neither reads them back nor sends them over.
    Sources with a filter wait for publish_all: their entries need the topic index.
    """

    def __init__(self, config: Config, store: Store, pool: ParsePool) -> None:
        self.config, self.store, self.pool = config, store, pool
        self.formats = output_formats(config)
        self.created = store.created
        self.writer = _Writer(pool, config.output.base_url, config.output.author, self.created)
        # Atom path -> the signature of each file written (by its path), and the summary.
        self.done: dict[str, tuple[dict[str, str], FeedSummary]] = {}
        self.changed: list[Path] = []  # by the worker processes that stored the articles
        self._lock = threading.Lock()

    def request(self, source: Source) -> SourceRender | None:
        """What the worker process that stores ``source``'s articles needs to write its feeds
        too (:func:`feeds.worker.ingest`), or None when this process must."""
        if source.filter:
            return None
        from feeds.worker import SourceRender

        output, out = self.config.output, self.config.output_dir
        files = tuple((fmt, str(out / feed_path("sources", source.id, fmt)))
                      for fmt in self.formats)
        return SourceRender(source.id, source.title, source.page, source.language,
                            source.convert, output.max_entries, files, output.base_url,
                            output.author, self.created)

    def rendered(self, request: SourceRender, done: Rendered) -> None:
        """Record the feeds a worker process wrote as it stored the articles."""
        meta = done.meta
        self._record(meta, self._signatures(meta, done.revision),
                     FeedSummary(done.count, done.newest))
        with self._lock:
            self.changed += [Path(target) for (_, target), changed
                             in zip(request.files, done.changed, strict=True) if changed]

    def source_stored(self, source: Source) -> None:
        if source.filter:
            return
        with self._lock:
            if feed_path("sources", source.id, "atom") in self.done:
                return  # written where its articles were stored (rendered())
        output, out = self.config.output, self.config.output_dir
        state, revision = self.store.source_view(source.id)
        meta = source_meta(source, state)
        signatures = self._signatures(meta, revision)
        pool, path = self.pool, self.store.sqlite_file
        if path is None:  # not SQLite: the rows are read here and sent
            spec = replace(meta, entries=self.store.latest(source.id, output.max_entries))
            for fmt in self.formats:
                self.writer.write(fmt, spec, out / spec.path_for(fmt))
            self._record(meta, signatures, FeedSummary.of(spec))
            return
        files = [(fmt, str(out / meta.path_for(fmt))) for fmt in self.formats]

        def job() -> list[Path]:
            flags, count, newest = pool.render_source(
                path, source.id, output.max_entries, meta, files, output.base_url,
                output.author, self.created)
            self._record(meta, signatures, FeedSummary(count, newest))
            return [Path(target) for (_, target), changed in zip(files, flags, strict=True)
                    if changed]

        self.writer.submit(job)

    def _signatures(self, meta: FeedSpec, revision: int) -> dict[str, str]:
        """Per file path of ``meta``, the signature publish_all gives it at ``revision``."""
        output = self.config.output
        return {meta.path_for(f): revision_signature(
            meta, f, output.base_url, output.author, self.created, output.max_entries, revision)
            for f in self.formats}

    def _record(self, meta: FeedSpec, signatures: dict[str, str], summary: FeedSummary
                ) -> None:
        with self._lock:
            self.done[meta.relative_path] = (signatures, summary)

    def finish(self) -> list[Path]:
        """Wait for the files in flight; the files that changed. If a worker process died
        with files left to write, nothing written early is trusted: publish_all renders it
        again."""
        changed = [*self.changed, *self.writer.finish()]
        if self.writer.lost:
            with self._lock:
                self.done.clear()
        return changed


def publish_all(config: Config, store: Store, now: datetime | None = None,
                pool: ParsePool | None = None, early: EarlyPublisher | None = None
                ) -> list[Path]:
    """Write every source and topic feed and the OPML list; return the files that changed.

    Source feeds are built, rendered and dropped one at a time, and a source whose articles
    have not changed since the last publish (same store revision, same settings) is not even
    read: a cycle over 1,000 sources holds one source's articles at a time.
    """
    now = now or now_utc()
    out = config.output_dir
    states = store.states()
    revisions = store.revisions()
    empty_updated = store.created
    base_url, author = config.output.base_url, config.output.author
    limit = config.output.max_entries
    sources = [s for s in config.sources if s.enabled]
    formats = output_formats(config)
    previous = read_record(out)
    record = PublishRecord()
    # What the cycle wrote early is complete before anything is recorded.
    changed: list[Path] = early.finish() if early is not None else []
    writer = _Writer(pool, base_url, author, empty_updated)

    def write(spec: FeedSpec, signatures: dict[str, str]) -> None:
        for fmt in formats:
            relative = spec.path_for(fmt)
            path = out / relative
            record.signatures[relative] = signatures[fmt]
            if previous.signatures.get(relative) == signatures[fmt] and path.is_file():
                continue  # same inputs give the same bytes; rendering is publishing's main cost
            writer.write(fmt, spec, path)

    def content_signatures(spec: FeedSpec) -> dict[str, str]:
        return {f: spec_signature(spec, f, base_url, author, empty_updated) for f in formats}

    def keep(meta: FeedSpec, summary: FeedSummary | None, known: dict[str, str],
             wanted: dict[str, str] | None = None) -> bool:
        """Record ``meta``'s files as they are, unrendered, if ``known`` (signatures by path
        of files written) signs every format, with ``wanted``'s signatures when given, and
        the files exist."""
        signed = {f: known.get(meta.path_for(f)) for f in formats}
        if summary is None or not all(signed.values()) or (
                wanted is not None and signed != wanted) or not all(
                (out / meta.path_for(f)).is_file() for f in formats):
            return False
        record.signatures.update({meta.path_for(f): str(sig) for f, sig in signed.items()})
        record.summaries[meta.relative_path] = summary
        return True

    # Topics, the all feed and source filters need the index (new articles folded and
    # sketched, rules evaluated over what they have not seen); plain source feeds do not.
    matched: Index | None = None
    indexing: ThreadPoolExecutor | None = None
    indexed: Future[dict[str, int]] | None = None
    # Topic feeds whose inputs have not changed since the last publish are not computed
    # again (nor is the index opened): a cycle of 304s costs no topic work.
    filtered = any(s.filter for s in sources)
    inputs = topic_inputs(config, revisions, formats, empty_updated)
    record.topics = inputs
    reused = topic_metas(config)
    if inputs is None or previous.topics != inputs or filtered or not all(
            keep(m, previous.summaries.get(m.relative_path), previous.signatures)
            for m in reused):
        reused = []  # each topic feed computed below records itself again
    if not reused and (config.topics or config.output.all_feed or filtered):
        from feeds.topics import Index

        matched = Index(config, store, pool)
        if pool is not None and not filtered:
            # Folding (in the workers) and matching the new articles overlap with the source
            # feeds below, which do not need the index.
            indexing = ThreadPoolExecutor(1, thread_name_prefix="index")
            indexed = indexing.submit(matched.update)
        else:
            matched.update()

    try:
        source_metas: list[FeedSpec] = []
        for source in sources:
            meta = source_meta(source, states.get(source.id))
            source_metas.append(meta)
            key = meta.relative_path
            if source.filter:
                spec = source_spec(config, source, store, states.get(source.id), matched)
                write(spec, content_signatures(spec))
                record.summaries[key] = FeedSummary.of(spec)
                continue
            revision = revisions.get(source.id, 0)
            signatures = {f: revision_signature(meta, f, base_url, author, empty_updated, limit,
                                                revision) for f in formats}
            written = early.done.get(key) if early is not None else None
            if written is not None and keep(meta, written[1], written[0], signatures):
                continue  # written while the cycle polled
            if keep(meta, previous.summaries.get(key), previous.signatures, signatures):
                continue
            spec = replace(meta, entries=store.latest(source.id, limit))
            write(spec, signatures)
            record.summaries[key] = FeedSummary.of(spec)
        if indexed is not None:
            indexed.result()
    finally:
        if indexing is not None:
            indexing.shutdown(wait=True)

    topic_specs: list[FeedSpec] = reused
    if matched is not None:

        def computed(index: Index) -> Iterator[FeedSpec]:
            if config.output.all_feed:
                yield all_spec(config, index)
            for topic in config.topics:
                yield topic_spec(config, topic, store, now, index)

        topic_specs = []
        # One topic feed's entries at a time: what follows needs only its settings and the
        # summary recorded here (twenty feeds' entries held together were a cycle's peak).
        for spec in computed(matched):
            write(spec, content_signatures(spec))
            record.summaries[spec.relative_path] = FeedSummary.of(spec)
            topic_specs.append(replace(spec, entries=()))

    changed += writer.finish()
    if writer.lost:
        # Not recorded: the next publish compares with the last complete one and writes
        # again whatever may be missing.
        raise OSError("a worker process stopped before every feed file was written; the "
                      "next cycle writes them again")
    clean_stale(out / "sources", {out / s.path_for(f) for s in source_metas for f in formats})
    clean_stale(out / "topics", {out / s.path_for(f) for s in topic_specs for f in formats})
    if not config.output.all_feed:
        for fmt in ("atom", "rss", "json"):
            (out / f"all.{fmt}").unlink(missing_ok=True)
    opml = render_opml(config.output.title, opml_groups(config, topic_specs, source_metas),
                       config.output.base_url)
    if write_atomic(out / "feeds.opml", opml):
        changed.append(out / "feeds.opml")

    # index.html from summaries, rendered (and jinja2 imported) only when what it shows changed.
    health_feed = (out / "health.atom").is_file()
    page = hashlib.sha256(repr((
        _SITE_CODE, _RENDERER_CODE, formats, config.output.title, config.defaults.timezone,
        health_feed, [(t.id, t.sources) for t in config.topics],
        [(m.kind, m.ident, m.title, m.subtitle, m.conversion, record.summaries[m.relative_path],
          _health_key(states.get(m.ident))) for m in source_metas],
        [(t.kind, t.ident, t.title, t.subtitle, t.conversion, record.summaries[t.relative_path])
         for t in topic_specs],
    )).encode()).hexdigest()
    record.index = page
    if previous.index != page or not (out / "index.html").is_file():
        from feeds.site import render_index

        def summarised(spec: FeedSpec) -> FeedSpec:
            return replace(spec, entries=record.summaries[spec.relative_path].stand_in())

        index = render_index(config, [summarised(m) for m in source_metas],
                             [summarised(t) for t in topic_specs], states, formats)
        if write_atomic(out / "index.html", index):
            changed.append(out / "index.html")
    write_atomic(out / SIGNATURES, record.to_json())
    return changed
