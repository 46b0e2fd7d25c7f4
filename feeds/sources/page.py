"""Listing pages -> articles: items from rules or automatic detection, then each new item's page.

The flow of one poll of a page source::

    listing page | items (rules | advertised feed | JSON-LD | repeated links) [| next pages]
        | drop known keys | fetch each new article page (capped) | extract_article | Article

Item keys are canonical URLs (tracking parameters dropped), so an item never comes back as new
because its page changed. A dead article link is logged for that item and skipped this time;
the others carry on.

Links on a page are scraped content, so they are fetched with the source's ``allow_private``
setting, and a ``file:`` link is followed only when the listing page itself is a local file.

Usage::

    articles = collect_page(source, config, response, fetcher, store, now).articles
    listing = list_items(source, config, response, fetcher)   # items only, nothing fetched twice
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from feeds.config import Config, ItemRules, Source
from feeds.encoding import decode_html
from feeds.errors import FetchError, ParseError, SourceError
from feeds.extract.article import Extracted, extract_article
from feeds.extract.chinese import clean_text, convert
from feeds.extract.continued import (
    MAX_PAGES,
    continuation_urls,
    join_pages,
    might_continue,
    parse_page,
)
from feeds.extract.dates import parse_english_date
from feeds.extract.metadata import read_meta, title_parts
from feeds.fetch import Fetcher, Response
from feeds.model import Article
from feeds.sanitize import one_line, shorten
from feeds.selectors import select
from feeds.sources.feed import FeedContext, parse_feed
from feeds.store import Store
from feeds.urls import canonical_url, document_base

if TYPE_CHECKING:
    from feeds.poll import Collected

log = logging.getLogger(__name__)

# A first poll of a listing with hundreds of links must not flood the site: the rest of the
# new items are fetched on the following polls.
MAX_ARTICLE_FETCHES = 30
SUMMARY_CHARS = 600
# Below this much text a feed entry is taken to carry only a summary (full_text: true).
FULL_TEXT_MIN_CHARS = 400

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
NEXT_TEXTS = ("下一页", "下一頁", "下页", "下頁", "next", "next page", "older posts",
              "older entries", "older articles", "older", "more posts", "»", "›")
# Arrows and quotes around a pager's words: "Next »", "← Older Entries", "Older posts →".
_PAGER_MARKS = re.compile(r"^[\s«»‹›<>←→⟵⟶…·|-]+|[\s«»‹›<>←→⟵⟶…·|-]+$")
# A listing's own pages: /page/2/, ?page=2, ?paged=2, /index_1.html (Chinese CMSs).
_PAGE_PATH = re.compile(r"(?:/page/\d+/?$|[?&](?:page|paged|p|pg)=\d+|/index_\d+\.\w+$)",
                        re.IGNORECASE)
# Class/id tokens of page furniture whose links are never articles.
BOILERPLATE_TOKENS = frozenset({
    "nav", "navbar", "navigation", "menu", "menubar", "footer", "foot", "breadcrumb",
    "breadcrumbs", "crumb", "crumbs", "copyright", "sidebar", "share", "sharing", "pager",
    "pagination", "paging", "topbar", "toolbar", "login", "friendlink", "links", "tags",
    "hot", "rank", "ad", "ads", "banner", "related", "recommend",
})
# Not "form": ASP.NET and Discuz pages wrap their whole content in one.
BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "select"})
ARTICLE_TYPES = frozenset({
    "NewsArticle", "Article", "BlogPosting", "ReportageNews", "AnalysisNewsArticle",
    "OpinionNewsArticle", "Report", "ScholarlyArticle", "TechArticle", "LiveBlogPosting",
})
_TOKEN_SPLIT = re.compile(r"[\s_\-]+")
_DIGITS = re.compile(r"\d+")
# Classes a CMS gives one post for what it is about (see _row_classes).
_PER_ROW_CLASS = re.compile(r"^(?:category|tag|format|status|author|post_tag|has|topic)[-_]",
                            re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DATE_FULL = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:：時时点]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_DATE_NO_YEAR = re.compile(
    r"(?<![\d.])(?P<m>\d{1,2})\s*[-/月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s+(?P<H>\d{1,2})[:：](?P<M>\d\d))"
)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # rules are compared, not dated: any `now` will do
_DATE_MONTH_DAY = re.compile(r"(?<!\d)(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
# A bare ``05-01``, ``5/1`` or ``24-05-01`` is also how fractions, scores and issue numbers
# look, so it counts as a date only where listings put dates: set off by spaces or brackets
# at the start or the end of the text (item text around the title), or after a date label.
_SHORT_DATE_CORE = (r"(?:(?P<y>\d\d)-)?(?P<m>\d{1,2})(?(y)-|[-/])(?P<d>\d{1,2})"
               r"(?=$|[\s)\]）】］〕」>])")
_DATE_SHORT = (
    re.compile(r"^[\s(\[（【［〔「<]*" + _SHORT_DATE_CORE),
    re.compile(r"(?:^|(?<=[\s(\[（【［〔「<:：]))" + _SHORT_DATE_CORE + r"[\s)\]）】］〕」>]*$"),
    re.compile(r"(?:日期|时间|時間|发布|發布|发表|發表|更新)\s*[:：]?\s*" + _SHORT_DATE_CORE),
)


@dataclass(frozen=True)
class Item:
    """One entry of a listing page, before its article page is fetched."""

    url: str
    title: str | None = None
    date: datetime | None = None
    summary: str | None = None

    @property
    def key(self) -> str:
        return canonical_url(self.url)


@dataclass(frozen=True)
class Listing:
    """What a listing page gives, and how it was found."""

    url: str
    method: str  # "rules", "feed", "json-ld", "auto"
    items: tuple[Item, ...] = ()
    feed_url: str | None = None
    feed_articles: tuple[Article, ...] = ()
    proposed: ItemRules | None = None  # rules equivalent to automatic detection, if any
    pages: int = 1


@dataclass(frozen=True)
class Skipped:
    """An item whose article page could not be used this time."""

    url: str
    reason: str


@dataclass
class _Report:
    skipped: list[Skipped] = field(default_factory=list)


# -- HTML helpers ------------------------------------------------------------------------------


def parse_html(text: str) -> lxml.html.HtmlElement:
    """An lxml tree of ``text``; ruby annotations, scripts and styles removed."""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8", "replace") or b"<html/>",
                                             parser=parser)
    except (lxml.etree.ParserError, ValueError):
        root = lxml.html.document_fromstring(b"<html><body></body></html>", parser=parser)
    for element in list(root.iter("rt", "rp", "rtc", "script", "style", "noscript",
                                  "template")):
        if element.tag == "script" and "ld+json" in (element.get("type") or ""):
            continue  # JSON-LD is data for item detection
        if element.getparent() is not None and isinstance(element, lxml.html.HtmlElement):
            element.drop_tree()
    return root


def _text(node: Any) -> str:
    if isinstance(node, str):
        return one_line(node)
    if isinstance(node, lxml.html.HtmlElement):
        return " ".join(" ".join(node.itertext()).split())
    return ""


def _first(node: lxml.html.HtmlElement, selector: str | None, regex: str | None) -> str | None:
    if not selector:
        return None
    for result in select(node, selector):
        value = _text(result) if not isinstance(result, str) else result.strip()
        if regex:
            match = re.search(regex, value)
            if not match:
                continue
            value = match.group(1) if match.groups() else match.group(0)
        if value:
            return value
    return None


def parse_listing_date(text: str | None, tz: tzinfo, now: datetime) -> datetime | None:
    """A date as a listing shows it: ISO, ``2021-06-07 10:22``, ``2021年6月7日``, ``06-07 10:22``,
    ``5月1日``, ``(05-01)``, ``[5/1]``, ``24-05-01``, and English ones
    (:func:`feeds.extract.dates.parse_english_date`): ``May 1, 2024``, ``1 May 2024``,
    ``15.10.2026``, ``3 hours ago``, ``yesterday``.

    A local time gets the source's time zone. A date without a year is the most recent such
    day not in the future (a day's grace for clocks and zones): this year's, else last year's
    (the last 29 February for ``02-29``).
    """
    if not text:
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=tz)
    except ValueError:
        pass
    local_now = now.astimezone(tz)
    match = _DATE_FULL.search(text)
    year: int | None = None
    if match:
        year = int(match.group("y"))
    elif (english := parse_english_date(text, tz, now)) is not None:
        return english
    else:
        match = _DATE_NO_YEAR.search(text) or _DATE_MONTH_DAY.search(text) or next(
            (m for m in (p.search(text) for p in _DATE_SHORT) if m), None)
        if match and match.groupdict().get("y"):
            year = 2000 + int(match.group("y"))  # ``24-05-01``: sites that shorten the year
    if not match:
        return None
    groups = match.groupdict()
    month, day = int(groups["m"]), int(groups["d"])
    clock = (int(groups.get("H") or 0), int(groups.get("M") or 0), int(groups.get("S") or 0))
    years = [year] if year is not None else range(local_now.year, local_now.year - 5, -1)
    for candidate in years:
        try:
            value = datetime(candidate, month, day, *clock, tzinfo=tz)
        except ValueError:
            continue  # 02-29 outside a leap year, or no such date at all
        if year is not None or value <= local_now + timedelta(days=1):
            return value
    return None


# -- items from rules --------------------------------------------------------------------------


def items_by_rules(root: lxml.html.HtmlElement, url: str, rules: ItemRules, tz: tzinfo,
                   now: datetime) -> list[Item]:
    """Items picked by the source's selectors. Raises ValueError for a selector that is bad."""
    base = document_base(root, url)
    items: list[Item] = []
    for node in select(root, rules.each, relative=False):
        if not isinstance(node, lxml.html.HtmlElement):
            continue
        href = _first(node, rules.link, rules.regex.get("link"))
        if not href and node.tag == "a":
            href = node.get("href")
        if not href:
            continue
        title = _first(node, rules.title, rules.regex.get("title"))
        if title is None and not rules.title:
            anchors = select(node, "a") if node.tag != "a" else [node]
            title = _text(anchors[0]) if anchors else None
        date_text = _first(node, rules.date, rules.regex.get("date"))
        summary = _first(node, rules.summary, rules.regex.get("summary"))
        items.append(Item(urljoin(base, href.strip()), title or None,
                          parse_listing_date(date_text, tz, now), summary))
    return items


# -- automatic detection -----------------------------------------------------------------------


def advertised_feeds(root: lxml.html.HtmlElement, url: str) -> list[str]:
    """URLs of the feeds a page advertises with ``<link rel="alternate" type=...>``."""
    base = document_base(root, url)
    found = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in FEED_TYPES and href:
            found.append(urljoin(base, href))
    return list(dict.fromkeys(found))


def _jsonld_objects(root: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in root.xpath('//script[contains(@type, "ld+json")]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, TypeError):
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            obj = stack.pop(0)
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                yield obj
                if isinstance(obj.get("@graph"), list):
                    stack.extend(obj["@graph"])


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).rsplit("/", 1)[-1] for k in kinds if k}


def _jsonld_url(obj: Any) -> str | None:
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, dict):
        return None
    for key in ("url", "@id", "mainEntityOfPage"):
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("@id") or value.get("url")
        if isinstance(value, str) and value.strip() and not value.startswith("_:"):
            return value.strip()
    return None


