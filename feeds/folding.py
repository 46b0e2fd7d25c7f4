"""The half of the topics machinery a worker process (:mod:`feeds.worker`) runs: folding,
the keyword match pass, near-duplicate sketches and dedup. Kept apart from
:mod:`feeds.topics` (SQLAlchemy) so that workers load little; numpy loads only when a sketch
is made, and the jobs that read the store open its SQLite file read-only
(:func:`feeds.rows.read_only`).

Folding is the one form in which topic keywords and article text are compared: NFKC, case
folding and Traditional to Simplified (OpenCC ``t2s``), so ``青岛`` matches ``青島`` and
``ＱＩＮＧＤＡＯ``.
"""

from __future__ import annotations

import html
import json
import re
import struct
import unicodedata
from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from feeds.extract.chinese import convert
from feeds.rows import TEXT_TABLE, read_only
from feeds.urls import canonical_url

if TYPE_CHECKING:
    from feeds.model import Article

# Between the folded fields of one article in the index; fold() turns it into a space, so no
# keyword spans two fields.
SEP = "\x1f"
_TAGS = re.compile(r"<[^>]+>")


def fold(text: str | None) -> str:
    """The form both keywords and article text are compared in."""
    if not text:
        return ""
    if text.isascii():
        # NFKC and t2s leave ASCII alone, and casefold is lower(): the cheap path.
        return " ".join(text.lower().split())
    # str.split() breaks where \s+ would (str.isspace): re.sub(r"\s+", " ", t).strip(),
    # at a third of the cost.
    return " ".join(fold_chars(text).split())


def fold_chars(text: str) -> str:
    """:func:`fold` without its white-space clean-up: NFKC, case folding, t2s."""
    return convert(unicodedata.normalize("NFKC", text).casefold(), "t2s")


# What may follow a literal and repeat only its last character.
_QUANTIFIER = frozenset("*+?{")


