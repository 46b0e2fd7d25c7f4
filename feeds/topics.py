"""Topics: rules over stored articles, per-source filters, and cross-source dedup.

The flow, as a pipeline::

    articles | index (fold + sketch, once per article version) | match (all rules, one pass)
             | select (newest first, filters, max_age) | dedup (canonical URL, near-duplicate text)

*Folding.* Keywords and article text are compared after NFKC, case folding and Traditional to
Simplified conversion (OpenCC ``t2s``), so ``青岛`` matches ``青島`` and ``ＱＩＮＧＤＡＯ``.
Latin keywords match whole words: ``Taiwan`` does not match ``Taiwanese`` unless the keyword is
written ``Taiwan*`` or the topic sets ``word_boundaries: false``. Regular expressions see the
folded text too (lower case, Simplified), so one pattern catches both scripts.

*Speed.* The folded text and a near-duplicate sketch of every article are computed once and kept
in the ``article_index`` table. Every keyword of every rule goes into one Aho-Corasick automaton
(pyahocorasick), so an article is scanned once however many topics there are; the result of each
rule is kept in ``topic_matches`` under a hash of the rule, with the index sequence number it has
seen. A cycle therefore evaluates only articles that are new or changed; a rule whose text
changed gets a new hash and is evaluated afresh over every stored article.

*Dedup.* Two entries are the same story when their canonical URLs agree, or when their folded
texts (t2s, punctuation and spaces dropped) are near duplicates: a bottom-k MinHash sketch over
character 6-grams estimates the Jaccard similarity, from which the containment of the shorter text
in the longer follows; copies with extra boilerplate have a high containment. Template reports
from two cities share the template but not their names and numbers, and stay apart. The
threshold is tuned on ``tests/data/dedup/pairs.yaml``.
"""

from __future__ import annotations

import hashlib
import heapq
import html
import json
import logging
import re
import struct
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

import ahocorasick
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feeds.config import Config, Filter, Source, Topic
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.store import Store, Stored, _article_from_row, articles_table
from feeds.urls import canonical_url

log = logging.getLogger(__name__)

# Bump when fold(), the fields or the sketch change: every cached result is then recomputed.
INDEX_VERSION = 1

Field = Literal["title", "summary", "content", "author", "categories", "source_name"]
FIELDS: tuple[Field, ...] = ("title", "summary", "content", "author", "categories", "source_name")
DEFAULT_FIELDS: tuple[Field, ...] = ("title", "summary", "content", "categories")

# Sketch: the k smallest 32-bit hashes of the character 6-grams (512 bytes an article).
# Tuned on tests/data/dedup/pairs.yaml: copies (mirrors in the other script, syndicated and
# edited copies) reach a containment of 0.85 or more, template reports of two cities 0.65 at
# most; with k=128 the estimate is within about ±0.05, so the threshold sits in the middle.
SKETCH_K = 128
SHINGLE = 6
# Containment of the shorter text in the longer from which two texts are one story.
DUPLICATE_CONTAINMENT = 0.75
# Copies of one story appear within days of each other; weekly notices with one template don't.
DEDUP_WINDOW = timedelta(days=7)
# Candidate pairs must share this many sketch hashes: a containment of 0.75 gives about 24
# even for a text a quarter the size of the other (tests/test_dedup.py checks the labeled set).
MIN_SHARED = 10
# A sketch hash held by more stories than this is boilerplate and not followed.
MAX_HOLDERS = 8
# Texts shorter than this (in folded characters) are compared only by URL: too little to judge.
MIN_DEDUP_CHARS = 40

_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[\W_]+")
_TAGS = re.compile(r"<[^>]+>")