def jsonld_items(root: lxml.html.HtmlElement, url: str, tz: tzinfo, now: datetime) -> list[Item]:
    """Items from JSON-LD: an ItemList's elements, or NewsArticle objects other than the page."""
    base = document_base(root, url)
    page = canonical_url(url)
    items: list[Item] = []
    for obj in _jsonld_objects(root):
        kinds = _types(obj)
        entries: list[Any] = []
        if "ItemList" in kinds:
            elements = obj.get("itemListElement")
            for element in elements if isinstance(elements, list) else []:
                target = element.get("item", element) if isinstance(element, dict) else element
                entries.append(target)
        elif kinds & ARTICLE_TYPES:
            entries.append(obj)
        for entry in entries:
            link = _jsonld_url(entry)
            if not link:
                continue
            absolute = urljoin(base, link)
            if canonical_url(absolute) == page:
                continue  # the page describing itself is no list item
            details = entry if isinstance(entry, dict) else {}
            title = details.get("headline") or details.get("name")
            date = details.get("datePublished") or details.get("dateCreated")
            summary = details.get("description")
            items.append(Item(
                absolute,
                one_line(title) if isinstance(title, str) else None,
                parse_listing_date(date, tz, now) if isinstance(date, str) else None,
                one_line(summary) if isinstance(summary, str) else None,
            ))
    return items


def _tokens(element: lxml.html.HtmlElement) -> set[str]:
    words = f"{element.get('class') or ''} {element.get('id') or ''}".lower()
    return {t for t in _TOKEN_SPLIT.split(words) if t}


def _in_boilerplate(element: lxml.html.HtmlElement) -> bool:
    node: Any = element
    while node is not None and isinstance(node.tag, str):
        if node.tag in BOILERPLATE_TAGS and not _scoped_header(node):
            return True
        if _tokens(node) & BOILERPLATE_TOKENS:
            return True
        if node.get("role") in ("navigation", "banner", "contentinfo"):
            return True
        node = node.getparent()
    return False


def _scoped_header(node: lxml.html.HtmlElement) -> bool:
    """True for a ``<header>``/``<footer>`` inside an ``<article>`` (a blog post's
    ``header.entry-header`` holding its title): that post's own header, not the page's banner
    (HTML-AAM maps only a header outside sectioning content to ``banner``)."""
    return node.tag in ("header", "footer") and any(
        ancestor.tag == "article" for ancestor in node.iterancestors())


def _row_classes(node: lxml.html.HtmlElement) -> list[str]:
    """The classes of ``node`` as every row of a list shares them: a number in a class is the
    row's id (``post-12``, ``entry-5``, ``post-id-34``), and taxonomy classes name the row's own
    category, tags or format (WordPress's ``category-news tag-rust format-video``)."""
    classes = []
    for token in (node.get("class") or "").split():
        if _PER_ROW_CLASS.match(token):
            continue
        classes.append(_DIGITS.sub("#", token))
    return sorted(set(classes))


def _signature(element: lxml.html.HtmlElement, depth: int = 3) -> tuple[str, ...]:
    """Tag and classes of the element and its ancestors: the same in every row of a list."""
    parts = []
    node: Any = element
    for _ in range(depth + 1):
        if node is None or not isinstance(node.tag, str):
            break
        classes = ".".join(_row_classes(node))
        parts.append(f"{node.tag}.{classes}" if classes else str(node.tag))
        node = node.getparent()
    return tuple(parts)


