"""Topics: rules over stored articles, per-source filters, and cross-source dedup.

The flow, as a pipeline::

    articles | fold (once per article version) | match (new articles; every article for a new
             rule) | newest matches per rule (filters, max_age) | sketch (candidates only)
             | dedup (canonical URL, near-duplicate text)

*Folding.* Keywords and article text are compared after NFKC, case folding and Traditional to
Simplified conversion (OpenCC ``t2s``), so ``青岛`` matches ``青島`` and ``ＱＩＮＧＤＡＯ``.
Latin keywords match whole words: ``Taiwan`` does not match ``Taiwanese`` unless the keyword is
written ``Taiwan*`` or the topic sets ``word_boundaries: false``. Regular expressions see the
folded text too (lower case, Simplified), and their literal characters are folded the same
way (:func:`compile_pattern`), so one pattern, in either script, catches both.

*Speed.* Nothing is indexed while no topic or source filter is configured. Otherwise the
fields rules read are folded once per article version into ``topic_text`` (in batches, so memory
stays bounded). The keywords of every rule are looked for at once (:class:`feeds.folding.Finder`:
a trie-shaped regular expression and Aho-Corasick automata): a new or changed rule costs one
pass over the folded text, giving per keyword the set of matching positions (a bitset: a Python
int), and each rule is then a few set operations. No row per (rule, article) is written: a rule
keeps only its newest matches that may reach a feed (``topic_state``, a few kilobytes), which a
cycle updates with the new articles alone. Sketches for dedup are made only for the candidates
of a feed, and kept; the stories a feed showed are kept with a digest of their inputs, so an
unchanged feed costs no dedup in the next process, and a feed whose new matches all fall past
the candidates it read is not deduped again. A feed with new matches among those is deduped
afresh (resuming its kept stories could group otherwise than a fresh run).

*Worker processes.* Given a cycle's :class:`feeds.poll.ParsePool`, the folding, the full match
pass (each worker scans a range of ``topic_text``, read from the store file), the missing
sketches and the dedup of every topic feed that needs one run there, split over the cores; the
job code lives in :mod:`feeds.folding`, which imports neither SQLAlchemy nor (but to make a
sketch) numpy. The feeds are identical with and without workers.

*Dedup.* Two entries are the same story when their canonical URLs agree, or when their folded
texts (t2s, punctuation and spaces dropped) are near duplicates: a bottom-k MinHash sketch over
character 6-grams estimates the Jaccard similarity, from which the containment of the shorter text
in the longer follows; copies with extra boilerplate have a high containment. Template reports
from two cities share the template but not their names and numbers, and stay apart. The
threshold is tuned on ``tests/data/dedup/pairs.yaml``.
"""

from __future__ import annotations

import bisect
import hashlib
import html
import json
import logging
import re
import struct
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from re import _parser  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feeds.config import Config, Filter, Source, Topic
from feeds.folding import SEP as _SEP
from feeds.folding import (
    Deduper,
    DedupRow,
    Finder,
    RegexJob,
    ScanParts,
    Sketch,
    Story,
    fold,
    fold_article,
    fold_chars,
    fold_pattern,
    folded_values,
    latin,
    scan_rows,
)
from feeds.model import Article
from feeds.rows import TEXT_TABLE, Folding
from feeds.store import Store, Stored, _article_from_row, articles_table, revisions_table

if TYPE_CHECKING:
    from feeds.poll import ParsePool

# Dedup lives in feeds.folding (a worker process runs it); its names are topics' too.
from feeds.folding import DEDUP_VERSION as DEDUP_VERSION
from feeds.folding import DEDUP_WINDOW as DEDUP_WINDOW
from feeds.folding import DUPLICATE_CONTAINMENT as DUPLICATE_CONTAINMENT
from feeds.folding import MAX_HOLDERS as MAX_HOLDERS
from feeds.folding import MIN_DEDUP_CHARS as MIN_DEDUP_CHARS
from feeds.folding import MIN_SHARED as MIN_SHARED
from feeds.folding import SKETCH_K as SKETCH_K
from feeds.folding import dedup_text as dedup_text
from feeds.folding import same_story as same_story
from feeds.folding import url_key as url_key

log = logging.getLogger(__name__)

# Bump when fold(), the fields or the sketch change: every cached result is then recomputed.
INDEX_VERSION = 2
# Bump when how a rule's regular expressions are read changes (2: literals folded, see
# compile_pattern): the results of rules with expressions are then recomputed, without
# folding the articles again.
REGEX_VERSION = 2

Field = Literal["title", "summary", "content", "author", "categories", "source_name"]
FIELDS: tuple[Field, ...] = ("title", "summary", "content", "author", "categories", "source_name")
DEFAULT_FIELDS: tuple[Field, ...] = ("title", "summary", "content", "categories")

_LITERAL = _parser.LITERAL


# -- the index: folded text per article version, sketches on demand -------------------------

index_metadata = sa.MetaData()

# The folded fields of every article, written only while some rule needs them. ``folded`` is
# the FIELDS joined by _SEP (fold() turns that character into a space, so no keyword spans
# two fields); fields no rule reads are left empty. sort_ts, source_id and language are
# copied from the article version (they cannot change without its content_hash), so a full
# re-evaluation reads this table alone.
topic_text = sa.Table(
    TEXT_TABLE, index_metadata,
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("sort_ts", sa.Float, nullable=False),
    sa.Column("source_id", sa.String(100), nullable=False),
    sa.Column("language", sa.String(40)),
    sa.Column("folded", sa.Text, nullable=False),
    sa.Index("ix_topic_text_seq", "seq"),
)