def fold_pattern(pattern: str) -> str:
    """A regular expression for folded text: its literal characters folded as keywords are
    (NFKC, case, t2s), so a pattern in either script matches text in either.

    Only non-ASCII characters change (fold leaves ASCII but its case alone, and patterns
    run with re.IGNORECASE), so the syntax, all ASCII, stays: escapes, classes, groups,
    quantifiers. A run of literals is converted as one (OpenCC converts phrases, as in the
    text), and escaped, since NFKC can make a metacharacter (``（`` is ``(``). In a class
    a character gets its folded form beside it; ranges and group names are kept as written.
    """
    if pattern.isascii():
        return pattern
    out: list[str] = []
    run: list[str] = []  # literal characters (non-ASCII) met in a row, outside classes
    n = len(pattern)

    def flush(following: str) -> None:
        if not run:
            return
        text = "".join(run)
        run.clear()
        if following in _QUANTIFIER:
            # The quantifier repeats the last character: its folded form is grouped.
            if len(text) > 1:
                out.append(re.escape(fold_chars(text[:-1])))
            last = fold_chars(text[-1]) or text[-1]
            out.append(re.escape(last) if len(last) == 1 else f"(?:{re.escape(last)})")
        else:
            out.append(re.escape(fold_chars(text)))

    i = 0
    while i < n:
        ch = pattern[i]
        if not ch.isascii():
            run.append(ch)
            i += 1
            continue
        if ch == "\\" and i + 1 < n and not pattern[i + 1].isascii():
            run.append(pattern[i + 1])  # an escaped non-ASCII character is itself
            i += 2
            continue
        flush(ch)
        if ch == "\\":
            end = i + 2
            if pattern.startswith("N{", i + 1):
                end = pattern.find("}", i) + 1 or n
            out.append(pattern[i:end])
            i = end
        elif ch == "[":
            end = _class_end(pattern, i)
            out.append(_fold_class(pattern[i:end]))
            i = end
        elif pattern.startswith(("(?P<", "(?P=", "(?#"), i):
            # A group's name, a back reference or a comment: not text to match.
            close = ">" if pattern.startswith("(?P<", i) else ")"
            end = pattern.find(close, i) + 1 or n
            out.append(pattern[i:end])
            i = end
        else:
            out.append(ch)
            i += 1
    flush("")
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    """The index after the ``]`` closing the class that opens at ``start``."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):  # a ] first in a class is a literal
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    return len(pattern)


def _fold_class(text: str) -> str:
    """A character class with the folded form of each single non-ASCII member beside it."""
    out = ["["]
    i, n = 1, len(text)
    if text.startswith("^", i):
        out.append("^")
        i += 1
    while i < n:
        # One member: an escape or a character; a range is kept as written.
        size = 2 if text[i] == "\\" and i + 1 < n else 1
        member = text[i : i + size]
        if text.startswith("-", i + size) and i + size + 1 < n and text[i + size + 1] != "]":
            end = i + size + 1
            end += 2 if text[end] == "\\" and end + 1 < n else 1
            out.append(text[i:end])
            i = end
            continue
        out.append(member)
        ch = member[-1]
        if not ch.isascii():
            folded = fold_chars(ch)
            if len(folded) == 1 and folded != ch:
                out.append(re.escape(folded))
        i += size
    return "".join(out)


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
    return _joined(wanted, title, summary, text, content_html,
                   lambda: [p["name"] for p in (*json.loads(authors or "[]"),
                                                *json.loads(contributors or "[]"))],
                   lambda: json.loads(categories or "[]"), source_name)


def fold_article(article: Article, wanted: Sequence[bool]) -> str:
    """:func:`folded_values` of ``article`` as the store will hold it, from the article itself
    (a cycle folds what it parses, in the worker process that parsed it)."""
    a = article
    return _joined(wanted, a.title, a.summary, a.text, a.content_html,
                   lambda: [p.name for p in (*a.authors, *a.contributors)],
                   lambda: list(a.categories), a.source_name)


def _joined(wanted: Sequence[bool], title: str | None, summary: str | None, text: str | None,
            content_html: str | None, people: Callable[[], list[str]],
            categories: Callable[[], list[str]], source_name: str | None) -> str:
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
            out.append(fold("\n".join(people())))
        elif n == 4:
            out.append(fold("\n".join(categories())))
        else:
            out.append(fold(source_name))
    return SEP.join(out)


def fold_rows(rows: Sequence[Sequence[str | None]], wanted: Sequence[bool]) -> list[str]:
    """:func:`folded_values` of many articles (one job of a worker process)."""
    return [folded_values(values, wanted) for values in rows]


# -- keyword occurrences and the match pass (light: a worker process runs it too) -----------


# One regular expression of a match pass: (pattern, field numbers, id of the literal every
# match contains or None, the hit bits of those fields).
RegexJob = tuple[str, tuple[int, ...], int | None, int]
# What a match pass over some rows gives: per (keyword id, mask of its occurrences in one
# article) the positions holding it, and per regular expression its positions, as bitsets.
ScanParts = tuple[dict[tuple[int, int], bytearray], list[bytearray]]


def latin(ch: str) -> bool:
    """A character that continues a Latin word (CJK text has no spaces, so it never does)."""
    return (ch.isalnum() or ch == "_") and ord(ch) < 0x2E80


# Up to this many keywords that count anywhere are looked for with one regular expression
# (a trie of them): about twice as fast as the automaton on Chinese text; above, the
# overlap check below costs more (it compares every pair).
REGEX_WORDS = 400


def _overlap(a: str, b: str) -> bool:
    """Whether an occurrence of ``a`` and one of ``b`` can share a character."""
    if a in b or b in a:
        return True
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b))))


def _trie_pattern(words: Iterable[str]) -> str:
    """A regular expression matching exactly ``words``, branching a character at a time (so
    a position is tried against the few words its character starts, not against all)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        leaves, branches = [], []
        for ch in sorted(k for k in node if k):
            sub = node[ch]
            if list(sub) == [""]:
                leaves.append(re.escape(ch))
            else:
                branches.append(re.escape(ch) + build(sub))
        if leaves:
            branches.append(leaves[0] if len(leaves) == 1 else f"[{''.join(leaves)}]")
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