def _url_shape(url: str) -> tuple[str, int, str]:
    """Host, path depth and extension: links to articles of one list share them."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    last = segments[-1] if segments else ""
    extension = last.rsplit(".", 1)[-1].lower() if "." in last else ""
    return (parts.hostname or "", len(segments), extension)


def _looks_like_article(url: str) -> bool:
    path = urlsplit(url).path
    if path in ("", "/"):
        return bool(urlsplit(url).query)
    return bool(_DIGITS.search(path)) or path.count("/") >= 2 or "." in path.rsplit("/", 1)[-1]


def _anchor_text(anchor: lxml.html.HtmlElement) -> str:
    text = _text(anchor)
    # A title attribute completes a visible title cut short ("..."), but an icon link with
    # only a tooltip ("新窗口打开") is no article title.
    title = one_line(anchor.get("title"))
    return title if text and len(title) > len(text) else text


def _long_enough(text: str) -> bool:
    if not text or text.isdigit():
        return False
    han = len(_HAN.findall(text))
    return han >= 5 or (han == 0 and len(text) >= 12 and " " in text) or len(text) >= 16


def _item_element(anchor: lxml.html.HtmlElement, group: set[lxml.html.HtmlElement]
                  ) -> lxml.html.HtmlElement:
    """The highest ancestor of ``anchor`` (up to 4 levels) holding no other link of the list."""
    item = anchor
    node = anchor.getparent()
    for _ in range(4):
        if node is None or node.tag in ("body", "html"):
            break
        if any(other is not anchor and other in group for other in node.iter("a")):
            break
        item = node
        node = node.getparent()
    return item


@dataclass(frozen=True)
class _Block:
    anchors: tuple[lxml.html.HtmlElement, ...]
    items: tuple[Item, ...]
    score: float


def _blocks(root: lxml.html.HtmlElement, url: str, tz: tzinfo, now: datetime,
            allow_file: bool) -> list[_Block]:
    base = document_base(root, url)
    page = canonical_url(url)
    groups: dict[tuple[str, ...], list[tuple[lxml.html.HtmlElement, str, str]]] = defaultdict(list)
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        absolute = urljoin(base, href)
        scheme = urlsplit(absolute).scheme
        if scheme not in ("http", "https") and not (allow_file and scheme == "file"):
            continue
        if canonical_url(absolute) == page or not _looks_like_article(absolute):
            continue
        text = _anchor_text(anchor)
        if not _long_enough(text) or _in_boilerplate(anchor):
            continue
        groups[_signature(anchor)].append((anchor, absolute, text))
    blocks = []
    channel = _title_parts(root)
    for members in groups.values():
        shapes = Counter(_url_shape(absolute) for _, absolute, _ in members)
        shape = shapes.most_common(1)[0][0]
        chosen = [m for m in members if _url_shape(m[1]) == shape]
        anchors = {m[0] for m in chosen}
        elements = {m[0]: _item_element(m[0], anchors) for m in chosen}
        for part in _separate_boxes(chosen, elements):
            block = _block(part, elements, channel, tz, now)
            if block is not None:
                blocks.append(block)
    blocks = _prefer_titles(blocks, tz, now)
    blocks.sort(key=lambda b: b.score, reverse=True)
    return blocks


# Links beside a post's title that lead to the same post: "Read more", "Continue reading",
# "4 Comments", "Posted in ...", "阅读全文".
_SECONDARY_LINK = re.compile(
    r"^(?:read more|read the rest|read full|continue reading|keep reading|full story|"
    r"more\b|\d+\s+(?:comments?|replies|responses)|comments?\b|leave a (?:comment|reply)|"
    r"posted (?:in|on|by)|permalink|阅读全文|閱讀全文|查看全文|查看详情|查看詳情|详情|詳情)",
    re.IGNORECASE)


def _title_quality(block: _Block, tz: tzinfo, now: datetime) -> float:
    """How much a block's links look like the titles of their items: inside (or holding) a
    heading counts for, a "Read more", comments or date link counts against."""
    quality = 0.0
    for anchor, item in zip(block.anchors, block.items, strict=True):
        text = item.title or ""
        if any(a.tag in _HEADING_ELEMENTS for a in anchor.iterancestors()) or next(
                anchor.iter(*_HEADING_ELEMENTS), None) is not None:
            quality += 1
        if _SECONDARY_LINK.match(text) or (
                len(text) <= 30 and parse_listing_date(text, tz, now) is not None):
            quality -= 1
    return quality / len(block.anchors)


def _prefer_titles(blocks: list[_Block], tz: tzinfo, now: datetime) -> list[_Block]:
    """Blocks of links to the same items (a post's title, its "Read more", its date link):
    only the one that looks most like titles keeps its score."""
    quality = [_title_quality(b, tz, now) for b in blocks]
    keys = [{i.key for i in b.items} for b in blocks]
    out = []
    for n, block in enumerate(blocks):
        beaten = any(
            quality[m] > quality[n] and len(keys[n] & keys[m]) >= 0.5 * min(len(keys[n]),
                                                                          len(keys[m]))
            for m in range(len(blocks)) if m != n)
        out.append(replace(block, score=block.score * 0.2) if beaten else block)
    return out


_Member = tuple[lxml.html.HtmlElement, str, str]  # anchor, absolute URL, title


def _item_date(element: lxml.html.HtmlElement, anchor: lxml.html.HtmlElement, tz: tzinfo,
               now: datetime) -> datetime | None:
    """The date of one detected item: a ``<time datetime>`` first (it carries the time and
    zone that the visible "26 November 2026" drops), else a date in the item's text beside
    its title, else a ``<time>``'s text."""
    times = list(element.iter("time"))
    for candidate in times:
        date = parse_listing_date(candidate.get("datetime"), tz, now)
        if date is not None:
            return date
    date = parse_listing_date(_text(element).replace(_text(anchor), " ", 1), tz, now)
    if date is not None:
        return date
    return next((d for d in (parse_listing_date(_text(t), tz, now) for t in times) if d), None)


def _block(members: list[_Member], elements: dict[lxml.html.HtmlElement, Any],
           channel: set[str], tz: tzinfo, now: datetime) -> _Block | None:
    """The block of one group of links, scored: more items, longer titles, dates, summaries
    and thumbnails score higher; a list headed like page furniture (热点排行) scores low."""
    unique = {canonical_url(m[1]) for m in members}
    if len(unique) < 3:
        return None
    items = []
    dated = summaries = thumbnails = 0
    for anchor, absolute, text in members:
        element = elements[anchor]
        date = _item_date(element, anchor, tz, now)
        dated += date is not None
        summary = None
        for paragraph in element.iter("p"):
            paragraph_text = _text(paragraph)
            if len(paragraph_text) > len(text) and anchor not in paragraph.iter("a"):
                summary = paragraph_text
                break
        summaries += summary is not None
        thumbnails += next(element.iter("img"), None) is not None
        items.append(Item(absolute, text, date, summary))
    count = len(items)
    mean_text = sum(len(i.title or "") for i in items) / count
    score = len(unique) * (1 + min(mean_text, 40) / 20) * (1 + dated / count)
    # A news list shows a summary and a picture beside each title; a link box does not.
    score *= (1 + 0.5 * summaries / count) * (1 + 0.25 * thumbnails / count)
    container = _common_ancestor([elements[m[0]] for m in members])
    heading = _heading_above(container) if container is not None else None
    if heading and "".join(heading.split()) in channel:
        # Headed by the channel the page is named after (通知公告_某某市人民政府), even when
        # that channel is 热点新闻.
        score *= 1.5
    elif heading and _FURNITURE_HEADING.search(heading):
        score *= 0.1
    score *= _column_weight(container)
    return _Block(tuple(m[0] for m in members), tuple(items), score)


# Headings of lists that are page furniture, not the page's own list: 热点排行, 点击排行,
# 相关新闻, 推荐阅读, 最新评论. Government sites name their boxes in pinyin abbreviations
# (``rdph``: 热点排行), so the heading text is read, not only class names.
_FURNITURE_HEADING = re.compile(
    r"热点|熱點|热门|熱門|热读|熱讀|热榜|熱榜|热搜|熱搜|热评|熱評|排行|推荐|推薦|人气|人氣|"
    r"(?:相关|相關|延伸)(?:新闻|新聞|阅读|閱讀|文章|链接|鏈接|报道|報道|報導|推荐|推薦|内容|內容)|"
    r"猜你喜欢|猜你喜歡|最新评论|最新評論|友情链接|友情鏈接|精彩图片|精彩圖片|"
    r"\b(?:hot|popular|trending|most read|related|recommended)\b", re.IGNORECASE)
_MORE_LINK = re.compile(r"^(?:更多|查看更多|more|>>|»|＞＞)", re.IGNORECASE)
_HEADING_ELEMENTS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HEADING_TOKEN = re.compile(r"^(?:title|tit|hd|head|header|bt|lm|lanmu|caption|name)\d*$|"
                            r"(?:title|tit)$")
# Class/id tokens of the page's main column and of a side column: a weak hint, used only
# between blocks that are otherwise alike.
_MAIN_TOKENS = frozenset({"main", "content", "contents", "list", "lists", "newslist", "article",
                          "articles", "center", "primary"})
_SIDE_TOKENS = frozenset({"side", "aside", "right", "rside", "fr", "r", "secondary", "extra"})


def _title_parts(root: lxml.html.HtmlElement) -> set[str]:
    """The parts of the page's ``<title>``, compacted: ``通知公告_某某市人民政府``."""
    title = root.find(".//title")
    text = _text(title) if title is not None else ""
    return {"".join(part.split()) for part in title_parts(text)}


def _common_ancestor(elements: Sequence[Any]) -> Any | None:
    """The deepest element holding all ``elements`` (the list they are the rows of)."""
    if not elements:
        return None
    if len(elements) == 1:
        return elements[0].getparent()
    others = [set(e.iterancestors()) for e in elements[1:]]
    for candidate in elements[0].iterancestors():
        if all(candidate in ancestors for ancestors in others):
            return candidate
    return None


def _heading_text(element: Any) -> str | None:
    """The text of ``element`` if it is a list's heading (``<h3>热点排行</h3>``, a short
    ``div.r-tit`` holding an ``<h3>`` and a 更多 link), else None."""
    text = _text(element)
    if not text or len(text) > 40:
        return None
    if element.tag in _HEADING_ELEMENTS:
        return text
    inner = next((e for e in element.iter(*_HEADING_ELEMENTS)), None)
    if inner is not None:
        return _text(inner)
    if any(_HEADING_TOKEN.search(token) for token in _tokens(element)):
        more = [_text(a) for a in element.iter("a") if _MORE_LINK.match(_text(a))]
        for word in more:
            text = text.replace(word, "")
        return text.strip() or None
    return None


def _heading_above(container: Any, stop: Any | None = None) -> str | None:
    """The heading shown right above a list: a heading before it among its siblings or
    those of its ancestors (up to 4 levels, never at or above ``stop``), with nothing but
    empty elements between."""
    node = container
    for _ in range(4):
        parent = node.getparent()
        if node is stop or parent is None or parent.tag in ("body", "html"):
            return None
        for sibling in node.itersiblings(preceding=True):
            if not isinstance(sibling.tag, str):
                continue
            heading = _heading_text(sibling)
            if heading is not None:
                return heading
            if _text(sibling):
                return None  # other content in between: a heading above it is not this list's
        if parent is stop:
            return None
        node = parent
    return None


def _has_more_link(box: Any) -> bool:
    return any(_MORE_LINK.match(_text(a)) for a in box.iter("a"))


def _separate_boxes(members: list[_Member], elements: dict[lxml.html.HtmlElement, Any]
                    ) -> list[list[_Member]]:
    """The links of one look, split into the boxes they sit in when each box is a list of its
    own (its heading, a 更多 link): a portal's channel boxes (国际, 社会, 体育) are three
    short lists, not one long one. Rows of one list split across a few ``<ul>``s under one
    heading stay together."""
    containers = [elements[m[0]].getparent() for m in members]
    distinct = list(dict.fromkeys(c for c in containers if c is not None))
    if len(distinct) < 2:
        return [members]
    top = _common_ancestor(distinct)
    if top is None:
        return [members]
    boxes: dict[Any, list[_Member]] = defaultdict(list)
    for member, container in zip(members, containers, strict=True):
        box = container
        while box is not None and box.getparent() is not top:
            box = box.getparent()
        boxes[box if box is not None else top].append(member)
    if len(boxes) < 2:
        return [members]
    own = [box for box in boxes
           if _heading_above(_first_container(box, boxes[box], elements), top) is not None
           or (box is not top and _has_more_link(box))]
    if len(own) < len(boxes):
        return [members]
    return list(boxes.values())


def _first_container(box: Any, members: list[_Member],
                     elements: dict[lxml.html.HtmlElement, Any]) -> Any:
    parent = elements[members[0][0]].getparent()
    return parent if parent is not None else box


def _column_weight(container: Any | None) -> float:
    """A little more for a list inside the main column (``main``, ``content``, ``list``
    containers), a little less inside a side column (``right``, ``side``)."""
    weight = 1.0
    node = container
    main = side = False
    while node is not None and isinstance(node.tag, str) and node.tag not in ("body", "html"):
        tokens = _tokens(node)
        main = main or node.tag == "main" or node.get("role") == "main" or bool(
            tokens & _MAIN_TOKENS)
        side = side or bool(tokens & _SIDE_TOKENS)
        node = node.getparent()
    if main:
        weight *= 1.2
    if side:
        weight *= 0.8
    return weight


def _css_step(elements: Sequence[Any]) -> str:
    """A CSS step matching all ``elements``: their tag and the classes they all share."""
    first = elements[0]
    shared = set((first.get("class") or "").split())
    for element in elements[1:]:
        shared &= set((element.get("class") or "").split())
    # A class shared by chance (every post here is in category-news) is no rule.
    classes = sorted(c for c in shared if re.fullmatch(r"[A-Za-z_][\w-]*", c)
                     and not _PER_ROW_CLASS.match(c))
    return str(first.tag) + "".join(f".{c}" for c in classes)


def _date_selector(elements: Sequence[Any], block: _Block) -> str | None:
    """A selector for the date of the detected items, relative to each item: a
    ``<time datetime>``'s attribute, else the element whose text is the date (with its
    position among its kind when an earlier one comes first, as in a table row's cells).
    Never the item itself, nor an element holding the title link, whose text the title
    would confuse. None unless it reads a date in (nearly) every item that has one."""
    anchors = set(block.anchors)
    dated = [e for e, i in zip(elements, block.items, strict=True) if i.date is not None]
    if not dated:
        return None
    candidates: list[str] = []
    for element in dated[:3]:
        for node in element.iter():
            if node is element or not isinstance(node.tag, str) or node.tag == "a" or \
                    any(a in anchors for a in node.iter("a")):
                continue
            step = _css_step([node])
            if node.tag == "time" and parse_listing_date(node.get("datetime"), UTC, _EPOCH):
                candidates.append(f"{step}@datetime")
            elif len(_text(node)) <= 40 and parse_listing_date(_text(node), UTC, _EPOCH):
                candidates.append(step)
                parent = node.getparent()
                position = 1 + sum(1 for s in node.itersiblings(preceding=True)
                                   if s.tag == node.tag)
                if parent is not None and parent is not element:
                    candidates.append(f"{_css_step([parent])} > {step}:nth-of-type({position})")
                else:
                    candidates.append(f"{step}:nth-of-type({position})")
    # A datetime attribute first: it carries the time the visible text leaves out.
    candidates.sort(key=lambda c: not c.endswith("@datetime"))
    for selector in dict.fromkeys(candidates):
        try:
            read = sum(parse_listing_date(_first(e, selector, None), UTC, _EPOCH) is not None
                       for e in dated)
        except ValueError:
            continue
        if read >= 0.9 * len(dated):
            return selector
    return None


def _propose_rules(root: lxml.html.HtmlElement, block: _Block) -> ItemRules | None:
    """CSS rules that select the same items as the detected block, if simple ones do."""
    anchors = set(block.anchors)
    elements = [_item_element(a, anchors) for a in block.anchors]
    if len({e.tag for e in elements}) != 1:
        return None
    steps = [_css_step(elements)]
    parents = [e.getparent() for e in elements]
    if all(p is not None and p.tag not in ("body", "html") for p in parents):
        ids = {p.get("id") for p in parents}
        only = next(iter(ids)) if len(ids) == 1 else None
        if only and re.fullmatch(r"[A-Za-z][\w-]*", only):
            steps.insert(0, f"#{only}")
        elif len({p.tag for p in parents}) == 1:
            steps.insert(0, _css_step(parents))
    each = " > ".join(steps)
    first = elements[0]
    link = "@href" if first.tag == "a" else _css_step(block.anchors) + "@href"
    date = _date_selector(elements, block) if first.tag != "a" else None
    rules = ItemRules(each=each, link=link, date=date)
    try:
        picked = {canonical_url(i.url) for i in items_by_rules(
            root, "http://x.invalid/", rules, UTC, _EPOCH)}
    except ValueError:
        return None
    wanted = {canonical_url(urljoin("http://x.invalid/", a.get("href") or ""))
              for a in block.anchors}
    overlap = len(picked & wanted)
    if overlap >= 0.9 * len(wanted) and len(picked) <= 1.2 * len(wanted):
        return rules
    return None


def next_page_url(root: lxml.html.HtmlElement, url: str) -> str | None:
    """The next page of a listing: ``rel="next"``, or a link reading ``下一页`` / ``Next``."""
    base = document_base(root, url)
    for element in root.xpath('//link[@rel="next"][@href] | //a[@rel="next"][@href]'):
        if isinstance(element, lxml.html.HtmlElement):
            return urljoin(base, str(element.get("href") or "").strip())
    for anchor in root.iter("a"):
        href = str(anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:")):
            continue
        text = _text(anchor).lower()
        words = _PAGER_MARKS.sub("", text)
        if text in NEXT_TEXTS or (words and words in NEXT_TEXTS) or (
                # "Next" on an article leads to the next post; in a listing's pager it
                # leads to /page/2/.
                words.startswith("next") and _PAGE_PATH.search(urljoin(base, href))):
            return urljoin(base, href)
    return None


# -- listing ---------------------------------------------------------------------------------


def _dedupe(items: Iterable[Item]) -> list[Item]:
    """Items in page order, each once, with listing text cleaned as every text field is."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key not in seen:
            seen.add(item.key)
            out.append(replace(item, title=clean_text(item.title) or None,
                               summary=clean_text(item.summary) or None))
    return out


def parse_listing(html: str, url: str, *, rules: ItemRules | None, tz: tzinfo, now: datetime,
                  allow_file: bool, source_id: str = "preview") -> Listing:
    """Items of one listing page, without fetching anything (an advertised feed is named only).

    Raises ParseError if the rules are bad or nothing like a list of articles is found.
    """
    root = parse_html(html)
    if rules is not None:
        try:
            items = items_by_rules(root, url, rules, tz, now)
        except ValueError as e:
            raise ParseError(source_id, url, f"{e}; fix items: in the config") from e
        # Not filtered by scheme here: a refused file: link is reported for its item on fetch.
        if not items:
            raise ParseError(source_id, url, f"selectors match nothing (items.each = "
                             f"{rules.each!r}); check them with `feeds preview {source_id}`")
        return Listing(url, "rules", tuple(_dedupe(items)))
    feeds = [f for f in advertised_feeds(root, url) if _allowed_scheme(f, allow_file)]
    if feeds:
        return Listing(url, "feed", feed_url=feeds[0])
    items = [i for i in jsonld_items(root, url, tz, now) if _allowed_scheme(i.url, allow_file)]
    if items:
        return Listing(url, "json-ld", tuple(_dedupe(items)))
    blocks = _blocks(root, url, tz, now, allow_file)
    if not blocks:
        raise ParseError(source_id, url,
                         "no list of articles found; add items: rules (see `feeds preview`)")
    best = blocks[0]
    return Listing(url, "auto", tuple(_dedupe(best.items)), proposed=_propose_rules(root, best))


def _allowed_scheme(url: str, allow_file: bool) -> bool:
    scheme = urlsplit(url).scheme
    return scheme in ("http", "https") or (allow_file and scheme == "file")


def _is_local_url(url: str) -> bool:
    scheme = urlsplit(url).scheme
    return scheme == "file" or scheme == "" or len(scheme) == 1


def _fetch_linked(source: Source, config: Config, fetcher: Fetcher, url: str,
                  allow_file: bool, accept: str | None = None) -> Response:
    """Fetch a URL found on a page, under the rules for scraped links."""
    scheme = urlsplit(url).scheme
    if scheme == "file" or _is_local_url(url):
        if not allow_file:
            raise FetchError(source.id, url,
                             "refusing to follow a file: link found on a remote page")
    elif scheme not in ("http", "https"):
        raise FetchError(source.id, url, f"refusing to follow a {scheme}: link")
    return fetcher.get(
        url,
        source_id=source.id,
        headers=source.headers,
        proxy=source.proxy,
        allow_private=config.allow_private(source),
        timeout=config.defaults.timeout.total_seconds(),
        max_bytes=config.defaults.max_bytes,
        accept=accept,
    )


def list_items(source: Source, config: Config, response: Response, fetcher: Fetcher,
               now: datetime) -> Listing:
    """The items of a page source (following ``max_pages``), or its advertised feed's articles."""
    allow_file = _is_local_url(response.url)
    tz = config.timezone(source)
    html, _codec = decode_html(response.body, response.content_type)
    listing = parse_listing(html, response.url, rules=source.items, tz=tz, now=now,
                            allow_file=allow_file, source_id=source.id)
    if listing.method == "feed" and listing.feed_url:
        try:
            feed_response = _fetch_linked(source, config, fetcher, listing.feed_url, allow_file,
                                          accept="application/atom+xml, application/rss+xml")
            context = FeedContext(source.id, feed_response.url, tz, source.language,
                                  source.convert)
            parsed = parse_feed(feed_response.body, context, feed_response.content_type)
        except SourceError as e:
            log.warning("%s: advertised feed %s unusable (%s); detecting items on the page",
                        source.id, listing.feed_url, e.message)
            listing = parse_listing(_without_feed_links(html), response.url, rules=None, tz=tz,
                                    now=now, allow_file=allow_file, source_id=source.id)
        else:
            # Keys are canonical URLs, as for every page item, so switching detection
            # methods later never makes old stories new again.
            articles = tuple(
                replace(a, key=canonical_url(a.url), content_hash="") if a.url else a
                for a in parsed.articles
            )
            return replace(listing, feed_articles=articles)
    items = list(listing.items)
    page_url, page_html, pages = response.url, html, 1
    seen_pages = {canonical_url(page_url)}
    while pages < source.max_pages:
        following = next_page_url(parse_html(page_html), page_url)
        if not following or canonical_url(following) in seen_pages:
            break
        seen_pages.add(canonical_url(following))
        try:
            next_response = _fetch_linked(source, config, fetcher, following, allow_file)
        except SourceError as e:
            log.warning("%s: next page %s: %s", source.id, following, e.message)
            break
        page_url = next_response.url
        page_html, _ = decode_html(next_response.body, next_response.content_type)
        pages += 1
        try:
            more = parse_listing(page_html, page_url, rules=source.items, tz=tz, now=now,
                                 allow_file=allow_file, source_id=source.id)
        except ParseError:
            break
        items.extend(more.items)
    return replace(listing, items=tuple(_dedupe(items)), pages=pages)


def _without_feed_links(html: str) -> str:
    return re.sub(r"<link[^>]+rel=[\"']?alternate[^>]*>", "", html, flags=re.IGNORECASE)


# -- articles --------------------------------------------------------------------------------


def _names_the_site(page_title: str, listed: str) -> bool:
    """True if the title an article page gives is the site's name, not this item's headline:
    short, much shorter than the listing's title and sharing few of its characters, or
    opening it (``某某市人民政府`` for ``某某市人民政府关于…的通知``). Pages whose ``<title>``
    is only the site name, and that show their headline in no element the extractor
    recognises, give every item of a feed the same title; the listing has them right."""
    page, wanted = "".join(page_title.split()), "".join(listed.split())
    if not page or len(page) > 16 or len(wanted) < 1.5 * len(page) or not _long_enough(listed):
        return False
    if page in wanted:
        # Only a name: a short headline the listing extends (港澳会议召开 for
        # 港澳会议召开各方代表参加) is the page's own.
        return page.endswith(_SITE_NAME_ENDS)
    return len(set(page) & set(wanted)) < 0.5 * len(set(page))


# How the names of Chinese sites and the bodies that run them end.
_SITE_NAME_ENDS = ("政府", "网", "網", "局", "厅", "廳", "委", "委员会", "委員會", "办公室",
                   "辦公室", "中心", "报", "報", "台", "站", "门户", "門戶", "官网", "部", "院",
                   "署", "处", "處", "协会", "協會", "集团", "集團", "公司", "大学", "大學")


def _day_only(value: datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)


def _published(page: datetime | None, listed: datetime | None) -> datetime | None:
    """The article page's date, unless it names only a day and the listing gives a time on
    that day (``<time datetime="2026-11-26T07:40:00Z">`` beside a page's "26 November
    2026"): midnight in the source's zone can fall on another UTC day than the story. Each
    date's day is read in its own zone and in the other's, as the page and the listing may
    state different ones."""
    if page is None or listed is None or not _day_only(page) or _day_only(listed):
        return page or listed
    days = {listed.date(), listed.astimezone(page.tzinfo).date()}
    return listed if page.date() in days else page


def article_from(item: Item, extracted: Extracted, source: Source, url: str | None = None
                 ) -> Article:
    """The Article of one item: the page's fields first, the listing's as fallback.

    ``url`` is the public address of an item read from a local copy.
    """
    conversion = source.convert
    listed = convert(clean_text(one_line(item.title)), conversion)
    title = extracted.title or listed or item.url
    if extracted.title and listed and _names_the_site(extracted.title, listed):
        title = listed
    listing_summary = convert(clean_text(item.summary), conversion) if item.summary else ""
    summary = extracted.summary or listing_summary or shorten(extracted.text, SUMMARY_CHARS)
    return Article(
        key=item.key[:2000],
        url=url or item.url,
        canonical_url=extracted.canonical_url or item.key,
        title=title[:1000],
        summary=summary or None,
        content_html=extracted.content_html or None,
        text=extracted.text or None,
        published=_published(extracted.published, item.date),
        authors=extracted.authors,
        contributors=extracted.contributors,
        source_name=extracted.source_name,
        language=extracted.language or source.language,
        images=extracted.images,
    )


def public_address(html: str) -> str | None:
    """The http(s) canonical URL a page declares, if any."""
    try:
        tree = lxml.html.fromstring(html.encode("utf-8"))
    except (lxml.etree.ParserError, ValueError):
        return None
    canonical = read_meta(tree).canonical
    if canonical and canonical.startswith(("http://", "https://")):
        return canonical
    return None


def _extract_page(source: Source, config: Config, html: str, base: str, url: str,
                  now: datetime) -> Extracted:
    try:
        return extract_article(
            html, base, timezone=config.timezone(source), rules=source.article, now=now,
            image_proxy=source.image_proxy, conversion=source.convert,
        )
    except SourceError:
        raise
    except Exception as e:  # extraction bugs must cost one item, not the source
        log.exception("%s: extracting %s failed", source.id, url)
        raise ParseError(source.id, url, f"extraction failed: {e!r}") from e


def _same_story(first: Extracted, page: Extracted) -> bool:
    """A continuation page carries the article's headline (or none): a page that shows
    another headline was a misread link, not the rest of this story."""
    a, b = "".join(first.title.split()), "".join(page.title.split())
    if not a or not b:
        return True
    return len(set(a) & set(b)) >= 0.6 * min(len(set(a)), len(set(b)))


def _with_continuations(source: Source, config: Config, fetcher: Fetcher, first: Extracted,
                        article_url: str, urls: list[str], now: datetime, allow_file: bool
                        ) -> Extracted:
    """``first`` with the bodies of the article's further pages (see feeds.extract.continued).

    Each page is fetched once, under the same rules as the first, up to MAX_PAGES pages in
    all; pages a later page links to (a pager showing a window of numbers) join the queue.
    When a page fails, what was fetched is kept and a closing note links the pages left.
    These fetches do not count against MAX_ARTICLE_FETCHES: that cap counts stories, and a
    story stored half would never be completed (its key is known from then on).
    """
    queue = list(urls)
    seen = {canonical_url(article_url), *(canonical_url(u) for u in queue)}
    pages: list[Extracted] = []
    missing: list[str] = []
    for position, url in enumerate(queue):
        if len(pages) + 1 >= MAX_PAGES:
            log.info("%s: %s has more than %d pages; linking the rest", source.id, article_url,
                     MAX_PAGES)
            missing = queue[position:]
            break
        try:
            response = _fetch_linked(source, config, fetcher, url, allow_file)
            html, _codec = decode_html(response.body, response.content_type)
            page = _extract_page(source, config, html, response.url, url, now)
            if not page.text:
                raise ParseError(source.id, url, "no article text on this page")
        except SourceError as e:
            log.warning("%s: page %d of %s unavailable: %s", source.id, len(pages) + 2,
                        article_url, e.message)
            missing = queue[position:]
            break
        if canonical_url(response.url) == canonical_url(article_url) or \
                not _same_story(first, page) or \
                any(page.text == other.text for other in (first, *pages)):
            log.info("%s: %s is not a further page of %s; ignored", source.id, url,
                     article_url)
            continue
        pages.append(page)
        if might_continue(html, response.url):
            for found in continuation_urls(parse_page(html), response.url,
                                           article_url=article_url):
                if canonical_url(found) not in seen:
                    seen.add(canonical_url(found))
                    queue.append(found)
    if not pages and not missing:
        return first
    numbered = [(len(pages) + 2 + k, url) for k, url in enumerate(missing)]
    return join_pages(first, pages, missing=numbered, conversion=source.convert)


def fetch_article(source: Source, config: Config, fetcher: Fetcher, item: Item, now: datetime,
                  allow_file: bool) -> Article:
    """Fetch and extract one item's article page, with the pages it continues on (``下一页``).

    Raises SourceError if the first page cannot be used.
    """
    response = _fetch_linked(source, config, fetcher, item.url, allow_file)
    html, _codec = decode_html(response.body, response.content_type)
    base = response.url
    if not base.startswith(("http://", "https://")):
        # A saved copy of a page: its links, images and entry link resolve against the
        # public address it declares, not against a path only this machine can open.
        base = public_address(html) or base
    extracted = _extract_page(source, config, html, base, item.url, now)
    # A saved copy's pager points at pages this machine does not have: only live pages
    # (and local files read as they are) are followed.
    if base == response.url and might_continue(html, response.url):
        more = continuation_urls(parse_page(html), response.url)
        if more:
            extracted = _with_continuations(source, config, fetcher, extracted, response.url,
                                            more, now, allow_file)
    return article_from(item, extracted, source, base if base != response.url else None)


def _new_only(source: Source, store: Store | None, keys: Sequence[str]) -> set[str]:
    return store.known_keys(source.id, list(keys)) if store is not None and keys else set()


def collect_page(
    source: Source, config: Config, response: Response, fetcher: Fetcher, store: Store,
    now: datetime,
) -> Sequence[Article] | Collected:
    """The new articles of a listing page (the Collector for ``page:`` sources)."""
    listing = list_items(source, config, response, fetcher, now)
    allow_file = _is_local_url(response.url)
    if listing.method == "feed":
        return fill_full_text(source, config, listing.feed_articles, fetcher, store, now,
                              allow_file=allow_file)
    known = _new_only(source, store, [i.key for i in listing.items])
    new = [i for i in listing.items if i.key not in known]
    if len(new) > MAX_ARTICLE_FETCHES:
        log.info("%s: %d new items; fetching %d now, the rest on later polls",
                 source.id, len(new), MAX_ARTICLE_FETCHES)
    articles: list[Article] = []
    report = _Report()
    for item in new[:MAX_ARTICLE_FETCHES]:
        try:
            articles.append(fetch_article(source, config, fetcher, item, now, allow_file))
        except SourceError as e:
            report.skipped.append(Skipped(item.url, e.message))
            log.warning("%s: skipped article %s: %s (retried next poll)",
                        source.id, item.url, e.message)
    if report.skipped and not articles and len(report.skipped) == len(new[:MAX_ARTICLE_FETCHES]):
        first = report.skipped[0]
        raise FetchError(source.id, first.url,
                         f"all {len(report.skipped)} new article page(s) failed; first: "
                         f"{first.reason}")
    from feeds.poll import Collected  # poll imports this module lazily

    complete = not report.skipped and len(new) <= MAX_ARTICLE_FETCHES
    return Collected(articles, complete=complete)


def needs_full_text(article: Article) -> bool:
    """True if a feed entry carries only a summary (short text, or a 'read more' cut)."""
    text = (article.text or "").strip()
    if len(text) < FULL_TEXT_MIN_CHARS:
        return True
    return text.endswith(("…", "...", "[…]", "[...]", "阅读全文", "閱讀全文", "Read more"))


def fill_full_text(
    source: Source, config: Config, articles: Sequence[Article], fetcher: Fetcher,
    store: Store | None, now: datetime, *, allow_file: bool = False,
) -> list[Article]:
    """Feed entries with the article page's full text where they carry only a summary.

    Only entries not stored yet are fetched (capped per poll); a page that fails leaves its
    entry as the feed gave it.
    """
    known = _new_only(source, store, [a.key for a in articles])
    out: list[Article] = []
    budget = MAX_ARTICLE_FETCHES
    for article in articles:
        if article.key in known or not article.url or not needs_full_text(article) or budget <= 0:
            out.append(article)
            continue
        budget -= 1
        try:
            page = fetch_article(source, config, fetcher, Item(article.url, article.title),
                                 now, allow_file)
        except SourceError as e:
            log.warning("%s: full text of %s unavailable: %s", source.id, article.url, e.message)
            out.append(article)
            continue
        if len(page.text or "") <= len(article.text or ""):
            out.append(article)
            continue
        out.append(replace(
            article,
            content_html=page.content_html,
            text=page.text,
            summary=article.summary or page.summary,
            published=article.published or page.published,
            authors=article.authors or page.authors,
            contributors=article.contributors or page.contributors,
            source_name=article.source_name or page.source_name,
            images=article.images or page.images,
            content_hash="",
        ))
    return out


def article_fields(article: Article) -> list[tuple[str, str]]:
    """Every field of an article as (name, text) pairs, for `feeds preview`."""
    def people(values: Iterable[Any]) -> str:
        return ", ".join(p.name for p in values)

    return [
        ("key", article.key),
        ("url", article.url or ""),
        ("canonical_url", article.canonical_url or ""),
        ("title", article.title),
        ("published", article.published.isoformat() if article.published else
         "(none: first_seen will be used)"),
        ("authors", people(article.authors)),
        ("contributors", people(article.contributors)),
        ("source_name", article.source_name or ""),
        ("language", article.language or ""),
        ("images", "; ".join(f"{i.url}" + (f" ({i.caption})" if i.caption else "")
                             for i in article.images)),
        ("summary", article.summary or ""),
        ("text", article.text or ""),
        ("content_html", article.content_html or ""),
    ]



# -- rule-writing tools: preview, add, check --live ---------------------------------------------


# Feed entries a preview lists (newest first); the rest are counted.
PREVIEW_ITEMS = 30
# The kind of feed a document's root element names (RFC 4287 Atom, RSS 2.0, RSS 1.0 / RDF).
FEED_ROOTS = {b"rss": "RSS", b"feed": "Atom", b"rdf": "RSS 1.0"}
# What may stand before a document's root element: the XML declaration, processing
# instructions (xml-stylesheet), comments and a doctype (RSS 0.91's, with or without a subset).
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)",
                     re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(rb"\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")


@dataclass(frozen=True)
class Preview:
    """What a source would give, without storing anything."""

    source: Source
    listing: Listing | None  # None when the source (or the URL) is a feed itself
    articles: tuple[Article, ...]  # shown in full
    errors: tuple[Skipped, ...] = ()
    # As a reader would meet them: a page's items in page order, a feed's entries newest
    # first (after the source's filter), up to PREVIEW_ITEMS of ``count``.
    items: tuple[Item, ...] = ()
    count: int = 0
    feed_kind: str | None = None  # "RSS", "Atom", "RSS 1.0", "JSON Feed": the URL is a feed
    filtered: int = 0  # feed entries the source's filter drops


def _fetch_source_page(source: Source, config: Config, fetcher: Fetcher) -> Response:
    return fetcher.get(
        source.location, source_id=source.id, headers=source.headers, proxy=source.proxy,
        allow_private=config.allow_private(source) or _is_local_url(source.location),
        timeout=config.defaults.timeout.total_seconds(), max_bytes=config.defaults.max_bytes,
    )


def feed_kind(body: bytes) -> str | None:
    """The kind of feed ``body`` is by its content, whatever type the server sent, or None.

    A JSON body counts as a JSON Feed: parse_feed then says so if it lacks the jsonfeed.org
    version. XML is judged by its root element, after any prolog (a stylesheet, comments).
    """
    head = body[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "replace").encode("utf-8")
    head = head.removeprefix(b"\xef\xbb\xbf")
    if head.lstrip()[:1] == b"{":
        return "JSON Feed"
    position = 0
    while prolog := _PROLOG.match(head, position):
        position = prolog.end()
    root = _ROOT.match(head, position)
    if root is not None:
        return FEED_ROOTS.get(root.group(1).lower())
    # Not well-formed at the start (junk before the root): the tags near it decide.
    start = head.lstrip()[:500].lower()
    if b"<html" in start:
        return None
    return next((kind for tag, kind in ((b"<rss", "RSS"), (b"<feed", "Atom"),
                                        (b"<rdf:rdf", "RSS 1.0")) if tag in start), None)


def _feed_entries(source: Source, config: Config, response: Response, fetcher: Fetcher,
                  now: datetime, store: Store) -> Sequence[Article]:
    """A feed's articles as a poll reads them (:func:`feeds.poll.collect_feed`), without the
    full text: the caller fetches article pages only for what it shows.

    ``store`` is where collect_feed would look up known keys: pass an empty one
    (``Store.open("sqlite://")``, in memory), so every entry is new, as on a first poll.
    """
    from feeds.poll import Collected, collect_feed

    plain = source.model_copy(update={"full_text": False})
    collected = collect_feed(plain, config, response, fetcher, store, now)
    return collected.articles if isinstance(collected, Collected) else collected


def source_filter(source: Source) -> Callable[[Article], bool]:
    """Whether an article passes the source's ``filter``: the rule its published feed applies
    (:meth:`feeds.topics.Rule.of_filter`)."""
    spec = source.filter
    if spec is None or not (spec.include or spec.exclude):
        return lambda article: True
    from feeds.topics import Rule, RuleSet, field_texts

    rules = RuleSet([Rule.of_filter(source.id, spec)])
    return lambda article: bool(rules.evaluate(source.id, article.language,
                                               field_texts(article)))


def _newest_first(article: Article) -> tuple[bool, float]:
    when = article.published or article.updated
    return (when is None, -when.timestamp() if when else 0.0)


def _feed_preview(source: Source, config: Config, fetcher: Fetcher, now: datetime, shown: int,
                  entries: Sequence[Article], *, full_text: bool, allow_file: bool,
                  listing: Listing | None = None, kind: str | None = None) -> Preview:
    """A feed's entries newest first, what the filter keeps, and the newest ``shown`` of them
    with the full text a poll would fetch (fill_full_text, for those only: a preview must not
    fetch every article page of a feed)."""
    keeps = source_filter(source)
    ordered = sorted(entries, key=_newest_first)
    kept = [a for a in ordered if keeps(a)]
    first = kept[:max(shown, 1)]
    if full_text:
        # Full text can hold a word the filter drops: it is matched on what is stored.
        first = [a for a in fill_full_text(source, config, first, fetcher, None, now,
                                           allow_file=allow_file) if keeps(a)]
    items = tuple(Item(a.url or a.key, a.title, a.published or a.updated)
                  for a in kept[:PREVIEW_ITEMS])
    return Preview(source, listing, tuple(first), items=items, count=len(kept), feed_kind=kind,
                   filtered=len(ordered) - len(kept))


def preview(source: Source, config: Config, fetcher: Fetcher, now: datetime,
            articles: int = 1) -> Preview:
    """The items of ``source`` and the full fields of its first ``articles`` articles.

    A feed (a ``url:`` source, or any URL whose body is one) is read as a poll reads it, its
    ``full_text`` and ``filter`` applied; a page as its listing rules or detection give it.
    """
    response = _fetch_source_page(source, config, fetcher)
    allow_file = _is_local_url(response.url)
    kind = feed_kind(response.body)
    if source.kind == "feed" or kind:
        store = Store.open("sqlite://")
        try:
            entries = _feed_entries(source, config, response, fetcher, now, store)
        finally:
            store.close()
        return _feed_preview(source, config, fetcher, now, articles, entries,
                             full_text=source.full_text, allow_file=allow_file,
                             kind=kind or "feed")
    listing = list_items(source, config, response, fetcher, now)
    if listing.method == "feed":
        # collect_page fills every advertised feed's summaries from the article pages.
        return _feed_preview(source, config, fetcher, now, articles, listing.feed_articles,
                             full_text=True, allow_file=allow_file, listing=listing)
    keeps = source_filter(source)
    out: list[Article] = []
    errors: list[Skipped] = []
    filtered = 0
    for item in listing.items:
        if len(out) >= articles:
            break
        try:
            article = fetch_article(source, config, fetcher, item, now, allow_file)
        except SourceError as e:
            errors.append(Skipped(item.url, e.message))
            if len(errors) >= 3:
                break
            continue
        if keeps(article):
            out.append(article)
        else:  # a page's items are known to the filter only once their pages are read
            filtered += 1
            errors.append(Skipped(item.url, "dropped by the source's filter"))
            if filtered >= 3:
                break
    return Preview(source, listing, tuple(out), tuple(errors), items=listing.items,
                   count=len(listing.items))


def _slug(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    words = [host.split(".")[0]] if host else []
    words += [w for w in re.split(r"[^A-Za-z0-9]+", parts.path) if w and not w.isdigit()
              and w.lower() not in ("index", "html", "htm", "shtml", "php", "aspx", "default")]
    slug = "-".join(words[:3]).lower() or "source"
    return re.sub(r"[^a-z0-9._-]", "", slug)[:60] or "source"


def _yaml_scalar(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _place(location: str, fetcher: Fetcher) -> str:
    """The form two sources' locations are compared in: a URL normalized as import-opml
    compares them, a path resolved (relative to the config's directory)."""
    if _is_local_url(location):
        return fetcher.local_path(location).resolve().as_uri()
    from feeds.opml import normalize_url

    return normalize_url(location)


def _configured(config: Config, fetcher: Fetcher) -> dict[str, Source]:
    return {_place(s.location, fetcher): s for s in config.sources if s.location}


def _refuse_duplicate(url: str, found: Source | None, what: str = "") -> None:
    if found is not None:
        raise SourceError(found.id, url, f"{what}already configured as {found.id!r} "
                          f"({found.location}); see `feeds preview {found.id}`")


def draft_source(url: str, config: Config, fetcher: Fetcher, now: datetime,
                 ident: str | None = None) -> tuple[str, str]:
    """A draft source entry for ``url`` as YAML lines, and a one-line note on how it was found.

    An advertised feed wins; else the page with rules proposed by automatic detection, or with
    none when automatic detection works but no simple rules reproduce it. Raises SourceError
    when the URL (after redirects), the feed it advertises or the id ``ident`` is configured
    already: a second source would poll the same thing twice.
    """
    configured = _configured(config, fetcher)
    _refuse_duplicate(url, configured.get(_place(url, fetcher)))
    taken = {s.id: s for s in config.sources}
    if ident is not None and ident in taken:
        raise SourceError(ident, url, f"id {ident!r} is already configured (for "
                          f"{taken[ident].location}); choose another --id")
    base_id = ident or _slug(url)
    source_id, counter = base_id, 2
    while source_id in taken:
        source_id, counter = f"{base_id}-{counter}", counter + 1
    probe = Source(id=source_id, page=url)
    response = _fetch_source_page(probe, config, fetcher)
    if response.url != url:
        _refuse_duplicate(url, configured.get(_place(response.url, fetcher)),
                          f"it redirects to {response.url}, ")
    lines = [f"  - id: {_yaml_scalar(source_id)}"]
    kind = feed_kind(response.body)
    if kind:
        context = FeedContext(source_id, response.url, config.timezone(probe))
        parsed = parse_feed(response.body, context, response.content_type)  # a feed it reads
        lines.append(f"    url: {_yaml_scalar(url)}")
        return ("\n".join(lines) + "\n",
                f"the URL is a feed ({kind}, {len(parsed.articles)} entries)")
    html, _ = decode_html(response.body, response.content_type)
    listing = parse_listing(html, response.url, rules=None, tz=config.timezone(probe), now=now,
                            allow_file=_is_local_url(response.url), source_id=source_id)
    title = one_line(parse_html(html).findtext(".//title"))
    if listing.method == "feed" and listing.feed_url:
        _refuse_duplicate(url, configured.get(_place(listing.feed_url, fetcher)),
                          f"its feed {listing.feed_url} is ")
        lines.append(f"    url: {_yaml_scalar(listing.feed_url)}   # advertised by {url}")
        note = f"the page advertises a feed: {listing.feed_url}"
    else:
        lines.append(f"    page: {_yaml_scalar(url)}")
        rules = listing.proposed
        if rules is not None:
            fields = {"each": rules.each, "link": rules.link, "date": rules.date}
            lines.append("    items:")
            lines += [f"      {k}: {_yaml_scalar(v)}" for k, v in fields.items() if v]
            note = f"page rules proposed from {len(listing.items)} detected items"
        else:
            note = (f"{len(listing.items)} items found by automatic detection ({listing.method}); "
                    "no rules needed")
    if title:
        lines.insert(1, f"    title: {_yaml_scalar(title[:120])}")
    return "\n".join(lines) + "\n", note


def insert_source(config_text: str, entry: str) -> str:
    """``config_text`` with ``entry`` (YAML lines of one source) appended to ``sources:``.

    Text, not a YAML round trip, so every comment and the user's layout survive.
    """
    lines = config_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"sources\s*:", line)), None)
    if start is None:
        tail = "" if config_text.endswith("\n") or not config_text else "\n"
        return f"{config_text}{tail}sources:\n{entry}"
    if re.match(r"sources\s*:\s*\[\s*\]", lines[start]):
        lines[start] = "sources:\n"
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if re.match(r"[^\s#]", lines[i]):
            end = i
            break
    # Keep blank lines and comments that introduce the next section with that section.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    indent = next((re.match(r"(\s*)-", line).group(1)  # type: ignore[union-attr]
                   for line in lines[start + 1:end] if re.match(r"\s*-", line)), "  ")
    if indent != "  ":
        entry = "".join(indent + line[2:] if line.startswith("  ") else line
                        for line in entry.splitlines(keepends=True))
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join([*lines[:end], entry, *lines[end:]])