def fold(text: str | None) -> str:
    """The form both keywords and article text are compared in."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", convert(text, "t2s")).strip()


def _latin(ch: str) -> bool:
    """A character that continues a Latin word (CJK text has no spaces, so it never does)."""
    return (ch.isalnum() or ch == "_") and ord(ch) < 0x2E80


# -- the index: folded text and a sketch per article version --------------------------------

index_metadata = sa.MetaData()

article_index = sa.Table(
    "article_index", index_metadata,
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("folded", sa.Text, nullable=False),  # JSON list, one string per FIELDS entry
    sa.Column("url_key", sa.Text),
    sa.Column("sketch", sa.LargeBinary, nullable=False),
    sa.Column("shingles", sa.Integer, nullable=False),
    sa.Index("ix_article_index_seq", "seq"),
)

topic_matches = sa.Table(
    "topic_matches", index_metadata,
    sa.Column("rules_hash", sa.String(32), primary_key=True),
    sa.Column("article_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sort_ts", sa.Float, nullable=False),
    sa.Column("source_id", sa.String(100), nullable=False),
    sa.Index("ix_topic_matches_sort", "rules_hash", "sort_ts"),
)

topic_progress = sa.Table(
    "topic_progress", index_metadata,
    sa.Column("rules_hash", sa.String(32), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
)


def url_key(url: str | None) -> str | None:
    """What two URLs of one page share: canonical form without scheme, ``www.`` or ``m.``,
    and without a trailing slash or ``index.html``."""
    if not url or not url.startswith(("http://", "https://")):
        return None
    text = canonical_url(url).split("://", 1)[1]
    host, _, rest = text.partition("/")
    for prefix in ("www.", "m.", "wap.", "mobile."):
        if host.startswith(prefix):
            host = host[len(prefix):]
            break
    rest = re.sub(r"(?:/index\.s?html?|/)$", "", "/" + rest)[1:]
    return f"{host}/{rest}"


def field_texts(article: Article) -> list[str]:
    """The folded text of each field in FIELDS order."""
    text = article.text
    if not text and article.content_html:
        text = html.unescape(_TAGS.sub(" ", article.content_html))
    people = [p.name for p in (*article.authors, *article.contributors)]
    raw = [
        article.title, article.summary or "", text or "", "\n".join(people),
        "\n".join(article.categories), article.source_name or "",
    ]
    return [fold(part) for part in raw]


def dedup_text(fields: Sequence[str]) -> str:
    """The text near-duplicates are judged on: body (or summary, or title), letters only."""
    body = fields[2] or fields[1] or fields[0]
    return _NOT_WORD.sub("", body)


@dataclass(frozen=True)
class Sketch:
    """A bottom-k MinHash sketch: the ``SKETCH_K`` smallest shingle hashes, and the set size."""

    hashes: frozenset[int]
    size: int

    @classmethod
    def of(cls, text: str) -> Sketch:
        if len(text) < MIN_DEDUP_CHARS:
            return cls(frozenset(), 0)
        shingles = {text[i : i + SHINGLE] for i in range(len(text) - SHINGLE + 1)}
        hashes = (
            int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little")
            for s in shingles
        )
        return cls(frozenset(heapq.nsmallest(SKETCH_K, hashes)), len(shingles))

    def to_bytes(self) -> bytes:
        return struct.pack(f"<{len(self.hashes)}I", *sorted(self.hashes))

    @classmethod
    def from_bytes(cls, data: bytes, size: int) -> Sketch:
        return cls(frozenset(struct.unpack(f"<{len(data) // 4}I", data)), size)

    def jaccard(self, other: Sketch) -> float:
        """Estimated Jaccard similarity (Broder's bottom-k estimator)."""
        if not self.hashes or not other.hashes:
            return 0.0
        union = sorted(self.hashes | other.hashes)[:SKETCH_K]
        cutoff = union[-1]
        both = sum(1 for h in self.hashes & other.hashes if h <= cutoff)
        return both / len(union)

    def containment(self, other: Sketch) -> float:
        """Estimated share of the smaller text's shingles found in the larger one."""
        j = self.jaccard(other)
        if j <= 0:
            return 0.0
        # |A ∩ B| = J |A ∪ B| and |A ∪ B| = (|A| + |B|) / (1 + J).
        return min(1.0, j * (self.size + other.size) / ((1 + j) * min(self.size, other.size)))


def same_story(a: Sketch, b: Sketch) -> bool:
    shared = len(a.hashes & b.hashes)
    if not shared:
        return False
    # An upper bound first (every shared hash counted), to skip the sort for most pairs.
    j = shared / min(SKETCH_K, len(a.hashes) + len(b.hashes) - shared)
    if j * (a.size + b.size) / ((1 + j) * min(a.size, b.size)) < DUPLICATE_CONTAINMENT:
        return False
    return a.containment(b) >= DUPLICATE_CONTAINMENT


def ensure_tables(store: Store) -> None:
    index_metadata.create_all(store.engine)


def refresh_index(store: Store) -> int:
    """Fold and sketch every article that is new or changed since it was indexed; return how
    many. Costs only the new articles: the rest are skipped by one join on content_hash."""
    ensure_tables(store)
    a, i = articles_table, article_index
    query = (
        sa.select(a)
        .select_from(a.outerjoin(i, i.c.article_id == a.c.id))
        .where(
            sa.or_(
                i.c.article_id.is_(None),
                i.c.content_hash != a.c.content_hash,
                i.c.version != INDEX_VERSION,
            )
        )
    )
    with store.engine.begin() as conn:
        seq = (conn.execute(sa.select(sa.func.max(i.c.seq))).scalar() or 0) + 1
        rows = conn.execute(query).all()
        if not rows:
            return 0
        values = []
        for row in rows:
            article = _article_from_row(row)
            fields = field_texts(article)
            sketch = Sketch.of(dedup_text(fields))
            values.append({
                "article_id": row.id,
                "content_hash": row.content_hash,
                "version": INDEX_VERSION,
                "seq": seq,
                "folded": json.dumps(fields, ensure_ascii=False),
                "url_key": url_key(article.canonical_url or article.url),
                "sketch": sketch.to_bytes(),
                "shingles": sketch.size,
            })
        ids = [v["article_id"] for v in values]
        for start in range(0, len(ids), 500):
            conn.execute(sa.delete(i).where(i.c.article_id.in_(ids[start : start + 500])))
        conn.execute(sa.insert(i), values)
    log.debug("indexed %d articles (seq %d)", len(values), seq)
    return len(values)


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
        data = json.dumps([INDEX_VERSION, *(list(v) if isinstance(v, tuple) else v
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
    need_start = word_boundaries and not suffix and bool(text) and _latin(text[0])
    need_end = word_boundaries and not prefix and bool(text) and _latin(text[-1])
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


class RuleSet:
    """Many rules compiled into one automaton: each article is scanned once for all of them."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.words: dict[str, int] = {}
        self.compiled: dict[str, CompiledRule] = {}
        by_word: dict[int, set[str]] = {}
        self.unconditional: list[str] = []
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

            compiled = CompiledRule(
                rule=rule, hash=h, any=terms(rule.any), all=terms(rule.all),
                none=terms(rule.none),
                any_regex=tuple(re.compile(p, re.IGNORECASE) for p in rule.any_regex),
                none_regex=tuple(re.compile(p, re.IGNORECASE) for p in rule.none_regex),
                field_ids=tuple(FIELDS.index(f) for f in rule.fields),
            )
            self.compiled[h] = compiled
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
        self.automaton: Any = None
        if self.words:
            self.automaton = ahocorasick.Automaton()
            for word, kid in self.words.items():
                self.automaton.add_word(word, (kid, len(word)))
            self.automaton.make_automaton()

    def hits(self, fields: Sequence[str]) -> dict[int, int]:
        """keyword id -> mask of (field, boundary combination) of its occurrences."""
        out: dict[int, int] = {}
        if self.automaton is None:
            return out
        for f, text in enumerate(fields):
            if not text:
                continue
            n = len(text)
            for end, (kid, length) in self.automaton.iter(text):
                start = end - length + 1
                combo = (2 if start == 0 or not _latin(text[start - 1]) else 0) | (
                    1 if end + 1 == n or not _latin(text[end + 1]) else 0
                )
                out[kid] = out.get(kid, 0) | (1 << (combo + 4 * f))
        return out

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


def matches(topic: Topic, article: Article, source_id: str = "") -> bool:
    """Whether one article matches one topic (for previews and tests; feeds use :class:`Index`)."""
    rules = RuleSet([Rule.of_topic(topic)])
    return bool(rules.evaluate(source_id, article.language, field_texts(article)))


def update_matches(store: Store, rules: Sequence[Rule]) -> dict[str, int]:
    """Bring the cached results of ``rules`` up to date; return how many articles each rule
    evaluated (0 when nothing was new). A rule seen for the first time evaluates everything."""
    ensure_tables(store)
    ruleset = RuleSet(rules)
    hashes = list(ruleset.compiled)
    evaluated = dict.fromkeys(hashes, 0)
    i, a = article_index, articles_table
    with store.engine.begin() as conn:
        progress = {row.rules_hash: row.seq for row in conn.execute(sa.select(topic_progress))}
        # Results of rules no longer configured: forget them.
        stale = [h for h in progress if h not in ruleset.compiled]
        for h in stale:
            conn.execute(sa.delete(topic_matches).where(topic_matches.c.rules_hash == h))
            conn.execute(sa.delete(topic_progress).where(topic_progress.c.rules_hash == h))
        top = conn.execute(sa.select(sa.func.max(i.c.seq))).scalar() or 0
        done = {h: progress.get(h, 0) for h in hashes}
        todo = [h for h in hashes if done[h] < top]
        if not todo:
            return evaluated
        for h in todo:
            if done[h] == 0:
                conn.execute(sa.delete(topic_matches).where(topic_matches.c.rules_hash == h))
        low = min(done[h] for h in todo)
        query = (
            sa.select(i.c.article_id, i.c.seq, i.c.folded, a.c.source_id, a.c.language,
                      a.c.sort_ts)
            .select_from(i.join(a, a.c.id == i.c.article_id))
            .where(i.c.seq > low)
        )
        inserts: list[dict[str, Any]] = []
        redone: dict[str, list[int]] = {h: [] for h in todo if done[h] > 0}
        todo_set = set(todo)
        uniform = all(done[h] == low for h in todo)
        rows_seen = 0
        for row in conn.execute(query):
            rows_seen += 1
            if uniform:
                only = todo_set
                for ids in redone.values():
                    ids.append(row.article_id)
            else:
                only = {h for h in todo if done[h] < row.seq}
                for h in only:
                    evaluated[h] += 1
                    if h in redone:
                        redone[h].append(row.article_id)
            fields = json.loads(row.folded)
            for h in ruleset.evaluate(row.source_id, row.language, fields, only):
                inserts.append({"rules_hash": h, "article_id": row.article_id,
                                "sort_ts": row.sort_ts, "source_id": row.source_id})
        if uniform:
            for h in todo:
                evaluated[h] = rows_seen
        for h, ids in redone.items():
            for start in range(0, len(ids), 500):
                conn.execute(sa.delete(topic_matches).where(
                    topic_matches.c.rules_hash == h,
                    topic_matches.c.article_id.in_(ids[start : start + 500])))
        if inserts:
            conn.execute(sa.insert(topic_matches), inserts)
        for h in todo:
            if h in progress:
                conn.execute(sa.update(topic_progress)
                             .where(topic_progress.c.rules_hash == h).values(seq=top))
            else:
                conn.execute(sa.insert(topic_progress).values(rules_hash=h, seq=top))
    return evaluated


# -- selection and dedup -------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    stored: Stored
    article_id: int
    sort_ts: float
    url_key: str | None
    sketch: Sketch


@dataclass
class Story:
    """One story and its copies; ``members`` in the order they were met (newest first)."""

    members: list[Candidate] = field(default_factory=list)

    @property
    def newest(self) -> float:
        return max(c.sort_ts for c in self.members)


def dedup(candidates: Iterable[Candidate], limit: int, prefer: Sequence[str] = ()
          ) -> list[Story]:
    """Group ``candidates`` (newest first) into at most ``limit`` stories.

    After ``limit`` stories, older candidates are still read for a while, to join copies to
    stories already there, so a story never shows twice just because a copy fell past the end.
    """
    stories: list[Story] = []
    by_url: dict[str, Story] = {}
    by_hash: dict[int, list[int]] = {}
    extra = 0
    for cand in candidates:
        full = len(stories) >= limit
        if full:
            extra += 1
            if extra > limit or cand.sort_ts < stories[-1].newest - DEDUP_WINDOW.total_seconds():
                break
        story = by_url.get(cand.url_key) if cand.url_key else None
        if story is None and cand.sketch.hashes:
            shared: dict[int, int] = {}
            for h in cand.sketch.hashes:
                holders = by_hash.get(h, ())
                # A shingle in many stories is boilerplate ("责任编辑"): it tells nothing,
                # and following it would compare every pair.
                if len(holders) > MAX_HOLDERS:
                    continue
                for n in holders:
                    shared[n] = shared.get(n, 0) + 1
            # Only stories sharing enough sketch hashes can reach the threshold; check those.
            for n, count in sorted(shared.items(), key=lambda kv: -kv[1]):
                if count < MIN_SHARED:
                    break
                s = stories[n]
                if abs(s.newest - cand.sort_ts) > DEDUP_WINDOW.total_seconds():
                    continue
                # The first and the last copies met stand for the story: comparing with every
                # copy of a much-syndicated story would cost more and find nothing new.
                if any(same_story(m.sketch, cand.sketch) for m in {id(m): m for m in (
                        s.members[0], s.members[-1])}.values()):
                    story = s
                    break
        if story is None:
            if full:
                continue
            story = Story()
            stories.append(story)
            number = len(stories) - 1
        else:
            number = stories.index(story)
        story.members.append(cand)
        if cand.url_key:
            by_url.setdefault(cand.url_key, story)
        for h in cand.sketch.hashes:
            holders = by_hash.setdefault(h, [])
            if not holders or holders[-1] != number:
                holders.append(number)
    return stories


def _is_copy(article: Article) -> bool:
    """A page whose canonical link names another site says it is a copy (mirrors do)."""
    own, canonical = url_key(article.url), url_key(article.canonical_url)
    return bool(own and canonical) and own.split("/")[0] != canonical.split("/")[0]  # type: ignore[union-attr]


def representative(story: Story, prefer: Sequence[str] = (), order: Sequence[str] = ()
                   ) -> Candidate:
    """The copy a feed shows: the first source in ``prefer``; else not a declared copy; else
    the first seen; else the source listed first in the config (``order``)."""
    rank = {sid: n for n, sid in enumerate(prefer)}
    listed = {sid: n for n, sid in enumerate(order)}

    def key(c: Candidate) -> tuple[int, bool, float, int, float, int]:
        a = c.stored.article
        seen = a.first_seen.timestamp() if a.first_seen else c.sort_ts
        sid = c.stored.source_id
        return (rank.get(sid, len(rank)), _is_copy(a), seen, listed.get(sid, len(listed)),
                c.sort_ts, c.article_id)

    return min(story.members, key=key)


def also_at(story: Story, shown: Candidate, names: dict[str, str]) -> Stored:
    """The shown copy, its content followed by links to the other copies ("also at …")."""
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
    updated = max(c.stored.effective_updated for c in story.members)
    changed = replace(article, content_html=body + note,
                      updated=max(updated, shown.stored.effective_updated))
    return Stored(shown.stored.source_id, changed)


def _candidates(conn: Connection, query: Any) -> Iterator[Candidate]:
    for row in conn.execution_options(yield_per=200).execute(query):
        sketch = Sketch.from_bytes(row.sketch, row.shingles) if row.sketch is not None else (
            Sketch(frozenset(), 0))
        yield Candidate(Stored(row.source_id, _article_from_row(row)), row.id, row.sort_ts,
                        row.url_key, sketch)


# Feed entries computed in this process, by everything they depend on (see Index._entries).
_ENTRIES: dict[tuple[Any, ...], list[Stored]] = {}


class Index:
    """Topic and filter results over one store, for one configuration.

    Usage::

        index = Index(config, store)
        index.update()                      # cheap: only new or changed articles
        entries = index.topic_entries(topic, now)
    """

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.filters = {
            s.id: Rule.of_filter(s.id, s.filter) for s in config.sources
            if s.filter and (s.filter.include or s.filter.exclude)
        }
        self.topic_rules = {t.id: Rule.of_topic(t) for t in config.topics}
        self.names = {s.id: s.title or s.id for s in config.sources}
        self.seq = 0  # the index sequence number the results are up to, once updated

    def update(self) -> dict[str, int]:
        """Index new articles and evaluate every rule over what it has not seen yet."""
        refresh_index(self.store)
        counts = update_matches(self.store, [*self.filters.values(), *self.topic_rules.values()])
        with self.store.engine.connect() as conn:
            self.seq = conn.execute(sa.select(sa.func.max(article_index.c.seq))).scalar() or 0
        return counts

    def _query(self, rules_hash: str | None, source_ids: Sequence[str], since: float | None
               ) -> Any:
        a, i = articles_table, article_index
        columns = [*a.c, i.c.url_key, i.c.sketch, i.c.shingles]
        if rules_hash is None:
            query = sa.select(*columns).select_from(a.outerjoin(i, i.c.article_id == a.c.id))
            order = [a.c.sort_ts.desc(), a.c.id.desc()]
            query = query.where(a.c.source_id.in_(list(source_ids)))
            if since is not None:
                query = query.where(a.c.sort_ts >= since)
        else:
            m = topic_matches
            query = (
                sa.select(*columns)
                .select_from(m.join(a, a.c.id == m.c.article_id)
                             .outerjoin(i, i.c.article_id == a.c.id))
                .where(m.c.rules_hash == rules_hash, m.c.source_id.in_(list(source_ids)))
            )
            order = [m.c.sort_ts.desc(), m.c.article_id.desc()]
            if since is not None:
                query = query.where(m.c.sort_ts >= since)
        return query.order_by(*order)

    def _passing(self, conn: Connection) -> dict[str, set[int]]:
        """Per filtered source, the ids of its articles that pass its filter."""
        out: dict[str, set[int]] = {}
        for sid, rule in self.filters.items():
            rows = conn.execute(sa.select(topic_matches.c.article_id)
                                .where(topic_matches.c.rules_hash == rule.hash))
            out[sid] = {r.article_id for r in rows}
        return out

    def _entries(self, rules_hash: str | None, source_ids: Sequence[str], limit: int,
                 since: float | None, dedup_on: bool, prefer: Sequence[str]) -> list[Stored]:
        # Nothing new indexed since the last cycle of this process: the same entries.
        key = (self.store.location, self.seq, rules_hash, tuple(source_ids), limit, since,
               dedup_on, tuple(prefer), tuple(sorted(r.hash for r in self.filters.values())),
               tuple(self.names.items()))
        if self.seq and key in _ENTRIES:
            return _ENTRIES[key]
        if len(_ENTRIES) > 2000:
            _ENTRIES.clear()
        _ENTRIES[key] = entries = self._compute(rules_hash, source_ids, limit, since, dedup_on,
                                                prefer)
        return entries

    def _compute(self, rules_hash: str | None, source_ids: Sequence[str], limit: int,
                 since: float | None, dedup_on: bool, prefer: Sequence[str]) -> list[Stored]:
        with self.store.engine.connect() as conn:
            passing = self._passing(conn)
            cands = (c for c in _candidates(conn, self._query(rules_hash, source_ids, since))
                     if c.stored.source_id not in passing
                     or c.article_id in passing[c.stored.source_id])
            if not dedup_on:
                return [c.stored for _, c in zip(range(limit), cands, strict=False)]
            stories = dedup(cands, limit, prefer)
        order = [s.id for s in self.config.sources]
        shown = [(s, representative(s, prefer, order)) for s in stories]
        shown.sort(key=lambda sc: (sc[1].sort_ts, sc[1].article_id), reverse=True)
        return [also_at(s, c, self.names) for s, c in shown]

    def _enabled(self) -> list[str]:
        return [s.id for s in self.config.sources if s.enabled]

    def topic_entries(self, topic: Topic, now: datetime) -> list[Stored]:
        """The entries of a topic feed: matching, filtered, deduplicated, newest first."""
        limit = topic.limit or self.config.output.max_entries
        since = (now - topic.max_age).timestamp() if topic.max_age else None
        return self._entries(self.topic_rules[topic.id].hash, self._enabled(), limit, since,
                             topic.dedup, topic.prefer)

    def source_entries(self, source: Source) -> list[Stored]:
        """The entries of one source's feed, after its filter."""
        rule = self.filters.get(source.id)
        if rule is None:
            return self.store.latest(source.id, self.config.output.max_entries)
        return self._entries(rule.hash, [source.id], self.config.output.max_entries, None,
                             False, ())

    def all_entries(self) -> list[Stored]:
        """The entries of the ``all`` feed: every enabled source, filtered, deduplicated."""
        return self._entries(None, self._enabled(), self.config.output.max_entries, None,
                             self.config.output.dedup, ())


def select(topic: Topic, articles: Iterable[Stored], limit: int, now: datetime | None = None
           ) -> Iterator[Stored]:
    """The newest ``limit`` of ``articles`` (newest first) matching ``topic``, without dedup
    (a simple path for previews; feeds use :class:`Index`)."""
    rules = RuleSet([Rule.of_topic(topic)])
    count = 0
    since = now - topic.max_age if topic.max_age and now else None
    for stored in articles:
        if count >= limit:
            return
        if since is not None and stored.sort_date < since:
            continue
        a = stored.article
        if rules.evaluate(stored.source_id, a.language, field_texts(a)):
            count += 1
            yield stored