class Finder:
    """The occurrences of every keyword of a rule set; keyword ``n`` is ``words[n]``.

    Keywords that begin or end with a Latin letter need their occurrences' boundaries looked
    at: an Aho-Corasick automaton reports each occurrence. The others (most Chinese ones)
    count wherever they occur, so only the set of them in each field is wanted: one regular
    expression finds them, for the keywords no other keyword can overlap (then every keyword
    present is found even though the expression reports no overlapping matches); the rest go
    through a second automaton, without a Python step per occurrence.
    """

    def __init__(self, words: Sequence[str]) -> None:
        import ahocorasick

        self.words = list(words)
        anywhere = {w: kid for kid, w in enumerate(self.words)
                    if not latin(w[0]) and not latin(w[-1])}
        solo: dict[str, int] = {}
        if len(anywhere) <= REGEX_WORDS:
            solo = {w: kid for w, kid in anywhere.items()
                    if not any(v != w and _overlap(w, v) for v in anywhere)}
        self.solo = solo
        self.pattern = re.compile(_trie_pattern(solo)) if solo else None
        plain, bounded = ahocorasick.Automaton(), ahocorasick.Automaton()
        for kid, word in enumerate(self.words):
            start, end = latin(word[0]), latin(word[-1])
            if start or end:
                bounded.add_word(word, (kid, len(word), start, end))
            elif word not in solo:
                plain.add_word(word, kid)
        self.plain: Any = None
        self.bounded: Any = None
        if len(plain):
            plain.make_automaton()
            self.plain = plain
        if len(bounded):
            bounded.make_automaton()
            self.bounded = bounded

    def hits(self, fields: Sequence[str]) -> dict[int, int]:
        """keyword id -> mask of (field, boundary combination) of its occurrences: 4 bits a
        field, bit ``2 * bounded at start + bounded at end``."""
        out: dict[int, int] = {}
        plain, bounded, pattern, solo = self.plain, self.bounded, self.pattern, self.solo
        for f, text in enumerate(fields):
            if not text:
                continue
            shift = 4 * f
            bit = 8 << shift  # both ends count as bounded
            if pattern is not None:
                for word in set(pattern.findall(text)):
                    kid = solo[word]
                    out[kid] = out.get(kid, 0) | bit
            if plain is not None:
                for kid in set(map(_second, plain.iter(text))):
                    out[kid] = out.get(kid, 0) | bit
            if bounded is None:
                continue
            last = len(text) - 1
            for end, (kid, length, check_start, check_end) in bounded.iter(text):
                start = end - length + 1
                combo = (2 if not check_start or start == 0 or not latin(text[start - 1])
                         else 0) | (1 if not check_end or end == last
                                    or not latin(text[end + 1]) else 0)
                out[kid] = out.get(kid, 0) | (1 << (combo + shift))
        return out


_second = itemgetter(1)


def scan_rows(rows: Iterable[tuple[int, str]], finder: Finder, regexes: Sequence[RegexJob],
              positions: Mapping[int, int], size: int) -> ScanParts:
    """The keyword and regular expression bitsets (``size`` bytes each) of ``rows``
    (article id, folded text); an article's bit is at ``positions[id]`` (others are skipped).
    An expression runs only on articles holding its literal in one of its fields."""
    postings: dict[tuple[int, int], bytearray] = {}
    bits = [bytearray(size) for _ in regexes]
    compiled = [(bits[n], re.compile(p, re.IGNORECASE), fids, literal, mask)
                for n, (p, fids, literal, mask) in enumerate(regexes)]
    hits, where = finder.hits, positions.get
    for aid, folded in rows:
        at = where(aid)
        if at is None:
            continue
        fields = folded.split(SEP)
        hit = hits(fields)
        byte, bit = at >> 3, 1 << (at & 7)
        for key in hit.items():
            ba = postings.get(key)
            if ba is None:
                ba = postings[key] = bytearray(size)
            ba[byte] |= bit
        for ba, pattern, fids, literal, mask in compiled:
            if literal is not None and not hit.get(literal, 0) & mask:
                continue
            if any(pattern.search(fields[f]) for f in fids):
                ba[byte] |= bit
    return postings, bits