@dataclass(frozen=True)
class TestOutcome:
    """One ``test_urls`` entry checked live."""

    source_id: str
    url: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _same_instant(expected: str, actual: datetime | None, tz: tzinfo) -> bool:
    if actual is None:
        return False
    try:
        wanted = datetime.fromisoformat(expected.strip().replace("Z", "+00:00"))
    except ValueError:
        wanted_date = parse_listing_date(expected, tz, actual)
        if wanted_date is None:
            return False
        wanted = wanted_date
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=tz)
    if len(expected.strip()) <= 10:  # a day only: compare days in the source's zone
        return wanted.date() == actual.astimezone(tz).date()
    return wanted == actual


def check_test_urls(config: Config, fetcher: Fetcher, now: datetime,
                    sources: Sequence[Source] | None = None) -> list[TestOutcome]:
    """Fetch every source's ``test_urls`` and compare what extraction gives with what they say."""
    outcomes = []
    for source in sources if sources is not None else config.sources:
        tz = config.timezone(source)
        for test in source.test_urls:
            problems: list[str] = []
            try:
                article = fetch_article(source, config, fetcher, Item(test.url), now,
                                        allow_file=True)
            except SourceError as e:
                outcomes.append(TestOutcome(source.id, test.url, (f"fetch failed: {e.message}",)))
                continue
            if test.title is not None and one_line(test.title) != one_line(article.title):
                problems.append(f"title: expected {test.title!r}, got {article.title!r}")
            if test.published is not None and not _same_instant(test.published,
                                                                article.published, tz):
                got = article.published.isoformat() if article.published else "no date"
                problems.append(f"published: expected {test.published}, got {got}")
            if test.contains is not None and test.contains not in (article.text or ""):
                problems.append(f"text does not contain {test.contains!r}")
            outcomes.append(TestOutcome(source.id, test.url, tuple(problems)))
    return outcomes