topic_meta = sa.Table(
    "topic_meta", index_metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Near-duplicate sketches, computed only for articles that become feed candidates. The table
# name carries SKETCH_VERSION: sketches of another definition are dropped (ensure_tables).
SKETCH_VERSION = 2
article_sketch = sa.Table(
    f"article_sketch_v{SKETCH_VERSION}", index_metadata,
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("url_key", sa.Text),
    sa.Column("sketch", sa.LargeBinary, nullable=False),
    sa.Column("shingles", sa.Integer, nullable=False),
)

# Per rule: the newest ``depth`` matches (sort_ts, article id) that may reach a feed, the index
# sequence number they are up to, and whether older matches exist beyond the list. A feed
# needs only its newest matches, so this is all that is kept: a few kilobytes a rule.
topic_state = sa.Table(
    "topic_state", index_metadata,
    sa.Column("rules_hash", sa.String(32), primary_key=True),
    sa.Column("scope", sa.String(32), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("depth", sa.Integer, nullable=False),
    sa.Column("truncated", sa.Boolean, nullable=False),
    sa.Column("gen", sa.Integer, nullable=False),
    sa.Column("top", sa.LargeBinary, nullable=False),
)

# Per rule, the stories its feed showed (article ids, the copies of each) and a digest of
# what they were computed from: a new process with the same matches skips dedup.
topic_feed = sa.Table(
    "topic_feed", index_metadata,
    sa.Column("rules_hash", sa.String(32), primary_key=True),
    sa.Column("digest", sa.String(32), nullable=False),
    sa.Column("stories", sa.Text, nullable=False),
)

# Tables of INDEX_VERSION 1: one row per (rule, matching article) was too slow to write.
_OLD_TABLES = ("topic_matches", "topic_progress", "article_index")
# Sketches of SKETCH_VERSION 1 (blake2b per shingle): their hashes differ from today's.
_OLD_SKETCH_TABLES = ("article_sketch",)
BATCH = 1000
# The worker processes dedup a feed from its newest PREFETCH_READS * limit + PREFETCH_EXTRA
# candidates
# (dedup reads `limit` stories and then up to `limit` candidates more): one that needs more
# is computed afresh when asked for.
PREFETCH_READS = 2
PREFETCH_EXTRA = 20
# Candidates an Index keeps while writing the feeds of one cycle (topics share their newest).
CANDIDATE_CACHE = 5_000
# States of rules no longer configured are kept (another configuration may share the store)
# until there are this many more than the configured ones.
STALE_STATES = 200


def field_texts(article: Article) -> list[str]:
    """The folded text of each field in FIELDS order (fold() leaves no SEP in a field)."""
    return fold_article(article, (True,) * len(FIELDS)).split(_SEP)


def ensure_tables(store: Store) -> None:
    with store.engine.begin() as conn:
        names = set(sa.inspect(conn).get_table_names())
        for name in (*_OLD_TABLES, *_OLD_SKETCH_TABLES):
            if name in names:
                conn.exec_driver_sql(f"DROP TABLE {name}")
        index_metadata.create_all(conn)


def _meta(conn: Connection) -> dict[str, str]:
    return {r.name: r.value for r in conn.execute(sa.select(topic_meta))}


def _set_meta(conn: Connection, name: str, value: str) -> None:
    conn.execute(sa.delete(topic_meta).where(topic_meta.c.name == name))
    conn.execute(sa.insert(topic_meta).values(name=name, value=value))


# Folds many articles' stored columns (feeds.folding.fold_rows, possibly in a worker process).
FoldMany = Callable[[Sequence[Sequence[str | None]], Sequence[bool]], list[str]]


def prepare_index(store: Store, fields: Iterable[str] = DEFAULT_FIELDS) -> Folding:
    """Make the index hold ``fields`` (emptied if it held fewer, or another version's) and
    claim the next sequence number; return both, as the cycle's Folding.

    A cycle calls it before polling: its articles are then folded where they are parsed,
    and stored with their folded text at that sequence number (``Store.upsert(folded=...)``),
    which is above every rule's, so :meth:`Index.update` evaluates them once. The claim
    is released by the next :func:`refresh_index`; a cycle that stopped half-way leaves
    it, and the next one claims a higher number. (Only the process holding the service
    lock writes the index, and its cycle polls before it publishes.)
    """
    ensure_tables(store)
    t, s = topic_text, topic_state
    with store.engine.begin() as conn:
        have, meta = _hold(conn, fields)
        seq = 1 + max(conn.execute(sa.select(sa.func.max(t.c.seq))).scalar() or 0,
                      conn.execute(sa.select(sa.func.max(s.c.seq))).scalar() or 0,
                      int((meta or {}).get("claimed", 0)))
        _set_meta(conn, "claimed", str(seq))
    return Folding(tuple(name in have for name in FIELDS), seq)


def _hold(conn: Connection, fields: Iterable[str]) -> tuple[set[str], dict[str, str] | None]:
    """The fields the index holds, having emptied it if it lacked some of ``fields``; and its
    metadata, or None if it was emptied."""
    meta = _meta(conn)
    have = set(json.loads(meta["fields"])) if meta.get("version") == str(INDEX_VERSION) \
        else None
    if have is not None and set(fields) <= have:
        return have, meta
    conn.execute(sa.delete(topic_text))
    conn.execute(sa.delete(topic_state))
    # What was folded is gone: every article must be folded again, not only newer ones.
    conn.execute(sa.delete(topic_meta).where(topic_meta.c.name == "watermark"))
    have = (have or set()) | set(fields)
    _set_meta(conn, "version", str(INDEX_VERSION))
    _set_meta(conn, "fields", json.dumps(sorted(have)))
    return have, None


def refresh_index(store: Store, fields: Iterable[str] = DEFAULT_FIELDS,
                  fold_many: FoldMany | None = None, jobs: int = 2) -> tuple[int, int]:
    """Fold the ``fields`` of every article that is new or changed since it was folded;
    return (how many, the index sequence number now). Costs only the new articles, in
    batches of BATCH, so memory stays bounded however many there are. ``fold_many``
    (:func:`feeds.folding.fold_rows` in a worker process) folds up to ``jobs`` batches at once.
    Articles the store wrote with their folded text (folded where a cycle parsed them,
    :func:`prepare_index`) are not read again.

    A field no earlier rule needed (say ``author``) makes every article fold again.
    """
    ensure_tables(store)
    a, t = articles_table, topic_text
    with store.engine.begin() as conn:
        have, meta = _hold(conn, fields)
        top = conn.execute(sa.select(sa.func.max(t.c.seq))).scalar() or 0
        if meta is not None and "claimed" in meta:
            # The cycle that claimed a number has stored what it folded (at most it).
            conn.execute(sa.delete(topic_meta).where(topic_meta.c.name == "claimed"))
        # What the store held when last folded: the highest article id, the count, and each
        # source's revision (raised by every upsert that adds or changes an article). Equal
        # now: nothing is new, and no article is read. Else only sources whose revision
        # moved are compared with the folded versions (a store with fewer articles: all).
        mark = _watermark(conn)
        last = json.loads(meta.get("watermark", "null")) if meta is not None else None
        if last == mark:
            return 0, top
        query = (sa.select(a.c.id).select_from(a.outerjoin(t, t.c.article_id == a.c.id))
                 .where(sa.or_(t.c.article_id.is_(None), t.c.content_hash != a.c.content_hash)))
        if last is not None and mark["count"] >= last["count"]:
            moved = [sid for sid, rev in mark["revisions"].items()
                     if last["revisions"].get(sid) != rev]
            query = query.where(sa.or_(a.c.id > last["id"], a.c.source_id.in_(moved)))
        ids = [r[0] for r in conn.execute(query)]
        if not ids:
            _set_meta(conn, "watermark", json.dumps(mark))
            return 0, top
    seq = top + 1
    wanted = [name in have for name in FIELDS]
    columns = [a.c.id, a.c.content_hash, a.c.sort_ts, a.c.source_id, a.c.language]
    names = ("title", "summary", "text", "content_html", "authors", "contributors",
             "categories", "source_name")
    columns += [a.c[name] for name in names]
    def read(chunk: list[int]) -> list[Any]:
        with store.engine.connect() as conn:
            return list(conn.execute(sa.select(*columns).where(a.c.id.in_(chunk))))

    def write(chunk: list[int], rows: list[Any], folded: list[str]) -> None:
        values = [{
            "article_id": row.id, "content_hash": row.content_hash, "seq": seq,
            "sort_ts": row.sort_ts, "source_id": row.source_id, "language": row.language,
            "folded": text,
        } for row, text in zip(rows, folded, strict=True)]
        with store.engine.begin() as conn:
            conn.execute(sa.delete(t).where(t.c.article_id.in_(chunk)))
            if values:
                conn.execute(sa.insert(t), values)

    chunks = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
    if fold_many is None or len(chunks) < 2:
        for chunk in chunks:
            rows = read(chunk)
            write(chunk, rows, [folded_values(tuple(row)[5:], wanted) for row in rows])
    else:
        # Worker processes fold while this thread reads the next chunk and writes the last.
        with ThreadPoolExecutor(jobs, thread_name_prefix="fold") as threads:
            pending: deque[tuple[list[int], list[Any], Future[list[str]]]] = deque()
            for chunk in chunks:
                rows = read(chunk)
                values = [tuple(row)[5:] for row in rows]
                pending.append((chunk, rows, threads.submit(fold_many, values, wanted)))
                if len(pending) > jobs:
                    first, first_rows, folded = pending.popleft()
                    write(first, first_rows, folded.result())
            while pending:
                first, first_rows, folded = pending.popleft()
                write(first, first_rows, folded.result())
    with store.engine.begin() as conn:
        _set_meta(conn, "watermark", json.dumps(mark))
    log.debug("folded %d articles (seq %d)", len(ids), seq)
    return len(ids), seq


def _watermark(conn: Connection) -> dict[str, Any]:
    """The highest article id, the number of articles and the revision of every source."""
    a, r = articles_table, revisions_table
    row = conn.execute(sa.select(sa.func.max(a.c.id), sa.func.count()).select_from(a)).one()
    return {"id": row[0] or 0, "count": row[1],
            "revisions": {sid: rev for sid, rev in conn.execute(
                sa.select(r.c.source_id, r.c.revision))}}


# -- rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What a topic or a source filter asks of an article; its hash names its cached results."""

    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    any_regex: tuple[str, ...] = ()
    none_regex: tuple[str, ...] = ()
    fields: tuple[str, ...] = DEFAULT_FIELDS
    word_boundaries: bool = True
    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    language: str | None = None

    @classmethod
    def of_topic(cls, topic: Topic) -> Rule:
        return cls(
            any=topic.any, all=topic.all, none=topic.none, any_regex=topic.regex,
            fields=tuple(topic.fields), word_boundaries=topic.word_boundaries,
            sources=topic.sources, exclude_sources=topic.exclude_sources,
            language=topic.language,
        )

    @classmethod
    def of_filter(cls, source_id: str, spec: Filter) -> Rule:
        if spec.regex:
            return cls(any_regex=spec.include, none_regex=spec.exclude, fields=tuple(spec.fields),
                       sources=(source_id,))
        return cls(any=spec.include, none=spec.exclude, fields=tuple(spec.fields),
                   word_boundaries=spec.word_boundaries, sources=(source_id,))

    @property
    def hash(self) -> str:
        versions: list[object] = [INDEX_VERSION]
        if self.any_regex or self.none_regex:
            # Results kept under the old hash were matched by unfolded patterns.
            versions.append(f"regex{REGEX_VERSION}")
        data = json.dumps([*versions, *(list(v) if isinstance(v, tuple) else v
                                        for v in self.__dict__.values())],
                          ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]

    @property
    def unconditional(self) -> bool:
        """True when the rule can match an article in which none of its keywords occur."""
        return not self.any and not self.all


def _term(word: str, fields: Iterable[str], word_boundaries: bool) -> tuple[str, int]:
    """A keyword as (folded text, accepted mask). The mask has 4 bits per field, one for each
    (bounded at start, bounded at end) combination of an occurrence that counts."""
    text = fold(word)
    prefix, suffix = text.endswith("*"), text.startswith("*")
    text = text.strip("*").strip()
    need_start = word_boundaries and not suffix and bool(text) and latin(text[0])
    need_end = word_boundaries and not prefix and bool(text) and latin(text[-1])
    combos = 0
    for combo in range(4):
        if (combo & 2 or not need_start) and (combo & 1 or not need_end):
            combos |= 1 << combo
    mask = 0
    for name in fields:
        mask |= combos << (4 * FIELDS.index(name))
    return text, mask


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    hash: str
    any: tuple[tuple[int, int], ...]
    all: tuple[tuple[int, int], ...]
    none: tuple[tuple[int, int], ...]
    any_regex: tuple[re.Pattern[str], ...]
    none_regex: tuple[re.Pattern[str], ...]
    field_ids: tuple[int, ...]

    def matches(self, source_id: str, language: str | None, hits: dict[int, int],
                fields: Sequence[str]) -> bool:
        rule = self.rule
        if rule.sources and source_id not in rule.sources:
            return False
        if source_id in rule.exclude_sources:
            return False
        if rule.language and not (language or "").lower().startswith(rule.language.lower()):
            return False
        if any(hits.get(k, 0) & m for k, m in self.none):
            return False
        if self.none_regex and any(p.search(fields[f]) for p in self.none_regex
                                   for f in self.field_ids):
            return False
        if not all(hits.get(k, 0) & m for k, m in self.all):
            return False
        if not self.any and not self.any_regex:
            return True
        if any(hits.get(k, 0) & m for k, m in self.any):
            return True
        return any(p.search(fields[f]) for p in self.any_regex for f in self.field_ids)

@dataclass(frozen=True)
class RegexSpec:
    """A regular expression over some fields, with a literal every match must contain (found
    by the automaton) so the expression runs only on articles that hold that literal."""

    pattern: re.Pattern[str]
    field_ids: tuple[int, ...]
    literal: int | None  # keyword id of the literal, if the pattern has one
    field_mask: int  # the hit bits of field_ids


def required_literal(pattern: str) -> str | None:
    """The longest run of plain characters every match of ``pattern`` contains, in the form
    it takes in folded text; None when there is none (alternatives at the top, classes only).

    Only characters whose folded form is certain count: ASCII (lower-cased, as folded text is)
    and characters without case that folding leaves alone, such as Simplified Han (a pattern
    is folded first, :func:`compile_pattern`; one that could not be is run as written).
    """
    try:
        parsed = _parser.parse(pattern, re.IGNORECASE)
    except Exception:  # any doubt: no literal, and the pattern runs everywhere
        return None
    best, run = "", ""
    for op, value in parsed:
        ch = chr(value) if op == _LITERAL else None
        if ch is not None and (ch.isascii() or ch.lower() == ch.upper() == ch == fold_chars(ch)):
            run += ch.lower()
            continue
        best, run = max(best, run, key=len), ""
    best = max(best, run, key=len)
    return best or None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A rule's regular expression as it runs on folded text: its literals folded
    (:func:`feeds.folding.fold_pattern`), so ``臺港澳`` finds ``台港澳`` and ``臺港澳`` alike.
    Should folding make an expression Python refuses (a look-behind whose width changed), the
    expression runs as written."""
    try:
        return re.compile(fold_pattern(pattern), re.IGNORECASE)
    except re.error:
        return re.compile(pattern, re.IGNORECASE)


class RuleSet:
    """Many rules compiled into one automaton: each article is scanned once for all of them."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.words: dict[str, int] = {}
        self.compiled: dict[str, CompiledRule] = {}
        by_word: dict[int, set[str]] = {}
        self.unconditional: list[str] = []
        self.regexes: list[RegexSpec] = []
        regex_ids: dict[tuple[str, tuple[int, ...]], int] = {}
        # Per rule hash: the RegexSpec ids of its any_regex and none_regex.
        self.rule_regexes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for rule in rules:
            h = rule.hash
            if h in self.compiled:
                continue

            def terms(words: Iterable[str], rule: Rule = rule, h: str = h
                      ) -> tuple[tuple[int, int], ...]:
                out = []
                for word in words:
                    text, mask = _term(word, rule.fields, rule.word_boundaries)
                    if not text:
                        continue
                    kid = self.words.setdefault(text, len(self.words))
                    by_word.setdefault(kid, set()).add(h)
                    out.append((kid, mask))
                return tuple(out)

            field_ids = tuple(FIELDS.index(f) for f in rule.fields)

            def specs(patterns: Iterable[str], field_ids: tuple[int, ...] = field_ids
                      ) -> tuple[int, ...]:
                out = []
                for p in patterns:
                    key = (p, field_ids)
                    if key not in regex_ids:
                        compiled = compile_pattern(p)
                        literal = required_literal(compiled.pattern)
                        kid = None if literal is None else self.words.setdefault(
                            literal, len(self.words))
                        regex_ids[key] = len(self.regexes)
                        self.regexes.append(RegexSpec(
                            compiled, field_ids, kid, sum(0xF << (4 * f) for f in field_ids)))
                    out.append(regex_ids[key])
                return tuple(out)

            compiled = CompiledRule(
                rule=rule, hash=h, any=terms(rule.any), all=terms(rule.all),
                none=terms(rule.none),
                any_regex=tuple(compile_pattern(p) for p in rule.any_regex),
                none_regex=tuple(compile_pattern(p) for p in rule.none_regex),
                field_ids=field_ids,
            )
            self.compiled[h] = compiled
            self.rule_regexes[h] = (specs(rule.any_regex), specs(rule.none_regex))
            if not compiled.any and not compiled.all:
                self.unconditional.append(h)
        # A rule is worth evaluating only if one of its positive keywords occurs.
        self.positive: dict[int, tuple[str, ...]] = {}
        for kid, hashes in by_word.items():
            keep = tuple(h for h in hashes
                         if any(k == kid for k, _ in (*self.compiled[h].any,
                                                      *self.compiled[h].all)))
            if keep:
                self.positive[kid] = keep
        # Keyword ids are their places in `words` (assigned in order above).
        self.finder = Finder(list(self.words)) if self.words else None

    def hits(self, fields: Sequence[str]) -> dict[int, int]:
        """keyword id -> mask of (field, boundary combination) of its occurrences."""
        return {} if self.finder is None else self.finder.hits(fields)

    @property
    def regex_jobs(self) -> list[RegexJob]:
        return [(spec.pattern.pattern, spec.field_ids, spec.literal, spec.field_mask)
                for spec in self.regexes]

    def evaluate(self, source_id: str, language: str | None, fields: Sequence[str],
                 only: set[str] | None = None) -> list[str]:
        """The hashes of the rules (of ``only``, if given) the article matches."""
        hits = self.hits(fields)
        todo: set[str] = set(self.unconditional)
        for kid in hits:
            todo.update(self.positive.get(kid, ()))
        if only is not None:
            todo &= only
        return [h for h in todo
                if self.compiled[h].matches(source_id, language, hits, fields)]

    @property
    def fields(self) -> set[str]:
        """The fields some rule reads (rules without keywords or patterns read none)."""
        out: set[str] = set()
        for c in self.compiled.values():
            r = c.rule
            if r.any or r.all or r.none or r.any_regex or r.none_regex:
                out.update(r.fields)
        return out


def matches(topic: Topic, article: Article, source_id: str = "") -> bool:
    """Whether one article matches one topic (for previews and tests; feeds use :class:`Index`)."""
    rules = RuleSet([Rule.of_topic(topic)])
    return bool(rules.evaluate(source_id, article.language, field_texts(article)))


# -- full evaluation: one pass, then set operations on bitsets -------------------------------

_NONZERO = re.compile(rb"[^\x00]")


def lowest_bits(x: int, k: int) -> list[int]:
    """The positions of the ``k`` lowest set bits of ``x`` (the newest ``k`` matches)."""
    out: list[int] = []
    if k <= 0 or x <= 0:
        return out
    data = x.to_bytes((x.bit_length() + 7) // 8, "little")
    for m in _NONZERO.finditer(data):
        base = m.start() * 8
        b = data[m.start()]
        while b:
            low = b & -b
            out.append(base + low.bit_length() - 1)
            if len(out) >= k:
                return out
            b ^= low
    return out


@dataclass(frozen=True)
class Scan:
    """What one pass over the folded text gives: articles in feed order (newest first) as
    (sort_ts, id), and per rule a bitset of the positions it matches."""

    order: list[tuple[float, int]]
    results: dict[str, int]
    sources: dict[str, int]  # the sources the rules name, and those asked for (``sources=``)
    enabled: int  # the articles of the enabled sources (all of them without ``enabled=``)

    @property
    def universe(self) -> int:
        return (1 << len(self.order)) - 1


# A full match pass over at least this many articles is split over a cycle's worker processes.
SCAN_SPLIT = 20_000


def scan(conn: Connection, ruleset: RuleSet, pool: ParsePool | None = None,
         path: str | None = None, *, sources: AbstractSet[str] = frozenset(),
         enabled: AbstractSet[str] | None = None) -> Scan:
    """Evaluate every rule of ``ruleset`` over every folded article at once.

    The automaton gives, per keyword and (field, boundary) combination, the set of matching
    positions; regular expressions run only where their literal occurs. Each rule is then a
    few operations on bitsets (Python ints): union for any, intersection for all, difference
    for none, and the source and language sets. Nothing is kept per (rule, article).

    With a ``pool`` and the SQLite file at ``path``, the worker processes each read and scan
    a range of the articles (the automaton is most of the pass's time; the GIL keeps
    threads from sharing it) and this process merges their bitsets.

    Per-source bitsets are made only for the sources the rules name and ``sources``: one
    for every source would cost (sources x articles) bits, 150 MB at 5,000 sources.
    """
    # The driver's cursor: SQLAlchemy's result rows cost more than the scan's own work here.
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"SELECT article_id, sort_ts, source_id, language FROM {TEXT_TABLE}")
        meta: list[Any] = list(cursor.fetchall())
    finally:
        cursor.close()
    meta.sort(key=lambda r: (r[1], r[0]), reverse=True)
    n = len(meta)
    size = (n + 7) // 8
    pos: dict[int, int] = {}
    named = set(sources)
    for c in ruleset.compiled.values():
        named.update(c.rule.sources, c.rule.exclude_sources)
    per_source = {sid: bytearray(size) for sid in named}
    enabled_bits = bytearray(size) if enabled is not None else None
    wanted_languages = {c.rule.language.lower() for c in ruleset.compiled.values()
                        if c.rule.language}
    languages = {lang: bytearray(size) for lang in wanted_languages}
    for p, (aid, _, sid, lang) in enumerate(meta):
        pos[aid] = p
        byte, bit = p >> 3, 1 << (p & 7)
        ba = per_source.get(sid)
        if ba is not None:
            ba[byte] |= bit
        if enabled_bits is not None and enabled is not None and sid in enabled:
            enabled_bits[byte] |= bit
        if lang and languages:
            low = lang.lower()
            for want, lb in languages.items():
                if low.startswith(want):
                    lb[byte] |= bit
    order = [(r[1], r[0]) for r in meta]
    del meta
    postings: dict[tuple[int, int], int] = {}
    regex_ints = [0] * len(ruleset.regexes)

    def merge(parts: ScanParts) -> None:
        keyed, regex_bits = parts
        for key, ba in keyed.items():
            postings[key] = postings.get(key, 0) | int.from_bytes(ba, "little")
        for rid, ba in enumerate(regex_bits):
            regex_ints[rid] |= int.from_bytes(ba, "little")

    finder = ruleset.finder
    if finder is not None or ruleset.regexes:
        jobs = pool.processes if pool is not None else 1
        if pool is not None and path is not None and jobs > 1 and n >= SCAN_SPLIT:
            words, regexes = list(ruleset.words), ruleset.regex_jobs
            ids = sorted(pos)
            step = -(-n // jobs)

            def job(part: list[int]) -> ScanParts:
                assert pool is not None and path is not None
                return pool.scan(path, words, regexes, array("q", part).tobytes(),
                                 array("I", [pos[aid] for aid in part]).tobytes(), size)

            with ThreadPoolExecutor(jobs, thread_name_prefix="scan") as threads:
                for parts in threads.map(job, [ids[k : k + step] for k in range(0, n, step)]):
                    merge(parts)
        else:
            merge(scan_rows(conn.exec_driver_sql(f"SELECT article_id, folded FROM {TEXT_TABLE}"),
                            finder or Finder([]), ruleset.regex_jobs, pos, size))
    by_kid: dict[int, list[tuple[int, int]]] = {}
    for (kid, mask), bits in postings.items():
        by_kid.setdefault(kid, []).append((mask, bits))
    source_ints = {sid: int.from_bytes(ba, "little") for sid, ba in per_source.items()}
    del per_source
    language_ints = {lang: int.from_bytes(ba, "little") for lang, ba in languages.items()}
    universe = (1 << n) - 1

    def term(kid: int, accept: int) -> int:
        x = 0
        for mask, bits in by_kid.get(kid, ()):
            if mask & accept:
                x |= bits
        return x

    results: dict[str, int] = {}
    for h, c in ruleset.compiled.items():
        rule = c.rule
        any_regex, none_regex = ruleset.rule_regexes[h]
        r = universe
        if rule.sources:
            r = 0
            for sid in rule.sources:
                r |= source_ints.get(sid, 0)
        for sid in rule.exclude_sources:
            r &= ~source_ints.get(sid, 0)
        if rule.language:
            r &= language_ints[rule.language.lower()]
        if r and (c.any or any_regex):
            union = 0
            for kid, m in c.any:
                union |= term(kid, m)
            for rid in any_regex:
                union |= regex_ints[rid]
            r &= union
        for kid, m in c.all:
            if r:
                r &= term(kid, m)
        for kid, m in c.none:
            if r:
                r &= ~term(kid, m)
        for rid in none_regex:
            if r:
                r &= ~regex_ints[rid]
        results[h] = r
    enabled_int = (int.from_bytes(enabled_bits, "little") if enabled_bits is not None
                   else universe)
    return Scan(order, results, source_ints, enabled_int)


# -- selection and dedup -------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    stored: Stored
    article_id: int
    sort_ts: float
    url_key: str | None
    sketch: Sketch

    @property
    def source_id(self) -> str:
        return self.stored.source_id

    @cached_property
    def is_copy(self) -> bool:
        """Whether the page says it is a copy (:func:`_is_copy`); a candidate of the cycle's
        cache is asked once, however many feeds show it."""
        return _is_copy(self.stored.article)


def dedup(candidates: Iterable[Candidate], limit: int, prefer: Sequence[str] = ()
          ) -> list[Story[Candidate]]:
    """Group ``candidates`` (newest first) into at most ``limit`` stories (see Deduper)."""
    d: Deduper[Candidate] = Deduper()
    d.feed(candidates, limit)
    return d.stories


def _is_copy(article: Article) -> bool:
    """A page whose canonical link names another site says it is a copy (mirrors do)."""
    own, canonical = url_key(article.url), url_key(article.canonical_url)
    return bool(own and canonical) and own.split("/")[0] != canonical.split("/")[0]  # type: ignore[union-attr]


def _shown_key(prefer: Sequence[str], order: Sequence[str]
               ) -> Callable[[Candidate], tuple[int, bool, float, int, float, int]]:
    """The key by which :func:`representative` picks (built once for a feed's stories)."""
    rank = {sid: n for n, sid in enumerate(prefer)}
    listed = {sid: n for n, sid in enumerate(order)}

    def key(c: Candidate) -> tuple[int, bool, float, int, float, int]:
        a = c.stored.article
        seen = a.first_seen.timestamp() if a.first_seen else c.sort_ts
        sid = c.stored.source_id
        return (rank.get(sid, len(rank)), c.is_copy, seen, listed.get(sid, len(listed)),
                c.sort_ts, c.article_id)

    return key


def representative(story: Story[Candidate], prefer: Sequence[str] = (), order: Sequence[str] = ()
                   ) -> Candidate:
    """The copy a feed shows: the first source in ``prefer``; else not a declared copy; else
    the first seen; else the source listed first in the config (``order``)."""
    return min(story.members, key=_shown_key(prefer, order))


def also_at(story: Story[Candidate], shown: Candidate, names: dict[str, str]) -> Stored:
    """The shown copy, its content followed by links to the other copies ("also at …").

    The links are part of the entry, so a copy joining changes it (RFC 4287 section 4.2.15):
    its ``updated`` is the newest of the copies' own and of the times copies were first seen
    after the shown one (never before its own), so a reader that keys on ``updated`` sees a
    new link even when the copy is older, while copies seen together change nothing; and its
    content hash is that of the content shown, so publishing writes the feed again. Its
    ``published`` stays its own. (Copies of one story come from different sources, see
    :class:`feeds.folding.Deduper`.)"""
    others = [c for c in story.members if c is not shown]
    article = shown.stored.article
    if not others:
        return shown.stored
    links = []
    seen: set[str] = set()
    for c in sorted(others, key=lambda c: (c.stored.source_id, c.article_id)):
        url = c.stored.article.url
        name = names.get(c.stored.source_id, c.stored.source_id)
        if url and url in seen:
            continue
        if url and url.startswith(("http://", "https://")):
            seen.add(url)
            links.append(f'<a href="{html.escape(url)}">{html.escape(name)}</a>')
        else:
            links.append(html.escape(name))
    if not links:
        return shown.stored
    note = f'<p class="also-at">Also at: {", ".join(links)}</p>'
    body = article.content_html or (f"<p>{html.escape(article.summary)}</p>"
                                    if article.summary else "")
    # A copy first seen after the shown one joined the entry then; copies seen with it did
    # not change it.
    first = shown.stored.article.first_seen
    joined = [c.stored.article.first_seen for c in others if c.stored.article.first_seen]
    updated = max(shown.stored.effective_updated,
                  *(c.stored.effective_updated for c in story.members),
                  *(when for when in joined if first is not None and when > first))
    changed = replace(article, content_html=body + note, updated=updated, content_hash="")
    return Stored(shown.stored.source_id, changed)


@dataclass(frozen=True)
class SavedFeed:
    """A feed's stories as kept in ``topic_feed``: the digest of the matches they were made
    from, the ``shape`` (rule, limit, preferences) they are valid for, the member ids of each
    story, the ids of the candidates dedup read (newest first), and whether it read them all."""

    digest: str
    shape: str
    stories: list[list[int]]
    read: list[int]
    ended: bool
    seq: int  # the index sequence number the matches were up to


class _Deeper(Exception):
    """A feed needs older matches than its rule's state keeps."""


class RuleState:
    """The newest ``depth`` matches of one rule that may reach a feed, newest first."""

    __slots__ = ("depth", "gen", "ids", "scope", "seq", "top", "truncated")

    def __init__(self, scope: str, seq: int, depth: int, truncated: bool, gen: int,
                 top: list[tuple[float, int]]) -> None:
        self.scope, self.seq, self.depth = scope, seq, depth
        self.truncated, self.gen, self.top = truncated, gen, top
        self.ids = {aid for _, aid in top}

    def discard(self, aid: int) -> None:
        if aid in self.ids:
            self.ids.discard(aid)
            self.top = [x for x in self.top if x[1] != aid]
            self.gen += 1

    def add(self, sort_ts: float, aid: int) -> None:
        item = (sort_ts, aid)
        # Older than the last kept match while older ones exist: its place is unknown, and
        # it is past what any feed shows.
        if self.truncated and (not self.top or item < self.top[-1]):
            return
        at = bisect.bisect_left(self.top, (-sort_ts, -aid), key=lambda x: (-x[0], -x[1]))
        self.top.insert(at, item)
        self.ids.add(aid)
        self.gen += 1
        if len(self.top) > self.depth:
            self.ids.discard(self.top.pop()[1])
            self.truncated = True

    def discard_many(self, aids: AbstractSet[int]) -> None:
        gone = self.ids & aids
        if gone:
            self.ids -= gone
            self.top = [x for x in self.top if x[1] not in gone]
            self.gen += 1

    def add_many(self, items: Sequence[tuple[float, int]]) -> None:
        """:meth:`add` of each of ``items`` (ids not held), in one merge."""
        if self.truncated:
            # Older than the last kept match while older ones exist: see add().
            items = [x for x in items if self.top and x > self.top[-1]]
        if not items:
            return
        merged = sorted([*self.top, *items], reverse=True)
        if len(merged) > self.depth:
            del merged[self.depth :]
            self.truncated = True
        self.top = merged
        self.ids = {aid for _, aid in merged}
        self.gen += 1

    def pack(self) -> bytes:
        n = len(self.top)
        return struct.pack(f"<{n}d{n}q", *(x[0] for x in self.top), *(x[1] for x in self.top))

    @staticmethod
    def unpack(data: bytes) -> list[tuple[float, int]]:
        n = len(data) // 16
        values = struct.unpack(f"<{n}d{n}q", data)
        return list(zip(values[:n], values[n:], strict=True))


def _load_states(conn: Connection, hashes: Iterable[str]) -> dict[str, RuleState]:
    wanted = set(hashes)
    out = {}
    for row in conn.execute(sa.select(topic_state)):
        if row.rules_hash in wanted:
            out[row.rules_hash] = RuleState(row.scope, row.seq, row.depth, row.truncated,
                                            row.gen, RuleState.unpack(row.top))
    return out


def _save_states(store: Store, states: dict[str, RuleState], keep: Iterable[str]) -> None:
    """Write ``states``; forget the states of rules no longer configured."""
    s = topic_state
    with store.engine.begin() as conn:
        known = {r[0] for r in conn.execute(sa.select(s.c.rules_hash))}
        stale = known - set(keep)
        if len(stale) <= STALE_STATES:
            stale = set()
        gone = [*stale, *(h for h in states if h in known)]
        for start in range(0, len(gone), 500):
            conn.execute(sa.delete(s).where(s.c.rules_hash.in_(gone[start : start + 500])))
        if states:
            conn.execute(sa.insert(s), [
                {"rules_hash": h, "scope": st.scope, "seq": st.seq, "depth": st.depth,
                 "truncated": st.truncated, "gen": st.gen, "top": st.pack()}
                for h, st in states.items()])


def _sketch(article: Article) -> Sketch:
    """The sketch of an article's body (or summary, or title)."""
    return Sketch.of(dedup_text(field_texts(article)))


# Feed entries computed in this process, by everything they depend on (see Index._entries).
_ENTRIES: dict[tuple[Any, ...], list[Stored]] = {}


class Index:
    """Topic and filter results over one store, for one configuration.

    Usage::

        index = Index(config, store)
        index.update()                      # cheap: only new or changed articles
        entries = index.topic_entries(topic, now)

    With no topic and no source filter, update() touches nothing: the ``all`` feed and the
    source feeds read the newest articles straight from the store.
    """

    def __init__(self, config: Config, store: Store, pool: ParsePool | None = None) -> None:
        self.config = config
        self.store = store
        self.pool = pool  # worker processes that fold new articles, when the cycle has them
        self.filters = {
            s.id: Rule.of_filter(s.id, s.filter) for s in config.sources
            if s.filter and (s.filter.include or s.filter.exclude)
        }
        self.topic_rules = {t.id: Rule.of_topic(t) for t in config.topics}
        self.names = {s.id: s.title or s.id for s in config.sources}
        # The all feed must skip what source filters drop: with filters, it is a rule too.
        self.all_rule = Rule() if self.filters else None
        self.enabled = [s.id for s in config.sources if s.enabled]
        self.scope = hashlib.sha256(json.dumps(
            [INDEX_VERSION, sorted(self.enabled), sorted(r.hash for r in self.filters.values())]
        ).encode()).hexdigest()[:32]
        max_entries = config.output.max_entries
        self.depth: dict[str, int] = {}
        # Dedup reads past the limit (copies, and up to `limit` more candidates), so a rule
        # keeps several times the limit; a feed that still runs out asks for more (_Deeper).
        for t in config.topics:
            h = self.topic_rules[t.id].hash
            self.depth[h] = max(self.depth.get(h, 0), 4 * (t.limit or max_entries) + 100)
        for rule in self.filters.values():
            self.depth[rule.hash] = max(self.depth.get(rule.hash, 0), max_entries + 50)
        if self.all_rule is not None:
            h = self.all_rule.hash
            self.depth[h] = max(self.depth.get(h, 0), 4 * max_entries + 100)
        self.filter_hashes = {r.hash for r in self.filters.values()}
        self.seq = 0  # the index sequence number the results are up to, once updated
        self.states: dict[str, RuleState] = {}
        self._updated = False
        self._ruleset: RuleSet | None = None
        self._sketches: list[dict[str, Any]] = []
        # Candidates read in this cycle, by article id: topics share many of their newest.
        self._candidates: dict[int, Candidate] = {}
        self._feeds: dict[str, SavedFeed] | None = None
        # Counters for tests: candidates compared by dedup, feeds resumed from kept stories.
        self.compared = 0
        self.merges = 0
        # Feeds deduped ahead by the worker processes (_prepare), by (rule, digest, shape).
        self._prepared: dict[tuple[str, str, str],
                             tuple[list[Story[Candidate]], list[int], bool]] = {}
        self._prepared_for: datetime | None = None
        # Whether topic_text holds the fields sketches are made of (read once, on demand).
        self._dedup_fields: bool | None = None
        # Per index sequence number, the articles folded after it (see _merge).
        self._folded_since: dict[int, set[int]] = {}

    def _rules(self) -> list[Rule]:
        return [*self.filters.values(), *self.topic_rules.values(),
                *([self.all_rule] if self.all_rule else [])]

    def prepare(self) -> Folding | None:
        """:func:`prepare_index` for these rules (how a cycle folds what it parses), or None
        when there is no rule: nothing is indexed then."""
        return prepare_index(self.store, self.ruleset.fields) if self._rules() else None

    @property
    def ruleset(self) -> RuleSet:
        if self._ruleset is None:
            self._ruleset = RuleSet(self._rules())
        return self._ruleset

    def update(self) -> dict[str, int]:
        """Fold new articles and bring every rule up to date; return how many articles each
        topic and filter rule evaluated (every stored one for a new or changed rule)."""
        self._updated = True
        self._folded_since.clear()
        self._prepared_for = None
        rules = self._rules()
        if not rules:
            # No rule: nothing is folded, and sketches fold their text themselves.
            self._dedup_fields = False
            return {}
        ruleset = self.ruleset
        pool = self.pool
        _, top = refresh_index(self.store, ruleset.fields,
                               fold_many=pool.fold if pool is not None else None,
                               jobs=pool.processes if pool is not None else 1)
        self.seq = top
        hashes = list(ruleset.compiled)
        with self.store.engine.connect() as conn:
            states = _load_states(conn, hashes)
        full = [h for h in hashes if h not in states or states[h].scope != self.scope
                or states[h].depth < self.depth[h]]
        counts = dict.fromkeys(hashes, 0)
        changed: dict[str, RuleState] = {}
        if full:
            done = self._full(full, top, {h: states[h].gen for h in full if h in states})
            for h, (st, n) in done.items():
                states[h] = changed[h] = st
                counts[h] = n
        inc = [h for h in hashes if h not in changed and states[h].seq < top]
        if inc:
            counts.update(self._incremental(inc, states, top))
            changed.update({h: states[h] for h in inc})
        if changed or len(states) != len(hashes):
            _save_states(self.store, changed, hashes)
        self.states = states
        wanted = {r.hash for r in (*self.filters.values(), *self.topic_rules.values())}
        return {h: n for h, n in counts.items() if h in wanted}

    def _full(self, hashes: Sequence[str], top: int, gens: dict[str, int]
              ) -> dict[str, tuple[RuleState, int]]:
        """Evaluate ``hashes`` over every folded article: one pass, then bitsets."""
        rules = {r.hash: r for r in self._rules()}
        need = set(hashes) | self.filter_hashes
        with self.store.engine.connect() as conn:
            result = scan(conn, RuleSet(rules[h] for h in need), self.pool,
                          self.store.sqlite_file, sources=set(self.filters),
                          enabled=set(self.enabled))
        universe = result.universe
        eligible = result.enabled
        for sid, rule in self.filters.items():
            eligible &= ~result.sources.get(sid, 0) | result.results[rule.hash]
        out = {}
        for h in hashes:
            bits = result.results[h] if h in self.filter_hashes else (
                result.results[h] & eligible & universe)
            depth = self.depth[h]
            positions = lowest_bits(bits, depth)
            st = RuleState(self.scope, top, depth, bits.bit_count() > len(positions),
                           gens.get(h, 0) + 1, [result.order[p] for p in positions])
            out[h] = (st, len(result.order))
        log.debug("evaluated %d rules over %d articles", len(hashes), len(result.order))
        return out

    def _incremental(self, hashes: Sequence[str], states: dict[str, RuleState], top: int
                     ) -> dict[str, int]:
        """Evaluate ``hashes`` over the articles folded since each last saw: O(new)."""
        t = topic_text
        counts = dict.fromkeys(hashes, 0)
        low = min(states[h].seq for h in hashes)
        only = set(hashes) | self.filter_hashes
        enabled = set(self.enabled)
        ruleset = self.ruleset
        query = sa.select(t.c.article_id, t.c.seq, t.c.sort_ts, t.c.source_id, t.c.language,
                          t.c.folded).where(t.c.seq > low)
        # Per row (seq, article id), and per rule the (seq, sort_ts, id) it matches: each rule
        # is then updated once, not once per row (a loop over every rule for every row cost
        # more than evaluating the rules).
        seen: list[tuple[int, int]] = []
        adds: dict[str, list[tuple[int, float, int]]] = {h: [] for h in hashes}
        with self.store.engine.connect() as conn:
            for row in conn.execution_options(yield_per=BATCH).execute(query):
                matched = ruleset.evaluate(row.source_id, row.language,
                                           row.folded.split(_SEP), only)
                sid = row.source_id
                f = self.filters.get(sid)
                eligible = sid in enabled and (f is None or f.hash in matched)
                seen.append((row.seq, row.article_id))
                item = (row.seq, row.sort_ts, row.article_id)
                for h in matched:
                    if h in adds and (eligible or h in self.filter_hashes):
                        adds[h].append(item)
        since: dict[int, set[int]] = {}
        for h in hashes:
            st = states[h]
            if st.seq not in since:
                since[st.seq] = {aid for seq, aid in seen if seq > st.seq}
            changed = since[st.seq]
            counts[h] = len(changed)
            # An article folded again may match no more: its old place goes first.
            st.discard_many(changed)
            st.add_many([(ts, aid) for seq, ts, aid in adds[h] if seq > st.seq])
            st.seq = top
        return counts

    def _deepen(self, h: str) -> None:
        """Keep more matches of rule ``h``: a feed ran out of them (many copies or filters)."""
        self.depth[h] = self.states[h].depth * 4
        st, _ = self._full([h], self.seq, {h: self.states[h].gen})[h]
        self.states[h] = st
        _save_states(self.store, {h: st}, list(self.ruleset.compiled))

    # -- candidates and entries -----------------------------------------------------------

    def _load(self, conn: Connection, items: Sequence[tuple[float, int]]) -> list[Candidate]:
        """Candidates for (sort_ts, id) pairs, in that order, with their sketches (computed
        and kept now if missing: sketches are made only for articles that reach a feed)."""
        a, s = articles_table, article_sketch
        query = (sa.select(a, s.c.content_hash.label("sketch_hash"), s.c.url_key, s.c.sketch,
                           s.c.shingles)
                 .select_from(a.outerjoin(s, s.c.article_id == a.c.id)))
        found: dict[int, Candidate] = {}
        cache = self._candidates
        missing = [aid for _, aid in items if aid not in cache]
        rows = conn.execute(query.where(a.c.id.in_(missing))).all() if missing else []
        unsketched = [row.id for row in rows
                      if row.sketch is None or row.sketch_hash != row.content_hash]
        folded = self._folded_bodies(conn, unsketched) if unsketched else {}
        for row in rows:
            article = _article_from_row(row)
            if row.sketch is not None and row.sketch_hash == row.content_hash:
                sketch, key = Sketch.from_bytes(row.sketch, row.shingles), row.url_key
            else:
                done = folded.get(row.id)
                # The index folded this version already: folding again cost ~40 us a candidate.
                if done is not None and done[0] == row.content_hash:
                    sketch, packed = Sketch.packed(dedup_text(done[1].split(_SEP)))
                else:
                    sketch = _sketch(article)
                    packed = sketch.to_bytes()
                key = url_key(article.canonical_url or article.url)
                self._sketches.append({"article_id": row.id, "content_hash": row.content_hash,
                                       "url_key": key, "sketch": packed,
                                       "shingles": sketch.size})
            found[row.id] = Candidate(Stored(row.source_id, article), row.id, row.sort_ts, key,
                                      sketch)
        if len(cache) + len(found) > CANDIDATE_CACHE:
            cache.clear()
        cache.update(found)
        return [cache[aid] for _, aid in items if aid in cache]

    def _sketch_from_index(self, conn: Connection) -> bool:
        """Whether topic_text holds the fields sketches are made of (title, summary, body)."""
        if self._dedup_fields is None:
            meta = _meta(conn)
            have = (set(json.loads(meta["fields"]))
                    if meta.get("version") == str(INDEX_VERSION) and "fields" in meta else set())
            self._dedup_fields = {"title", "summary", "content"} <= have
        return self._dedup_fields

    def _sketch_rows(self, ids: Sequence[int]) -> dict[int, tuple[str | None, bytes, int]]:
        """The kept sketches of ``ids`` (URL key, packed sketch, shingles) with those missing
        made in the worker processes (each reads its share of the folded texts from the
        store file) and kept. An article the workers cannot sketch (its folded text is of
        another version, or the index lacks the fields) is left out."""
        a, s = articles_table, article_sketch
        out: dict[int, tuple[str | None, bytes, int]] = {}
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                for r in conn.execute(
                        sa.select(s.c.article_id, s.c.url_key, s.c.sketch, s.c.shingles)
                        .join(a, a.c.id == s.c.article_id)
                        .where(s.c.article_id.in_(ids[start : start + 500]),
                               s.c.content_hash == a.c.content_hash)):
                    out[r[0]] = (r[1], r[2], r[3])
            usable = self._sketch_from_index(conn)
        missing = [aid for aid in ids if aid not in out]
        pool, path = self.pool, self.store.sqlite_file
        if not missing or pool is None or path is None or not usable:
            return out
        jobs = pool.processes
        parts = [array("q", missing[k::jobs]).tobytes() for k in range(jobs)]
        with ThreadPoolExecutor(jobs, thread_name_prefix="sketch") as threads:
            for rows in threads.map(lambda part: pool.sketch(path, part), parts):
                for aid, content_hash, key, packed, size in rows:
                    out[aid] = (key, packed, size)
                    self._sketches.append({"article_id": aid, "content_hash": content_hash,
                                           "url_key": key, "sketch": packed, "shingles": size})
        self._flush_sketches()
        return out

    def _source_ids(self, ids: Sequence[int]) -> dict[int, str]:
        """The source of each of ``ids`` (dedup never puts two of one source in a story)."""
        a = articles_table
        with self.store.engine.connect() as conn:
            return {r[0]: r[1] for start in range(0, len(ids), 500) for r in conn.execute(
                sa.select(a.c.id, a.c.source_id).where(a.c.id.in_(ids[start : start + 500])))}

    def _folded_bodies(self, conn: Connection, ids: Sequence[int]
                       ) -> dict[int, tuple[str, str]]:
        """(content hash, folded row) of ``ids`` from topic_text, when it holds every field
        dedup_text reads (body, summary, title); else nothing, and _sketch folds them."""
        if not self._sketch_from_index(conn):
            return {}
        t = topic_text
        return {r.article_id: (r.content_hash, r.folded) for r in conn.execute(
            sa.select(t.c.article_id, t.c.content_hash, t.c.folded)
            .where(t.c.article_id.in_(list(ids))))}

    def _flush_sketches(self) -> None:
        if not self._sketches:
            return
        rows, self._sketches = self._sketches, []
        if self.store.engine.dialect.name == "sqlite":
            # One prepared statement through the driver: SQLAlchemy's delete and insert cost
            # more than the sketches themselves when a cycle makes thousands.
            with self.store.engine.begin() as conn:
                conn.exec_driver_sql(
                    f"INSERT OR REPLACE INTO {article_sketch.name} (article_id, content_hash, "
                    "url_key, sketch, shingles) VALUES (?, ?, ?, ?, ?)",
                    [(r["article_id"], r["content_hash"], r["url_key"], r["sketch"],
                      r["shingles"]) for r in rows])
            return
        ids = [r["article_id"] for r in rows]
        with self.store.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(sa.delete(article_sketch).where(
                    article_sketch.c.article_id.in_(ids[start : start + 500])))
            conn.execute(sa.insert(article_sketch), rows)

    def _rule_candidates(self, st: RuleState, since: float | None, first: int
                         ) -> Generator[Candidate, None, None]:
        items = st.top
        n = len(items) if since is None else sum(1 for ts, _ in items if ts >= since)
        with self.store.engine.connect() as conn:
            start, size = 0, first
            while start < n:
                yield from self._load(conn, items[start : min(n, start + size)])
                start, size = start + size, max(size, 64)
        if n == len(items) and st.truncated:
            raise _Deeper

    def _store_candidates(self, source_ids: Sequence[str], first: int
                          ) -> Generator[Candidate, None, None]:
        """The newest articles of ``source_ids``, straight from the store (no rule)."""
        a = articles_table
        with self.store.engine.connect() as conn:
            offset, size = 0, first
            while True:
                items = [(r.sort_ts, r.id) for r in conn.execute(
                    sa.select(a.c.sort_ts, a.c.id).where(a.c.source_id.in_(list(source_ids)))
                    .order_by(a.c.sort_ts.desc(), a.c.id.desc()).limit(size).offset(offset))]
                yield from self._load(conn, items)
                if len(items) < size:
                    return
                offset, size = offset + size, size * 2

    def _entries(self, rules_hash: str | None, limit: int, since: float | None,
                 dedup_on: bool, prefer: Sequence[str]) -> list[Stored]:
        if not self._updated:
            self.update()
        if rules_hash is None:
            stories, _ = self._compute(
                lambda: self._store_candidates(self.enabled, limit * 2), limit, dedup_on)
            return self._finish(stories, prefer)
        while True:
            st = self.states[rules_hash]
            cut, memo, digest, shape = self._feed_key(rules_hash, limit, since, dedup_on, prefer)
            if memo in _ENTRIES:
                return _ENTRIES[memo]
            saved = self._saved_feeds().get(rules_hash)
            if saved is not None and saved.digest == digest:
                # Written by an earlier process from the same matches: no dedup, no sketches.
                stories = self._load_stories(saved.stories)
            else:
                merged = None
                if saved is not None and dedup_on and saved.shape == shape:
                    merged = self._merge(saved, st.top[:cut], limit, st.truncated)
                prepared = self._prepared.pop((rules_hash, digest, shape), None)
                if merged is not None:
                    stories, read, ended = merged
                elif prepared is not None:
                    stories, read, ended = prepared
                else:
                    try:
                        stories, (read, ended) = self._compute(
                            lambda st=st: self._rule_candidates(st, since, limit + 10),  # type: ignore[misc]
                            limit, dedup_on)
                    except _Deeper:
                        self._sketches.clear()
                        self._deepen(rules_hash)
                        continue
                self._save_feed(rules_hash, SavedFeed(digest, shape, [
                    [c.article_id for c in story.members] for story in stories], read, ended,
                    st.seq))
            entries = self._finish(stories, prefer)
            if len(_ENTRIES) > 2000:
                _ENTRIES.clear()
            _ENTRIES[memo] = entries
            return entries

    def _feed_key(self, rules_hash: str, limit: int, since: float | None, dedup_on: bool,
                  prefer: Sequence[str]) -> tuple[int, tuple[Any, ...], str, str]:
        """For a rule's feed: how many of its kept matches are recent enough, the key of its
        entries in this process, the digest of its inputs and its shape (see _entries)."""
        st = self.states[rules_hash]
        cut = len(st.top) if since is None else sum(1 for ts, _ in st.top if ts >= since)
        # The same matches (gen counts every change to them) give the same entries.
        key = (rules_hash, st.gen, st.seq, st.depth, cut, limit, dedup_on, tuple(prefer),
               self.scope, DEDUP_VERSION)
        memo = (self.store.location, *key, tuple(self.names.items()))
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        # The saved feed is only reused for the same limit, dedup and preference.
        shape = hashlib.sha256(repr((rules_hash, st.depth, limit, dedup_on, tuple(prefer),
                                     self.scope, DEDUP_VERSION)).encode()).hexdigest()[:16]
        return cut, memo, digest, shape

    def _prepare(self, now: datetime) -> None:
        """Dedup, in the worker processes, every topic feed that will be computed afresh
        (not kept, not resumable), before the first is asked for: a feed's dedup is
        independent of the others', and the GIL keeps threads from sharing the work.

        A worker gets the feeds' newest candidates (ids, times, URL keys, sketches: no
        article) up to PREFETCH_READS; a feed that would read further (many copies, or its
        rule must keep more matches) is computed here when asked for, as without workers.
        """
        pool = self.pool
        if pool is None or pool.processes < 1:
            return
        feeds: list[tuple[str, str, str, int, list[tuple[float, int]], bool]] = []
        wanted: set[tuple[str, str, str]] = set()
        resumable: list[Topic] = []
        for topic in self.config.topics:
            if not topic.dedup:
                continue
            h = self.topic_rules[topic.id].hash
            limit, since = self._window(topic, now)
            cut, memo, digest, shape = self._feed_key(h, limit, since, True, topic.prefer)
            st = self.states[h]
            saved = self._saved_feeds().get(h)
            if memo in _ENTRIES or (saved is not None and saved.digest == digest):
                continue
            if saved is not None and saved.shape == shape and self._resumable(
                    saved, st.top[:cut], st.truncated) is not None:
                resumable.append(topic)
                continue
            if (h, digest, shape) in wanted:
                continue
            wanted.add((h, digest, shape))
            items = st.top[: min(cut, PREFETCH_READS * limit + PREFETCH_EXTRA)]
            # Reading them all would leave the feed wanting older matches than are kept.
            complete = len(items) == cut and not (cut == len(st.top) and st.truncated)
            feeds.append((h, digest, shape, limit, items, complete))
        if len(feeds) < 2:
            return
        times = {aid: ts for *_, items, _ in feeds for ts, aid in items}
        sketches = self._sketch_rows(sorted(times))
        sources = self._source_ids(sorted(times))
        Batch = list[tuple[str, str, str, int, list[tuple[float, int]], bool]]

        def run(batch: Batch) -> list[tuple[list[list[int]], list[int], bool, int]]:
            ids = {aid for *_, items, _ in batch for _, aid in items}
            rows: dict[int, DedupRow] = {aid: (times[aid], *sketches[aid], sources[aid])
                                         for aid in ids}
            return pool.dedup(rows, [(limit, [aid for _, aid in items])
                                     for _, _, _, limit, items, _ in batch])

        # A feed with a candidate the workers could not sketch is computed when asked for.
        feeds = [f for f in feeds if all(aid in sketches and aid in sources for _, aid in f[4])]
        step = 4 * pool.processes  # small batches: this thread loads one's entries meanwhile
        batches = [feeds[k :: step] for k in range(min(step, len(feeds)))]
        with ThreadPoolExecutor(pool.processes, thread_name_prefix="dedup") as threads:
            results = threads.map(run, batches)
            # Feeds resumed from their kept stories are made here while the workers dedup.
            for topic in resumable:
                self._entries(self.topic_rules[topic.id].hash, *self._window(topic, now),
                              True, topic.prefer)
            for batch, outcomes in zip(batches, results, strict=True):
                done = [(feed, outcome) for feed, outcome in zip(batch, outcomes, strict=True)
                        # One that read all it was given and wants more: computed when asked.
                        if feed[5] or not outcome[2]]
                members = sorted({aid for _, (stories, *_) in done
                                  for story in stories for aid in story})
                with self.store.engine.connect() as conn:
                    loaded = {c.article_id: c for start in range(0, len(members), 500)
                              for c in self._load(conn, [(0.0, aid) for aid in
                                                         members[start : start + 500]])}
                for (h, digest, shape, *_), (stories, read, ran_out, compared) in done:
                    self.compared += compared
                    if all(aid in loaded for story in stories for aid in story):
                        self._prepared[h, digest, shape] = (
                            [Story([loaded[aid] for aid in story]) for story in stories],
                            read, ran_out)
                self._flush_sketches()

    def _load_stories(self, ids: list[list[int]]) -> list[Story[Candidate]]:
        with self.store.engine.connect() as conn:
            loaded = {c.article_id: c for c in self._load(
                conn, [(0.0, aid) for members in ids for aid in members])}
        stories = [Story([loaded[aid] for aid in members if aid in loaded]) for members in ids]
        return [story for story in stories if story.members]

    def _merge(self, saved: SavedFeed, items: Sequence[tuple[float, int]], limit: int,
               truncated: bool) -> tuple[list[Story[Candidate]], list[int], bool] | None:
        """The kept stories of a feed whose matches changed only past the candidates it read
        (so dedup would read the same ones again): loaded, nothing compared. None otherwise,
        and the feed is computed afresh."""
        if self._resumable(saved, items, truncated) is None:
            return None
        self.merges += 1
        return self._load_stories(saved.stories), saved.read, saved.ended

    def _resumable(self, saved: SavedFeed, items: Sequence[tuple[float, int]],
                   truncated: bool) -> int | None:
        """0 when dedup would read what the feed read last time, in the same order, and
        decide the same (see _merge); else None."""
        read = saved.read
        if not read:
            return None
        ids = [aid for _, aid in items]
        if ids[: len(read)] != read:
            # New matches ahead of the ones read (or a read one gone): a fresh run reads the
            # new ones first and may group every later one otherwise (the stories a copy
            # joins, the hashes dropped as boilerplate, where the limit falls depend on the
            # order), so resuming the kept stories would not give the feed a fresh
            # computation gives. Computed afresh (in the worker processes, when there are).
            return None
        if saved.ended and (truncated or len(ids) != len(read)):
            return None
        # An article read last time and folded again since (edited in place) may have
        # another text: the stories made of it are not to be trusted.
        since = self._folded_since.get(saved.seq)
        if since is None:
            # Feeds saved in one cycle share their seq: the query runs once for all of them.
            t = topic_text
            with self.store.engine.connect() as conn:
                since = self._folded_since[saved.seq] = {r[0] for r in conn.execute(
                    sa.select(t.c.article_id).where(t.c.seq > saved.seq))}
        if not since.isdisjoint(read):
            return None
        return 0

    def _saved_feeds(self) -> dict[str, SavedFeed]:
        if self._feeds is None:
            self._feeds = {}
            with self.store.engine.connect() as conn:
                for r in conn.execute(sa.select(topic_feed)):
                    data = json.loads(r.stories)
                    if isinstance(data, dict):
                        self._feeds[r.rules_hash] = SavedFeed(
                            r.digest, data["shape"], data["stories"], data["read"],
                            data["ended"], data["seq"])
                    else:  # written before feeds were resumable: reusable, not mergeable
                        self._feeds[r.rules_hash] = SavedFeed(r.digest, "", data, [], True, 0)
        return self._feeds

    def _save_feed(self, rules_hash: str, feed: SavedFeed) -> None:
        self._saved_feeds()[rules_hash] = feed
        f = topic_feed
        data = {"shape": feed.shape, "stories": feed.stories, "read": feed.read,
                "ended": feed.ended, "seq": feed.seq}
        with self.store.engine.begin() as conn:
            conn.execute(sa.delete(f).where(f.c.rules_hash == rules_hash))
            conn.execute(sa.insert(f).values(rules_hash=rules_hash, digest=feed.digest,
                                             stories=json.dumps(data)))

    def _compute(self, candidates: Callable[[], Generator[Candidate, None, None]], limit: int,
                 dedup_on: bool) -> tuple[list[Story[Candidate]], tuple[list[int], bool]]:
        """The stories of a feed (one candidate each without dedup), newest first, the ids
        of the candidates read, and whether the candidates ran out."""
        cands = candidates()
        try:
            if not dedup_on:
                stories = [Story([c]) for _, c in zip(range(limit), cands, strict=False)]
                read, ended = [], False
            else:
                d: Deduper[Candidate] = Deduper()
                ended = not d.feed(cands, limit)
                stories, read = d.stories, d.read
                self.compared += d.compared
        finally:
            cands.close()
        self._flush_sketches()
        return stories, (read, ended)

    def _finish(self, stories: list[Story[Candidate]], prefer: Sequence[str]) -> list[Stored]:
        key = _shown_key(prefer, [s.id for s in self.config.sources])
        shown = [(s, min(s.members, key=key)) for s in stories]
        if all(len(s.members) == 1 for s in stories):
            return [c.stored for _, c in shown]
        shown.sort(key=lambda sc: (sc[1].sort_ts, sc[1].article_id), reverse=True)
        return [also_at(s, c, self.names) for s, c in shown]

    def _window(self, topic: Topic, now: datetime) -> tuple[int, float | None]:
        """A topic feed's entry limit, and the oldest sort time it shows (with max_age)."""
        since = (now - topic.max_age).timestamp() if topic.max_age else None
        return topic.limit or self.config.output.max_entries, since

    def topic_entries(self, topic: Topic, now: datetime) -> list[Stored]:
        """The entries of a topic feed: matching, filtered, deduplicated, newest first."""
        limit, since = self._window(topic, now)
        if not self._updated:
            self.update()
        if self._prepared_for != now:
            self._prepared_for = now
            self._prepared.clear()
            self._prepare(now)
        return self._entries(self.topic_rules[topic.id].hash, limit, since, topic.dedup,
                             topic.prefer)

    def source_entries(self, source: Source) -> list[Stored]:
        """The entries of one source's feed, after its filter."""
        rule = self.filters.get(source.id)
        if rule is None:
            return self.store.latest(source.id, self.config.output.max_entries)
        return self._entries(rule.hash, self.config.output.max_entries, None, False, ())

    def all_entries(self) -> list[Stored]:
        """The entries of the ``all`` feed: every enabled source, filtered, deduplicated."""
        h = self.all_rule.hash if self.all_rule else None
        return self._entries(h, self.config.output.max_entries, None,
                             self.config.output.dedup, ())