def scan_range(path: str, words: Sequence[str], regexes: Sequence[RegexJob], ids: bytes,
               positions: bytes, size: int) -> ScanParts:
    """:func:`scan_rows` over the folded texts of ``ids`` (int64, ascending; ``positions``
    uint32, one each), read from the SQLite store at ``path`` (one job of a worker process)."""
    from array import array

    id_list, pos_list = array("q"), array("I")
    id_list.frombytes(ids)
    pos_list.frombytes(positions)
    if not id_list:
        return {}, [bytearray(size) for _ in regexes]
    where = dict(zip(id_list, pos_list, strict=True))
    rows = read_only(path).execute(f"SELECT article_id, folded FROM {TEXT_TABLE} "
                                   "WHERE article_id BETWEEN ? AND ?", (id_list[0], id_list[-1]))
    return scan_rows(rows, Finder(words), regexes, where, size)


# -- near-duplicate sketches and dedup (light: a worker process dedups feeds too) -----------

_NOT_WORD = re.compile(r"[\W_]+")


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


def dedup_text(fields: Sequence[str]) -> str:
    """The text near-duplicates are judged on: body (or summary, or title), letters only."""
    body = fields[2] or fields[1] or fields[0]
    return _NOT_WORD.sub("", body)






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


@dataclass(frozen=True)
class Sketch:
    """A bottom-k MinHash sketch: the ``SKETCH_K`` smallest shingle hashes, and the set size."""

    hashes: frozenset[int]
    size: int

    @classmethod
    def of(cls, text: str) -> Sketch:
        return cls.packed(text)[0]

    @classmethod
    def packed(cls, text: str) -> tuple[Sketch, bytes]:
        """The sketch of ``text`` and its :meth:`to_bytes` (made from the sorted array)."""
        if len(text) < MIN_DEDUP_CHARS:
            return cls(frozenset(), 0), b""
        # Vectorised over the code points (a hash per shingle in Python cost ~250 us an
        # article, most of a feed's first build): a polynomial hash of each 6-gram, mixed by
        # splitmix64's finaliser, all in uint64 arithmetic that wraps the same in every process.
        import numpy as np  # here: a worker process that only compares sketches needs none

        # Constants of the shingle hash: numpy scalars, so the arithmetic stays uint64.
        poly, mix1, mix2 = (np.uint64(k) for k in (
            0x100000001B3, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))
        s27, s30, s31, s32 = (np.uint64(k) for k in (27, 30, 31, 32))
        points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
        n = len(points) - SHINGLE + 1
        h = points[:n].copy()
        for j in range(1, SHINGLE):
            h *= poly
            h += points[j : j + n]
        h ^= h >> s30
        h *= mix1
        h ^= h >> s27
        h *= mix2
        h ^= h >> s31
        # sort and a mask of first occurrences: np.unique does the same at several times
        # the cost on arrays this small.
        h.sort()
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(h[1:], h[:-1], out=first[1:])
        distinct = h[first]  # one value per distinct shingle, sorted
        top = distinct[: SKETCH_K + 64] >> s32  # sorted; equal neighbours are collisions
        keep = top[np.concatenate(([True], top[1:] != top[:-1]))][:SKETCH_K]
        return cls(frozenset(keep.tolist()), len(distinct)), keep.astype("<u4").tobytes()

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


# Bump when what dedup groups changes (2: never two articles of one source): feeds kept
# from an earlier dedup are then computed again (feeds.topics.Index._feed_key).
DEDUP_VERSION = 2


class Dedupable(Protocol):
    """What dedup reads of a candidate (feeds.topics.Candidate; DedupItem in a worker)."""

    @property
    def article_id(self) -> int: ...
    @property
    def source_id(self) -> str: ...
    @property
    def sort_ts(self) -> float: ...
    @property
    def url_key(self) -> str | None: ...
    @property
    def sketch(self) -> Sketch: ...


C = TypeVar("C", bound=Dedupable)


@dataclass(frozen=True)
class DedupItem:
    """A candidate as a worker process dedups it: no article, only what dedup reads."""

    article_id: int
    source_id: str
    sort_ts: float
    url_key: str | None
    sketch: Sketch