@dataclass(frozen=True)
class SourceOutcome:
    """One source fetched and read live, as a poll reads it, storing nothing."""

    source_id: str
    url: str
    items: int = 0
    problem: str | None = None
    moved_to: str | None = None  # a permanent redirect: the config should say where to

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_sources(config: Config, fetcher: Fetcher, now: datetime,
                  sources: Sequence[Source] | None = None) -> list[SourceOutcome]:
    """Fetch every enabled source once and read it as a poll would: a feed parsed, a page's
    listing (its rules, its advertised feed, its next pages). No article page is fetched and
    nothing is stored; give ``fetcher`` the config's per-host limits, as a poll's has."""
    outcomes = []
    store = Store.open("sqlite://")  # collect_feed's known keys: none, as on a first poll
    try:
        for source in sources if sources is not None else config.sources:
            if not source.enabled:
                continue
            # As poll_source does: page sources obey robots.txt unless they opt out.
            view = fetcher.obeying_robots() if source.kind == "page" and source.robots \
                else fetcher
            try:
                response = _fetch_source_page(source, config, view)
                if source.kind == "feed":
                    count = len(_feed_entries(source, config, response, view, now, store))
                else:
                    listing = list_items(source, config, response, view, now)
                    count = len(listing.items) or len(listing.feed_articles)
            except SourceError as e:
                outcomes.append(SourceOutcome(source.id, source.location, problem=e.message))
                continue
            except Exception as e:  # as in a poll: a bug costs this source's line, not the rest
                log.exception("%s: unexpected error while checking %s", source.id,
                              source.location)
                outcomes.append(SourceOutcome(source.id, source.location,
                                              problem=f"internal error: {e!r}"))
                continue
            outcomes.append(SourceOutcome(source.id, source.location, count,
                                          moved_to=response.moved_to))
    finally:
        store.close()
    return outcomes
