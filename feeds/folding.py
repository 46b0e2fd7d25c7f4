"""Folding: the one form in which topic keywords and article text are compared.

NFKC, case folding and Traditional to Simplified (OpenCC ``t2s``), so ``青岛`` matches
``青島`` and ``ＱＩＮＧＤＡＯ``. Kept apart from :mod:`feeds.topics` (SQLAlchemy, numpy) so that
a worker process (:mod:`feeds.worker`) can fold a cycle's new articles cheaply.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from feeds.extract.chinese import convert

# Between the folded fields of one article in the index; fold() turns it into a space, so no
# keyword spans two fields.
SEP = "\x1f"
_SPACES = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")


def fold(text: str | None) -> str:
    """The form both keywords and article text are compared in."""
    if not text:
        return ""
    if text.isascii():
        # NFKC and t2s leave ASCII alone, and casefold is lower(): the cheap path.
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", convert(text, "t2s")).strip()


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
            people = [p["name"] for p in (*json.loads(authors or "[]"),
                                          *json.loads(contributors or "[]"))]
            out.append(fold("\n".join(people)))
        elif n == 4:
            out.append(fold("\n".join(json.loads(categories or "[]"))))
        else:
            out.append(fold(source_name))
    return SEP.join(out)


def fold_rows(rows: Sequence[Sequence[str | None]], wanted: Sequence[bool]) -> list[str]:
    """:func:`folded_values` of many articles (one job of a worker process)."""
    return [folded_values(values, wanted) for values in rows]


# -- keyword occurrences and the match pass (light: a worker process runs it too) -----------

# The table of folded article texts (feeds.topics.topic_text): a worker reads it directly.
TEXT_TABLE = "topic_text"

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
    import sqlite3
    from array import array

    id_list, pos_list = array("q"), array("I")
    id_list.frombytes(ids)
    pos_list.frombytes(positions)
    if not id_list:
        return {}, [bytearray(size) for _ in regexes]
    where = dict(zip(id_list, pos_list, strict=True))
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        rows = conn.execute(f"SELECT article_id, folded FROM {TEXT_TABLE} "
                            "WHERE article_id BETWEEN ? AND ?", (id_list[0], id_list[-1]))
        return scan_rows(rows, Finder(words), regexes, where, size)
    finally:
        conn.close()