@dataclass
class Story(Generic[C]):
    """One story and its copies; ``members`` in the order they were met (newest first)."""

    members: list[C] = field(default_factory=list)

    @property
    def newest(self) -> float:
        return max(c.sort_ts for c in self.members)


class Deduper(Generic[C]):
    """The state of one feed's dedup: stories, and lookups by URL and by sketch hash.

    A story holds at most one article of a source: a source's articles have distinct keys
    (feeds.model), so two of them are two articles however alike their text (a daily report
    from one template) or their links; only copies from other sources join a story.

    Candidates are met newest first (:meth:`feed`). A kept feed can be resumed: its stories
    are registered again without comparing anything (:meth:`seed`) and only new candidates
    are compared with them. ``compared`` counts the candidates compared, for tests.
    """

    def __init__(self, max_holders: int = MAX_HOLDERS) -> None:
        self.max_holders = max_holders
        self.stories: list[Story[C]] = []
        self.by_url: dict[str, int] = {}
        # Stories holding each sketch hash, while at most MAX_HOLDERS do; a hash held by more
        # is moved to `crowded` for good, so the lookups below never meet it again. Holders
        # are tuples, so fresh hashes are registered at once (dict.fromkeys) and not one by one.
        self.by_hash: dict[int, tuple[int, ...]] = {}
        self.crowded: set[int] = set()
        self.story_hashes: list[set[int]] = []
        self.newest: list[float] = []  # per story, its newest copy's sort_ts
        self.ends: list[tuple[Sketch, ...]] = []  # per story, its first and last copies
        self.sources: list[set[str]] = []  # per story, the sources of its copies
        self.compared = 0
        self.read: list[int] = []  # the ids of the candidates read, in order

    def match(self, cand: C) -> int | None:
        """The number of the story ``cand`` is a copy of, if any: never one that holds an
        article of its source."""
        self.compared += 1
        source, sources = cand.source_id, self.sources
        if cand.url_key:
            n = self.by_url.get(cand.url_key)
            if n is not None and source not in sources[n]:
                return n
        hashes = cand.sketch.hashes
        if not hashes:
            return None
        # Stories holding each sketch hash; a shingle in many stories is boilerplate
        # ("责任编辑"): it tells nothing, and following it would compare every pair.
        by_hash = self.by_hash
        known = hashes & by_hash.keys()
        if len(known) < MIN_SHARED:
            return None  # no story can share MIN_SHARED hashes
        shared: dict[int, int] = {}
        _count_elements(shared, chain.from_iterable(map(by_hash.__getitem__, known)))
        # Only stories sharing enough sketch hashes can reach the threshold; check those
        # (most shared first; a stable sort keeps ties in the order they were met).
        likely = sorted([(n, c) for n, c in shared.items() if c >= MIN_SHARED],
                        key=itemgetter(1), reverse=True)
        size, held_here, ts = cand.sketch.size, len(hashes), cand.sort_ts
        window, newest, ends = DEDUP_WINDOW.total_seconds(), self.newest, self.ends
        for n, count in likely:
            if abs(newest[n] - ts) > window or source in sources[n]:
                continue
            # The first and the last copies met stand for the story: comparing with every
            # copy of a much-syndicated story would cost more and find nothing new.
            for other in ends[n]:
                # `count` bounds the hashes shared with any one copy: most stories that
                # share template sentences are ruled out here, without comparing sketches.
                if not other.hashes:
                    continue
                j = count / min(SKETCH_K, len(other.hashes) + held_here - count)
                if j * (other.size + size) < DUPLICATE_CONTAINMENT * (1 + j) * min(
                        other.size, size):
                    continue
                if same_story(other, cand.sketch):
                    return n
        return None

    def add(self, cand: C, number: int | None) -> int:
        """Put ``cand`` in story ``number`` (a new story if None); return the story's number."""
        if number is None:
            number = len(self.stories)
            self.stories.append(Story([cand]))
            self.newest.append(cand.sort_ts)
            self.ends.append((cand.sketch,))
            self.sources.append({cand.source_id})
            held = set(cand.sketch.hashes)
            self.story_hashes.append(held)
            new: AbstractSet[int] = cand.sketch.hashes
        else:
            story = self.stories[number]
            self.newest[number] = max(self.newest[number], cand.sort_ts)
            self.ends[number] = (story.members[0].sketch, cand.sketch)
            story.members.append(cand)
            self.sources[number].add(cand.source_id)
            held = self.story_hashes[number]
            new = cand.sketch.hashes - held
            held |= new
        if cand.url_key:
            self.by_url.setdefault(cand.url_key, number)
        if new:
            by_hash = self.by_hash
            old = new & by_hash.keys()
            # Each hash is touched once here, so the order they are registered in is free.
            by_hash.update(dict.fromkeys(new - old - self.crowded, (number,)))
            for h in old:
                holders = by_hash[h]
                if len(holders) < self.max_holders:
                    by_hash[h] = (*holders, number)
                else:
                    del by_hash[h]
                    self.crowded.add(h)
        return number

    def feed(self, candidates: Iterable[C], limit: int) -> bool:
        """Read ``candidates`` (newest first) until ``limit`` stories; after ``limit``
        stories, older candidates are still read for a while, to join copies to stories
        already there, so a story never shows twice just because a copy fell past the end.
        True when it stopped before the candidates ran out."""
        extra = 0
        window = DEDUP_WINDOW.total_seconds()
        for cand in candidates:
            full = len(self.stories) >= limit
            if full:
                extra += 1
                if extra > limit or cand.sort_ts < self.newest[-1] - window:
                    return True
            self.read.append(cand.article_id)
            number = self.match(cand)
            if number is None and full:
                continue
            self.add(cand, number)
        return False


