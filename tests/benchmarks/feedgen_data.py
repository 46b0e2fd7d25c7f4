"""Synthetic but realistic feeds for the benchmarks: RSS 2.0 and Atom, HTML bodies, some Chinese.

Deterministic (seeded), so every run and every tool sees the same bytes. Each entry body is
about 1.2 KB of HTML with relative links, images, entities, the odd ``<script>`` a sanitizer
must drop, and, in one feed in three, Chinese text; 1,000 feeds of 50 entries make ~60 MB.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

# Twenty subjects; topic i matches subject i (an English and a Chinese keyword).
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("Qingdao", "青岛"), ("Python", "编程"), ("climate", "气候"), ("football", "足球"),
    ("election", "选举"), ("vaccine", "疫苗"), ("railway", "铁路"), ("satellite", "卫星"),
    ("tariff", "关税"), ("typhoon", "台风"), ("museum", "博物馆"), ("semiconductor", "芯片"),
    ("earthquake", "地震"), ("orchestra", "交响乐"), ("harbour", "港口"), ("startup", "创业"),
    ("wildfire", "山火"), ("marathon", "马拉松"), ("telescope", "望远镜"), ("pandas", "熊猫"),
)
WORDS = (
    "the", "city", "council", "said", "on", "monday", "that", "the", "new", "plan", "would",
    "bring", "more", "buses", "and", "trains", "to", "the", "northern", "districts", "while",
    "residents", "asked", "for", "clearer", "timetables", "and", "lower", "fares",
    "officials", "expect", "the", "project", "to", "finish", "next", "year", "after", "a",
    "review", "of", "costs", "and", "safety", "reports", "local", "businesses", "welcomed",
    "the", "news", "but", "warned", "about", "construction", "noise", "during", "the",
    "summer", "festival", "season", "when", "visitors", "fill", "hotels", "restaurants",
    "and", "the", "old", "town",
)
HANZI = (
    "记者从市政府获悉今年全市将新建公交线路并优化地铁换乘方便市民出行相关部门表示项目预计明年完工"
    "此前已完成安全评估和成本审查当地商户对此表示欢迎但也担心施工期间的噪音影响夏季旅游旺季游客"
)
BASE = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def _sentence(rng: random.Random, chinese: bool) -> str:
    if chinese:
        start = rng.randrange(len(HANZI) - 40)
        return HANZI[start : start + rng.randint(18, 30)] + "。"
    words = [rng.choice(WORDS) for _ in range(rng.randint(10, 16))]
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random, feed: int, entry: int, chinese: bool, subject: int | None) -> str:
    parts: list[str] = []
    for p in range(rng.randint(2, 3)):
        sentences = [_sentence(rng, chinese) for _ in range(2)]
        if subject is not None and p == 1:
            english, hanzi = SUBJECTS[subject]
            sentences.insert(1, f"{hanzi}{english}相关消息。" if chinese else
                             f"News about {english} ({hanzi}) followed.")
        text = escape(" ".join(sentences))
        if p == 0:
            text += f' <a href="/news/{feed}/{entry}/related.html?utm_source=feed">more</a>'
        parts.append(f"<p>{text}</p>")
    parts.insert(1, f'<figure><img src="/img/{feed}/{entry}.jpg" alt="photo" width="640">'
                    f"<figcaption>{escape(_sentence(rng, chinese))}</figcaption></figure>")
    if entry % 10 == 0:
        parts.append("<script>track('view')</script><p>Copyright &copy; 2024 &amp; partners</p>")
    return "".join(parts)


def _entry_fields(rng: random.Random, feed: int, entry: int) -> dict[str, object]:
    chinese = feed % 3 == 0
    subject = rng.randrange(len(SUBJECTS)) if rng.random() < 0.5 else None
    title = _sentence(rng, chinese)[:60].rstrip(". ")
    if subject is not None and rng.random() < 0.5:
        title = f"{SUBJECTS[subject][1] if chinese else SUBJECTS[subject][0]}: {title}"
    return {
        "title": title,
        "link": f"https://site{feed}.example.org/news/{entry}.html",
        "guid": f"tag:site{feed}.example.org,2024:entry-{entry}",
        "date": BASE - timedelta(hours=entry * 3 + feed % 7, minutes=feed % 60),
        "author": f"Reporter {rng.randint(1, 40)}",
        "category": rng.choice(("local", "world", "business", "science", "sport")),
        "body": _body(rng, feed, entry, chinese, subject),
    }


def rss(feed: int, entries: int) -> bytes:
    rng = random.Random(feed)
    items = []
    for n in range(entries):
        f = _entry_fields(rng, feed, n)
        items.append(
            f"<item><title>{escape(str(f['title']))}</title><link>{f['link']}</link>"
            f"<guid isPermaLink=\"false\">{f['guid']}</guid>"
            f"<pubDate>{format_datetime(f['date'])}</pubDate>"  # type: ignore[arg-type]
            f"<dc:creator>{f['author']}</dc:creator><category>{f['category']}</category>"
            f"<description>{escape(str(f['body'])[:200])}</description>"
            f"<content:encoded><![CDATA[{f['body']}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Site {feed} news</title><link>https://site{feed}.example.org/</link>"
        f"<description>Latest news from site {feed}</description>"
        f"<language>{'zh-cn' if feed % 3 == 0 else 'en'}</language>"
        + "".join(items) + "</channel></rss>\n"
    ).encode("utf-8")


def atom(feed: int, entries: int) -> bytes:
    rng = random.Random(feed)
    items = []
    for n in range(entries):
        f = _entry_fields(rng, feed, n)
        stamp = f["date"].isoformat()  # type: ignore[attr-defined]
        items.append(
            f"<entry><id>{f['guid']}</id><title>{escape(str(f['title']))}</title>"
            f'<link rel="alternate" type="text/html" href="{f["link"]}"/>'
            f"<published>{stamp}</published><updated>{stamp}</updated>"
            f"<author><name>{f['author']}</name></author><category term=\"{f['category']}\"/>"
            f'<content type="html" xml:base="https://site{feed}.example.org/">'
            f"{escape(str(f['body']))}</content></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{_lang(feed)}">'
        f"<id>tag:site{feed}.example.org,2024:feed</id><title>Site {feed} news</title>"
        f'<link rel="alternate" href="https://site{feed}.example.org/"/>'
        f"<updated>{BASE.isoformat()}</updated>"
        + "".join(items) + "</feed>\n"
    ).encode("utf-8")


def _lang(feed: int) -> str:
    return "zh-CN" if feed % 3 == 0 else "en"


def feed_name(feed: int) -> str:
    return f"{feed:05d}.{'atom' if feed % 2 else 'rss'}"


def generate(directory: Path, feeds: int, entries: int) -> int:
    """Write ``feeds`` files into ``directory``; return the total size in bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for feed in range(feeds):
        data = atom(feed, entries) if feed % 2 else rss(feed, entries)
        (directory / feed_name(feed)).write_bytes(data)
        total += len(data)
    return total