# A candidate as shipped to a worker process: sort_ts, URL key, packed sketch, shingle count,
# source id.
DedupRow = tuple[float, str | None, bytes, int, str]
# A feed's dedup in a worker: the member ids of each story, the ids read, whether the
# candidates ran out, and how many were compared.
DedupOutcome = tuple[list[list[int]], list[int], bool, int]


def dedup_feeds(candidates: Mapping[int, DedupRow], feeds: Sequence[tuple[int, Sequence[int]]]
                ) -> list[DedupOutcome]:
    """:meth:`Deduper.feed` of each feed, given as its limit and its candidates' ids (newest
    first), over ``candidates`` (one job of a worker process)."""
    items = {aid: DedupItem(aid, source, ts, key, Sketch.from_bytes(data, size))
             for aid, (ts, key, data, size, source) in candidates.items()}
    out: list[DedupOutcome] = []
    for limit, ids in feeds:
        d: Deduper[DedupItem] = Deduper()
        stopped = d.feed((items[aid] for aid in ids), limit)
        out.append(([[c.article_id for c in story.members] for story in d.stories], d.read,
                    not stopped, d.compared))
    return out


# A sketch as kept in the store: article id, content hash, URL key, packed sketch, shingles.
SketchRow = tuple[int, str, str | None, bytes, int]


def sketch_range(path: str, ids: bytes) -> list[SketchRow]:
    """The sketches of the articles ``ids`` (int64) from their folded text in the SQLite
    store at ``path``, as :meth:`feeds.topics.Index._load` makes them (one job of a worker
    process); an article whose folded text is of another version is left out."""
    from array import array

    id_list = array("q")
    id_list.frombytes(ids)
    conn = read_only(path)
    out: list[SketchRow] = []
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500].tolist()
        # `articles` is feeds.store's table of articles.
        query = (f"SELECT t.article_id, a.content_hash, t.folded, a.url, a.canonical_url "
                 f"FROM {TEXT_TABLE} t JOIN articles a ON a.id = t.article_id "
                 f"WHERE t.content_hash = a.content_hash "
                 f"AND t.article_id IN ({','.join('?' * len(chunk))})")
        for aid, content_hash, folded, url, canonical in conn.execute(query, chunk):
            sketch, packed = Sketch.packed(dedup_text(folded.split(SEP)))
            out.append((aid, content_hash, url_key(canonical or url), packed, sketch.size))
    return out
