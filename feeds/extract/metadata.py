"""Article metadata from one parsed page: title, date, people, source line, canonical URL.

Chinese news pages state their metadata in a text line under the headline rather than in
markup: ``2021-06-07 10:22:00 來源:中國臺灣網 字號``, ``作者：张三``, ``[責任編輯:郭碧娟]``. So the
visible text is read with labelled patterns, and meta tags / JSON-LD fill what it lacks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from lxml import html as lxml_html

from feeds.extract.chinese import clean_text
from feeds.extract.dates import (
    ZONE_NAMES,
    day_first_for,
    has_time,
    is_date_line,
    parse_zh_date,
    time_of_line,
)
from feeds.sanitize import one_line

log = logging.getLogger(__name__)

BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
    "table", "section", "article", "header", "footer", "aside", "nav", "figure", "figcaption",
    "blockquote", "dd", "dt", "dl", "pre", "hr", "main", "form", "center", "address",
})
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "rt", "rp", "rtc", "select",
                       "option", "textarea", "svg", "head", "title", "iframe", "button"})

_NAME = r"[\u4e00-\u9fffA-Za-z·•．.\-_ ]{1,24}?"
# Words that end a value written without a separator: ``來源:中國臺灣網字號``.
_STOP_WORDS = ("字号", "字號", "分享", "打印", "关闭", "關閉", "移动版", "移動版", "作者",
               "责任编辑", "責任編輯", "审核", "審核", "校对", "校對", "返回", "上一篇",
               "下一篇", "纠错", "糾錯", "二维码", "二維碼", "编辑",
               "編輯", "责编", "責編", "来源", "來源", "发布", "發布", "时间", "時間", "日期",
               "记者", "記者", "浏览", "瀏覽", "阅读", "閱讀", "点击", "點擊", "评论", "評論",
               "收藏", "举报", "舉報", "原标题", "原標題", "大中小", "【", "[")

SOURCE_LINE = re.compile(
    r"(?<!圖片)(?<!图片)(?<!图)(?<!圖)(?:文章|稿件|信息|新闻|新聞|内容|內容)?(?:来源|來源|出处|出處)"
    r"\s*[:：]\s*(?P<value>[^\s|｜/／,，;；()（）【】\[\]<>]{1,40})"
)
AUTHOR_LINE = re.compile(
    r"(?:(?:作者|撰文|撰稿|文字)\s*[:：]|作者\s+|文\s*[/／])\s*(?P<value>[^\s|｜,，;；()（）【】\[\]<>:：]{2,30})"
)
REPORTER_LINE = re.compile(
    r"(?:本报|本報|本刊|新华社|新華社|中新社|中新网|中新網)?(?:特约|特約|实习|實習|首席)?"
    r"(?:记者|記者)(?:\s*[:：]\s*|\s+|(?=[\u4e00-\u9fff·]{2,4}[)）〕/／]))"
    r"(?P<value>[\u4e00-\u9fff·]{2,4}?(?:[ 、，,\u3000][\u4e00-\u9fff·]{2,4})*)"
    # The name ends the credit, or the next label follows it unspaced: ``记者张三责任编辑：李四``;
    # Taiwan's press writes the place after a slash: ``記者林志明／臺北報導``.
    r"(?=[\s)）〕]|$|[/／][\u4e00-\u9fff]{1,4}(?:报道|報導|報道|电|電)|责任编辑|責任編輯|责编|責編|"
    r"编辑|編輯|来源|來源|发布|發布)"
)
EDITOR_LINE = re.compile(
    r"[\[【(（]?\s*(?:责任编辑|責任編輯|责编|責編|本文编辑|本文編輯|编辑|編輯|校对|校對|审核|審核)"
    r"\s*[:：]\s*(?P<value>[\u4e00-\u9fffA-Za-z·_]{2,12}(?:[ 、，,][\u4e00-\u9fffA-Za-z·_]{2,12})*)"
    r"\s*[\]】)）]?"
)
# The same without a colon, only in brackets: ``[責任編輯 郭碧娟]``.
EDITOR_BRACKETED = re.compile(
    r"[\[【(（]\s*(?:责任编辑|責任編輯|责编|責編)\s*(?P<value>[\u4e00-\u9fffA-Za-z·_]{2,12})\s*[\]】)）]"
)
# A bare 时间 that ends a zone word (``美东时间``, ``北京时间``) is part of the date, not a label.
_ZONE_TIME = "".join(sorted({word[-3] for word in ZONE_NAMES if word.endswith(("时间", "時間"))}))
DATE_LABEL = re.compile(
    r"(?:(?:发布|發布|发表|發表|发稿|發稿|刊发|刊發|最后更新|最後更新|更新|修改)(?:时间|時間|日期)|"
    rf"发表于|發表於|发布于|發布於|更新于|更新於|最后更新|最後更新|(?<![{_ZONE_TIME}])(?:时间|時間)|"
    r"日期|"
    # English sites: "Published 25 Nov 2024", "Updated: 26 Nov", "Posted on May 1, 2024".
    r"(?i:\b(?:first\s+)?published|\bposted|\b(?:last\s+)?updated|\bmodified)"
    r"(?i:\s+(?:on|at))?\b)\s*[:：]?\s*"
)
# What a date label says: when the story was published, when it was last changed, or neither.
_PUBLISH_LABEL = re.compile(r"发|發|刊|(?i:published|posted)")
_UPDATE_LABEL = re.compile(r"更新|修改|(?i:updated|modified)")
# A credit followed or ended by 摄/攝/摄影/图 names the photographer, not the author:
# ``新华社记者 王五 摄``, ``（記者王五攝）``, ``本报记者 王五/图``. ``图文`` credits both, and
# ``文/张三 图/李四`` labels the next name.
_PHOTO_AFTER = re.compile(
    r"\s*[/／]?\s*(?:摄影|攝影|摄|攝|图|圖)(?:报道|報道|報導)?(?![\u4e00-\u9fff/／:：])")
_PHOTO_END = re.compile(
    r"(?:\s*[/／]\s*(?:摄影|攝影|摄|攝|图|圖)|\s+(?:摄影|攝影|摄|攝|图|圖)|摄影|攝影|摄|攝)"
    r"(?:报道|報道|報導)?$")
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|--|—|–| - |－|::|・| · )\s*")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")


def cut_value(value: str) -> str:
    """A metadata value without the page words glued after it."""
    end = len(value)
    for word in _STOP_WORDS:
        position = value.find(word, 1)
        if 0 < position < end:
            end = position
    return value[:end].strip(" :：·-—|｜")


# Marks placed between inline pieces while the text is collected, resolved afterwards. lxml
# text never holds these control characters, so they cannot clash with the page's own text.
_ELEMENT_JOIN = "\x00"  # between two adjacent inline elements
_TEXT_JOIN = "\x02"  # between a text and an inline element beside it
_ANCHOR = "\x01"  # right after the element :func:`text_after` starts from
_JOINS = re.compile("[\x00\x02]+")
_WORD_TAGS = frozenset({"ruby", "rb"})
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _resolve_joins(text: str) -> str:
    """Inline boundaries become a space where the page would otherwise glue two values:
    ``<span>2024-05-01</span><span>08:00</span>``, ``<span>作者：张三</span><span>责任编辑…``.

    Between two adjacent elements a space is always right (they are separate widgets on a
    metadata line). Between a text and an element, two Han characters stay joined: that is a
    word split by markup in prose (``青岛<b>港务</b>会议``, ``臺<span>(tái)</span>灣``).
    """
    def join(match: re.Match[str]) -> str:
        before = text[match.start() - 1] if match.start() > 0 else " "
        after = text[match.end()] if match.end() < len(text) else " "
        if before.isspace() or after.isspace():
            return ""
        if _ELEMENT_JOIN not in match.group() and _HAN.match(before) and _HAN.match(after):
            return ""
        return " "

    return _JOINS.sub(join, text)


def _collect_text(tree: lxml_html.HtmlElement, anchor: Any = None) -> str:
    parts: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in SKIP_TAGS:
            return
        block = tag in BLOCK_TAGS
        if block:
            parts.append("\n")
        if tag and element.text:
            parts.append(element.text)
        previous_inline = False
        for child in element:
            if not isinstance(child.tag, str):
                # Comments and processing instructions are invisible: only their tail counts.
                if child.tail:
                    parts.append(child.tail)
                    previous_inline = False
                continue
            inline = child.tag not in BLOCK_TAGS
            if inline:
                # Ruby bases are parts of one word: ``中國<ruby>臺</ruby><ruby>灣</ruby>網``.
                separate = previous_inline and child.tag not in _WORD_TAGS
                parts.append(_ELEMENT_JOIN if separate else _TEXT_JOIN)
            walk(child)
            if inline:
                parts.append(_TEXT_JOIN)
            if child.tail:
                parts.append(child.tail)
            previous_inline = inline and not child.tail and child.tag not in _WORD_TAGS
        if block:
            parts.append("\n")
        if element is anchor:
            parts.append(f"\n{_ANCHOR}\n")

    body = tree.find("body")
    walk(body if body is not None else tree)
    text = _SPACES.sub(" ", _resolve_joins("".join(parts)))
    return re.sub(r"\s*\n\s*", "\n", text).strip()


def page_text(tree: lxml_html.HtmlElement) -> str:
    """The visible text of the page, one line per block element; adjacent inline elements
    are kept apart by a space (see :func:`_resolve_joins`)."""
    return _collect_text(tree)


def text_after(tree: lxml_html.HtmlElement, element: Any) -> str:
    """The page text (as :func:`page_text` gives it) that follows ``element``."""
    text = _collect_text(tree, anchor=element)
    position = text.find(_ANCHOR)
    return text[position + 1:].lstrip("\n") if position >= 0 else ""


@dataclass(frozen=True)
class TimeElement:
    """A machine-readable date in the body: ``<time datetime="2026-11-26T07:40:00Z">26 November
    2026</time>`` or ``<span itemprop="datePublished" content="…">``. ``published`` when the
    markup says it is the publication date (``itemprop=datePublished``, ``pubdate``, a
    ``published`` class); ``updated`` when it says it is a later change."""

    value: str
    text: str
    published: bool
    updated: bool


_PUBLISHED_MARK = re.compile(r"datepublished|published|pubdate|post-date|entry-date", re.I)
_UPDATED_MARK = re.compile(r"datemodified|modified|updated", re.I)


def time_elements(tree: lxml_html.HtmlElement) -> list[TimeElement]:
    """The body's ``<time datetime>`` and ``itemprop=datePublished``/``dateCreated`` elements."""
    found = []
    body = tree.find("body")
    for element in (body if body is not None else tree).iter():
        if not isinstance(element.tag, str) or element.tag == "meta":
            continue
        itemprop = element.get("itemprop") or ""
        if element.tag != "time" and itemprop not in ("datePublished", "dateCreated"):
            continue
        value = (element.get("datetime") or element.get("content") or "").strip()
        if not value or not value[:4].isdigit():
            continue
        marks = f"{itemprop} {element.get('class') or ''} " + \
            ("pubdate" if element.get("pubdate") is not None else "")
        found.append(TimeElement(value, " ".join(element.text_content().split()),
                                 bool(_PUBLISHED_MARK.search(marks)) and
                                 not _UPDATED_MARK.search(marks),
                                 bool(_UPDATED_MARK.search(marks))))
    return found


@dataclass
class Meta:
    """``<meta>`` values by lower-cased name/property/itemprop, and JSON-LD objects."""

    values: dict[str, str] = field(default_factory=dict)
    json_ld: list[dict[str, Any]] = field(default_factory=list)
    canonical: str | None = None
    title_tag: str = ""
    language: str | None = None
    # A publish time set by an inline script (WeChat's ``var ct = "1714521600"``), ISO 8601.
    script_date: str | None = None
    # Names a byline element shows without a label (WeChat's author under the headline).
    byline: list[str] = field(default_factory=list)
    # ``<time datetime>`` and ``itemprop=datePublished`` elements of the body, in order.
    times: list[TimeElement] = field(default_factory=list)

    def get(self, *names: str) -> str | None:
        for name in names:
            value = self.values.get(name)
            if value:
                return value
        return None


def _ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _ld_objects(graph)


def read_meta(tree: lxml_html.HtmlElement) -> Meta:
    """Collect meta tags, JSON-LD, canonical link, ``<title>`` and ``lang``."""
    meta = Meta()
    for element in tree.iter("meta"):
        content = (element.get("content") or "").strip()
        if not content:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = (element.get(attribute) or "").strip().lower()
            if key:
                meta.values.setdefault(key, content)
    for element in tree.iter("link"):
        if "canonical" in (element.get("rel") or "").lower().split() and element.get("href"):
            meta.canonical = element.get("href", "").strip()
            break
    for element in tree.iter("script"):
        if not element.text:
            continue
        if (element.get("type") or "").lower() != "application/ld+json":
            meta.script_date = meta.script_date or script_date(element.text)
            continue
        try:
            data = json.loads(element.text, strict=False)
        except ValueError:
            log.debug("unreadable JSON-LD skipped")
            continue
        meta.json_ld.extend(_ld_objects(data))
    meta.byline = byline_names(tree)
    meta.times = time_elements(tree)
    title = tree.find(".//title")
    if title is not None:
        # <title> is raw text: markup such as <ruby> written into it arrives as text.
        meta.title_tag = clean_text(one_line(title.text_content()))
    meta.language = tree.get("lang") or meta.get("content-language", "og:locale")
    return meta


# ``var ct = "1714521600";`` (WeChat: Unix seconds), ``publish_time = "2024-05-01"``,
# ``"publishTime": "2024-05-01 08:00"``: the names CMS scripts give the publish time.
_SCRIPT_DATE = re.compile(
    r"""(?<![\w.$])["']?(?P<name>ct|publish_time|publishTime|pubtime|pubTime|create_time)["']?"""
    r"""\s*[=:]\s*["']?(?P<value>\d{10}|(?:19|20)\d\d-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d)?)?)"""
    r"""(?![\d-])""")


def script_date(script: str) -> str | None:
    """The publish time an inline script sets, as ISO 8601 (Unix seconds become UTC); a value
    with a time of day beats a day-only one. Only plausible timestamps (2000 to 2100) count:
    ``ct`` is a short name that other scripts use for other numbers."""
    day_only = None
    for match in _SCRIPT_DATE.finditer(script[:200_000]):
        value = match["value"]
        if value.isdigit():
            if 946_684_800 <= int(value) < 4_102_444_800:
                return datetime.fromtimestamp(int(value), UTC).isoformat()
            continue
        if len(value) > 10:
            return value
        day_only = day_only or value
    return day_only


# A byline element: WeChat's ``span.rich_media_meta_text`` under the headline (beside the
# ``原创`` tag, the account name and the empty publish-time element), ``itemprop=author``, a
# ``rel=author`` link, or an element classed ``author``/``byline`` (``span.author``,
# ``div.byline``, ``a.author-name``) as English CMSs mark them.
_BYLINE_CLASS = "rich_media_meta_text"
_NOT_BYLINE_CLASS = re.compile(r"meta_tag|nickname|publish|time|date", re.I)
_AUTHOR_CLASS = re.compile(r"(?:^|[\s_-])(?:author|authors|byline|by-line)(?:$|[\s_-])", re.I)
# Comment threads have author classes too (``div.comment-author``): those are readers.
_NOT_AUTHOR_CLASS = re.compile(r"comment|avatar|reply|respond|bio|description", re.I)


def _in_comments(element: Any) -> bool:
    return any(_NOT_AUTHOR_CLASS.search(f"{a.get('class') or ''} {a.get('id') or ''}")
               for a in element.iterancestors() if isinstance(a.tag, str))


def byline_names(tree: lxml_html.HtmlElement) -> list[str]:
    """The names shown in byline elements, a label (``作者：``, ``By``) dropped."""
    names: list[str] = []
    body = tree.find("body")
    for element in (body if body is not None else tree).iter():
        if not isinstance(element.tag, str) or element.tag in ("meta", "link"):
            continue
        classes = element.get("class") or ""
        marked = element.get("itemprop") == "author" or _BYLINE_CLASS in classes.split()
        english = "author" in (element.get("rel") or "").lower().split() or \
            bool(_AUTHOR_CLASS.search(classes))
        if not marked and not english:
            continue
        if _NOT_BYLINE_CLASS.search(f"{classes} {element.get('id') or ''}") or \
                (len(element) and not english and element.get("itemprop") != "author"):
            continue
        if english and (_NOT_AUTHOR_CLASS.search(classes) or _in_comments(element)):
            continue
        text = " ".join(element.text_content().split())
        credit = AUTHOR_LINE.search(text)
        value = credit.group("value") if credit else english_byline(text) or text
        if not value or len(value) > (100 if english else 30) or re.search(r"\d", value):
            continue
        found = split_names(value)
        if english and not marked:
            # Chinese CMSs class many things ``author`` (the account, its blurb, a follow
            # button): only names in Latin script that read as names count from these.
            found = [n for n in found if _LATIN.search(n) and _reads_as_name(n)]
        names.extend(n for n in found if n not in names)
    return names


# English credits: ``By Jane Doe and John Roe``, ``Written by Li Wei & Emma Stone``,
# ``Reported by …``, ``Words by …``, ``Author: …``. The names start with a capital (``By the
# Press Office``, ``by continuing to browse`` are no credits) and end at the next widget of the
# line: a separator, a date, ``Updated``/``Published``, ``in London``.
_EN_LABEL = (r"(?:(?:Written|Reported|Words|Text|Story|Posted|Photos? and words)\s+by|By|BY|by|"
             r"Words|Authors?)")
_EN_NAME_START = r"[A-Z\u00c0-\u00de\u4e00-\u9fff]"
EN_BYLINE = re.compile(
    rf"(?:^|(?<=[\s|·•,]))(?P<label>{_EN_LABEL})\s*[:：]?\s+(?P<value>{_EN_NAME_START}[^\n|·•]{{0,100}}?)"
    r"\s*(?=$|\n|[|·•—–(\[]|\s-\s|\d|\b(?:Updated|Published|Posted|Last updated|on|at|in|for)\s|"
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d|"
    r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b)")
# A name word: capitalised, or a surname particle (``Ludwig van Beethoven``), or Han.
_EN_NAME_WORD = re.compile(
    r"(?:[A-Z\u00c0-\u00de][A-Za-z\u00c0-\u024f'’.\-]*|van|von|de|der|den|da|di|du|la|le|bin|al|ibn|del|dos|"
    r"das|[\u4e00-\u9fff·]{2,4})")


def _reads_as_name(name: str) -> bool:
    return 0 < len(name.split()) <= 5 and all(_EN_NAME_WORD.fullmatch(w) for w in name.split())


def english_byline(line: str) -> str | None:
    """The names of an English credit in ``line`` (``By Jane Doe and John Roe · 3 hours ago``
    gives ``Jane Doe and John Roe``), else None. A lowercase ``by`` counts only at the start
    of a short line that does not end like a sentence (``approved by Councillors.`` is prose)."""
    for match in EN_BYLINE.finditer(line):
        if match["label"] == "by" and (len(line) > 80 or line.rstrip().endswith(".")):
            continue
        value = match["value"].strip(" ,;:")
        names = split_names(value)
        if names and all(_reads_as_name(n) for n in names):
            return value
    return None


def ld_value(meta: Meta, key: str) -> Any:
    """The first JSON-LD value of ``key`` on an article-like object."""
    for item in meta.json_ld:
        if item.get(key):
            return item[key]
    return None


def ld_people(value: Any) -> list[str]:
    """Names from a JSON-LD author value (string, object or list of them)."""
    if isinstance(value, str):
        # One string may credit several people: ``"Jane Doe and John Roe"``.
        return split_names(value) or [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [name for item in value for name in ld_people(item)]
    return []


def _similar(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a in b or b in a)


def split_title(title_tag: str, tree: lxml_html.HtmlElement | None = None) -> str:
    """``<title>`` without its site name: the part shown as a heading in the page, else the
    longest part (``标题_站名_站点口号`` has a tagline longer than many headlines)."""
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title_tag) if p.strip()]
    if not parts:
        return title_tag
    if tree is not None and len(parts) > 1:
        shown = heading_texts(tree)
        matching = [p for p in parts if compact(p) in shown]
        if matching:
            return max(matching, key=len)
    return max(parts, key=len)


def compact(text: str) -> str:
    """``text`` without whitespace, for comparing texts that markup spaced differently."""
    return "".join(text.split())


_HEADING_TAGS = frozenset({"h1", "h2", "h3"})
_HEADING_CLASS = re.compile(r"title|headline|biaoti|(?<![a-z])(?:tit|bt)(?![a-z])", re.I)
_NOT_HEADING_CLASS = re.compile(r"logo|nav|menu|crumb|(?<![a-z])site", re.I)


def heading_level(element: Any) -> int:
    """How much ``element`` looks like the article's headline: 3 for ``<h1>``, 2 for
    ``<h2>``/``<h3>`` or a ``title`` class/id, 1 for other emphasis, 0 otherwise."""
    tag = element.tag if isinstance(element.tag, str) else ""
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    if _NOT_HEADING_CLASS.search(names):
        return 0
    if tag == "h1":
        return 3
    if tag in _HEADING_TAGS or _HEADING_CLASS.search(names):
        return 2
    if tag in ("h4", "h5", "h6", "strong", "b"):
        return 1
    return 0


def heading_texts(tree: lxml_html.HtmlElement) -> set[str]:
    """The compacted texts of heading-like elements in the body (not logos or navigation)."""
    body = tree.find("body")
    texts = set()
    for element in (body if body is not None else tree).iter():
        if isinstance(element.tag, str) and heading_level(element) >= 2:
            text = compact(element.text_content())
            if text:
                texts.add(text)
    return texts


_SUFFIX = re.compile(r"^(?P<title>.{8,}?)\s*[-_|｜]\s*(?P<site>[^-_|｜\d]{2,12})$")


def strip_site_suffix(title: str, meta: Meta) -> str:
    """``标题-新华网`` -> ``标题`` when ``<title>`` ends with the same site name too."""
    match = _SUFFIX.match(title)
    if match and meta.title_tag.rstrip().endswith(match.group("site")):
        return match.group("title")
    return title


def find_title(tree: lxml_html.HtmlElement, meta: Meta) -> str:
    """The headline, without a site suffix."""
    return strip_site_suffix(headline(tree, meta), meta)


def headline(tree: lxml_html.HtmlElement, meta: Meta) -> str:
    """The headline: an ``<h1>`` that agrees with ``<title>``/og:title, else og:title, else
    ``<title>`` without its site suffix."""
    reference = " ".join(filter(None, (meta.title_tag, meta.get("og:title", "twitter:title"))))
    headings = []
    for tag in ("h1", "h2"):
        for element in tree.iter(tag):
            text = " ".join(element.text_content().split())
            # A site logo in an <h1> matches the site part of <title>: not the headline.
            if 4 <= len(text) <= 200 and not _NOT_HEADING_CLASS.search(
                    f"{element.get('class') or ''} {element.get('id') or ''}"):
                headings.append(text)
        for text in headings:
            if _similar(text, reference):
                return text
    og = meta.get("og:title", "twitter:title")
    if og:
        # Some sites copy the whole <title>, suffix and all, into og:title.
        return split_title(og, tree) if og == meta.title_tag else og
    headline = ld_value(meta, "headline")
    if isinstance(headline, str) and headline.strip():
        return headline.strip()
    if meta.title_tag:
        from_title = split_title(meta.title_tag, tree)
        # Many government CMSs put only the site name in <title> on every article
        # (``<title>某某市人民政府</title>``): a <title> that no heading of the page shows
        # loses to a longer headline shown in the page.
        parts = [compact(p) for p in title_parts(meta.title_tag)]
        if compact(from_title) not in heading_texts(tree):
            in_page = compact(page_headline(tree, parts))
            # A headline that shares a part with <title> (``原创``+headline, headline+site)
            # means <title> names the article: it stays, as before. But a lone site name
            # opens many notices: ``某某市人民政府关于…的通知`` under ``<title>某某市人民政府``.
            agrees = any(part in in_page or in_page in part for part in parts)
            if len(parts) == 1 and len(in_page) >= 1.5 * len(parts[0]):
                agrees = False
            if len(in_page) > len(compact(from_title)) and not agrees:
                return page_headline(tree, parts)
        return from_title
    return headings[0] if headings else page_headline(tree, [])


def title_parts(title: str) -> list[str]:
    """The parts of a ``<title>`` split at its separators: ``标题_频道_站名``."""
    return [p.strip() for p in _TITLE_SEPARATORS.split(title) if p.strip()]


_LINK_TARGET = re.compile(r"^\s*(?:#|javascript:|$)")


def _links_elsewhere(element: Any) -> bool:
    """True if ``element`` holds a link to another page (a list entry, not a headline)."""
    return any(not _LINK_TARGET.match(a.get("href") or "") for a in element.iter("a"))


def _holds_heading(element: Any) -> bool:
    """True for a wrapper (``div#ArticleTitle`` around the headline and the date line)."""
    return any(isinstance(inner.tag, str) and heading_level(inner) >= 2
               for inner in element.iterdescendants())


def _looks_like_headline(text: str) -> bool:
    """Long enough for a headline, short enough not to be a paragraph."""
    han = len(_HAN.findall(text))
    # A paragraph that a heading class wraps ends like a sentence; a headline does not.
    return (han >= 6 or len(text) >= 15) and len(text) <= 120 and not text.endswith(("。", "，"))


def page_headline(tree: lxml_html.HtmlElement, not_these: list[str]) -> str:
    """The headline as the page shows it, whatever ``<title>`` says: the first ``<h1>`` that
    reads like a headline, else the first heading-class element (``div.bt``, ``.title``;
    not a logo or the navigation), else the first ``<h2>``. Texts in ``not_these`` (the
    parts of ``<title>``: the site name) and elements linking elsewhere do not count."""
    excluded = {compact(t) for t in not_these}
    body = tree.find("body")
    best, best_level = "", 0
    for element in (body if body is not None else tree).iter():
        if not isinstance(element.tag, str) or element.tag in SKIP_TAGS:
            continue
        level = heading_level(element)
        if level < 2:
            continue
        # ``<h1>`` beats a heading class, which beats ``<h2>``/``<h3>``; ties: the first.
        rank = 3 if level == 3 else 2 if element.tag not in _HEADING_TAGS else 1
        if rank <= best_level:
            continue
        text = " ".join(element.text_content().split())
        if _looks_like_headline(text) and compact(text) not in excluded and \
                not _links_elsewhere(element) and not _holds_heading(element):
            best, best_level = text, rank
    return best


def find_in_text(text: str, title: str) -> re.Match[str] | None:
    """Where ``title`` is in ``text``, whitespace aside (markup may space it differently):
    preferably on a line of its own, else anywhere."""
    letters = compact(title)
    if not letters:
        return None
    pattern = r"\s*".join(re.escape(letter) for letter in letters)
    return re.search(rf"(?m)^[ ]*{pattern}[ ]*$", text) or re.search(pattern, text)


def heading_element(tree: lxml_html.HtmlElement, title: str) -> Any | None:
    """The element showing the headline: one whose text is the title, else one holding it,
    else a heading (``<h1>``, a ``title`` class) sharing most of its characters.

    Used when the title is not in the page text as such: it came from og:title or
    ``<title>`` worded unlike the ``<h1>``, or the ``<h1>`` carries inline annotations.
    """
    letters = compact(title)
    if not letters:
        return None
    wanted = set(letters)
    body = tree.find("body")
    root = body if body is not None else tree
    # Every element's text, children before parents: one pass instead of a text_content()
    # (a walk of the subtree) per element.
    texts: dict[Any, str] = {}
    elements = list(root.iter())
    for element in reversed(elements):
        parts = [element.text or ""] if isinstance(element.tag, str) else []
        for child in element:
            parts += (texts.get(child, ""), child.tail or "")
        texts[element] = "".join(parts)
    best, best_rank = None, (0, 0, 0)
    limit = 3 * len(letters) + 20
    for element in elements:
        if not isinstance(element.tag, str) or element.tag in SKIP_TAGS or element is body:
            continue
        raw = texts[element]
        if len(raw) > 8 * limit:
            continue  # far too long even before its spaces go
        text = compact(raw)
        if not text or len(text) > limit:
            continue
        level = heading_level(element)
        if text == letters:
            rank = (1, level, 3)
        elif letters in text and len(text) <= 2 * len(letters) + 20:
            rank = (1, level, 2)
        elif level >= 2 and len(wanted & set(text)) >= (0.5 if level == 3 else 0.7) * len(wanted):
            rank = (0, level, 1)
        else:
            continue
        if rank > best_rank:  # ties: the first in document order
            best, best_rank = element, rank
    return best


def header_zone(text: str, title: str, tree: lxml_html.HtmlElement | None = None,
                size: int = 400) -> str:
    """The text right under the headline, where the date and source line sit: after the
    title in ``text``, else after the headline element of ``tree``."""
    match = find_in_text(text, title) if title else None
    if match:
        return text[match.end():].lstrip("\n")[:size]
    element = heading_element(tree, title) if tree is not None and title else None
    if element is None:
        return ""
    return text_after(tree, element)[:size] if tree is not None else ""


def after_title(text: str, title: str, tree: lxml_html.HtmlElement | None = None) -> str:
    """The page text from the headline on (where the editor line is looked for), found as
    :func:`header_zone` finds it; the whole text when the headline is nowhere."""
    match = find_in_text(text, title) if title else None
    if match:
        return text[match.start():]
    element = heading_element(tree, title) if tree is not None and title else None
    if element is None or tree is None:
        return text
    return text_after(tree, element) or text


_META_DATES = ("article:published_time", "og:article:published_time", "published_time",
               "og:published_time", "pubdate", "publishdate", "publish_date", "publishtime",
               "datepublished", "og:release_date", "article:published", "sailthru.date",
               "dc.date.issued", "dc.date", "dcterms.created", "weibo:article:create_at",
               "bytedance:published_time", "apub:time", "release_date", "firstpublishedtime")


@dataclass(frozen=True)
class _Dated:
    """A date found on the page: what its label says (publish/update/date) and whether it
    counts from now (``3小时前``, ``昨天``), which any absolute date beats."""

    kind: str
    value: datetime
    relative: bool


def _parse_both(text: str, tz: tzinfo, now: datetime, minguo: bool = False,
                relative: bool = True, day_first: bool | None = None
                ) -> tuple[datetime, bool] | None:
    """The absolute date in ``text``, else (if ``relative``) a relative one, with the flag."""
    parsed = parse_zh_date(text, tz, now, relative=False, minguo=minguo, day_first=day_first)
    if parsed is not None:
        return parsed, False
    parsed = parse_zh_date(text, tz, now, minguo=minguo, day_first=day_first) \
        if relative else None
    return (parsed, True) if parsed is not None else None


def _labelled_dates(scope: str, tz: tzinfo, now: datetime, window: int | None,
                    day_first: bool | None = None) -> list[_Dated]:
    """The date after each date label in ``scope``, in order; the date is looked for up to the
    next label (and at most ``window`` characters). A label says the text is a date, so a
    Taiwan ``發布日期：113-05-01`` is read too."""
    labels = list(DATE_LABEL.finditer(scope))
    found = []
    for index, match in enumerate(labels):
        end = labels[index + 1].start() if index + 1 < len(labels) else len(scope)
        if window is not None:
            end = min(end, match.end() + window)
        parsed = _parse_both(scope[match.end():end], tz, now, minguo=True, day_first=day_first)
        if parsed is None:
            continue
        label = match.group()
        kind = "update" if _UPDATE_LABEL.search(label) else \
            "publish" if _PUBLISH_LABEL.search(label) else "date"
        found.append(_Dated(kind, *parsed))
    return found


_PROSE = re.compile(r"[，。；！？]")


def _metadata_lines(zone: str, reach: int = 160) -> str:
    """The lines starting in the first ``reach`` characters of ``zone``, less the ones that
    read as prose (long and punctuated): a lead ``2019年2月27日下午，…`` dates the event, not
    the article."""
    lines, offset = [], 0
    for line in zone.split("\n"):
        if offset >= reach:
            break
        if not (len(line) >= 50 and _PROSE.search(line)):
            lines.append(line)
        offset += len(line) + 1
    return "\n".join(lines)


_CREDIT_WORDS = re.compile(
    r"来源|來源|作者|记者|記者|编辑|編輯|浏览|瀏覽|阅读|閱讀|点击|點擊|字号|字號")


_EN_FURNITURE = re.compile(
    r"(?i)\b(?:ago|yesterday|today|just now|updated|published|posted)\b|^(?:by|written by)\s")
_EN_SENTENCE = re.compile(r"[a-z]{2}[.!?](?:\s|$)")


def _is_byline(line: str) -> bool:
    """A line of page furniture (a date with a source or a credit) rather than a sentence,
    where a relative date (``今天 10:22 来源：某某网``) means the publication time."""
    if is_date_line(line):
        return True
    if len(line) <= 80 and _EN_FURNITURE.search(line) and not _EN_SENTENCE.search(line):
        return True  # ``By Staff · 3 hours ago``, ``Updated yesterday``
    return len(line) <= 80 and not _PROSE.search(line) and bool(
        _CREDIT_WORDS.search(line) or DATE_LABEL.search(line))


_YEAR = re.compile(r"(?:19|20)\d\d|民國|民国|(?<!\d)1\d\d\s*[-/.年]")


def _date_line(text: str, zone: str, tz: tzinfo, now: datetime,
               day_first: bool | None = None) -> datetime | None:
    """The date on a line that is only a date, as press releases end (``2024年5月1日（星期三）``
    then ``香港時間15時30分``; ``Ends/Wednesday, May 1, 2024``) or a header splits one: the
    first from the headline down, else upwards from it. A time on the next line is the date's
    time. The year must be written (``08-31 12:58`` lines are a list of related links), and
    three or more different dates on such lines are a list, not the article's date."""
    start = text.find(zone[:80]) if zone else -1
    lines = text.split("\n")
    head = text[:start].count("\n") if start >= 0 else 0
    found: list[datetime] = []
    for index in [*range(head, len(lines)), *range(head - 1, -1, -1)]:
        line = lines[index]
        if not is_date_line(line) or not _YEAR.search(line):
            continue
        if not has_time(line) and index + 1 < len(lines):
            time = time_of_line(lines[index + 1])
            line = f"{line} {time}" if time else line
        parsed = parse_zh_date(line, tz, now, relative=False, minguo=True, day_first=day_first)
        if parsed is not None and parsed not in found:
            found.append(parsed)
    return found[0] if 0 < len(found) < 3 else None


def find_published(text: str, zone: str, meta: Meta, tz: tzinfo, now: datetime,
                   fallback: str | None = None) -> datetime | None:
    """Published date, in ``tz`` (a date given in UTC or any other offset is shown as the
    source's local time, same instant)."""
    published = _published(text, zone, meta, tz, now, fallback)
    if published is not None and published.astimezone(tz).time() == datetime.min.time():
        published = _timed_same_day(published, meta, tz, now)
    return published.astimezone(tz) if published is not None else None


def _time_element_date(meta: Meta, zone: str, tz: tzinfo, now: datetime) -> datetime | None:
    """The date of a ``<time datetime>`` (with a time of day) whose text is shown under the
    headline, else of the first one marked as the publication date. A ``<time>`` elsewhere
    (related stories, comments) dates something else."""
    shown = compact(zone)
    candidates = [t for t in meta.times if t.text and compact(t.text) in shown] + \
        [t for t in meta.times if t.published][:1]
    for element in candidates:
        if element.updated or ":" not in element.value:
            continue
        parsed = parse_zh_date(element.value, tz, now, relative=False)
        if parsed is not None:
            return parsed
    return None


def _timed_same_day(day: datetime, meta: Meta, tz: tzinfo, now: datetime) -> datetime:
    """``day`` (a date without a time) replaced by a ``<time datetime>`` with a time on that
    same day (as the page writes it, in its own offset): the exact instant beats midnight."""
    for index, element in enumerate(meta.times):
        # The first <time> of the body, or one marked as the publication date: others may
        # date related stories of the same day.
        if element.updated or ":" not in element.value or not (element.published or index == 0):
            continue
        parsed = parse_zh_date(element.value, tz, now, relative=False)
        if parsed is not None and parsed.date() == day.astimezone(tz).date():
            return parsed
    return day


def _published(text: str, zone: str, meta: Meta, tz: tzinfo, now: datetime,
               fallback: str | None) -> datetime | None:
    """A dated meta tag/JSON-LD value with a time, else the line under the headline, else a
    labelled date anywhere, else a day-only meta date, else ``fallback``, else a line that is
    only a date (a release's last lines), else a date in an inline script (WeChat's ``ct``).
    A date labelled as an update (``更新时间``, ``修改时间``) is taken only when no other label
    dates the page. A relative date (``3小时前``, ``今日``) counts only on a metadata line and
    only when no absolute date is found: the day a page is read is no publication date.

    A ``<time datetime>`` with a time of day, shown under the headline (or marked as the
    publication date), comes right after the meta tags: its offset is exact where the visible
    ``26 November 2026`` is only a day. ``5/1/2024`` is read in the order the page language
    writes it (:func:`feeds.extract.dates.day_first_for`)."""
    day_first = day_first_for(meta.language)
    structured: list[str] = []
    value = ld_value(meta, "datePublished")
    if isinstance(value, str):
        structured.append(value)
    raw = meta.get(*_META_DATES)
    if raw:
        structured.append(raw)
    for candidate in structured:
        if ":" in candidate:
            parsed = parse_zh_date(candidate, tz, now, relative=False)
            if parsed is not None:
                return parsed
    parsed = _time_element_date(meta, zone, tz, now)
    if parsed is not None:
        return parsed
    relatives: list[datetime] = []
    zone_dates = _labelled_dates(zone, tz, now, window=None, day_first=day_first) \
        if zone else []
    for found in zone_dates:
        if found.kind != "update":
            if not found.relative:
                return found.value
            relatives.append(found.value)
    if zone:
        # An unlabelled date on the lines under the headline (``2021-06-07 10:22 來源:…``),
        # before any label; a relative one only on a line that is page furniture.
        head = _metadata_lines(zone)
        first_label = DATE_LABEL.search(head)
        head = head[:first_label.start()] if first_label else head
        parsed = parse_zh_date(head, tz, now, relative=False, day_first=day_first)
        if parsed is not None:
            return parsed
        for line in head.split("\n"):
            relative = parse_zh_date(line, tz, now, day_first=day_first) \
                if _is_byline(line) else None
            if relative is not None:
                relatives.append(relative)
                break
    text_dates = _labelled_dates(text, tz, now, window=40, day_first=day_first)
    ranked = [d for d in text_dates if d.kind == "publish"] + zone_dates + \
        [d for d in text_dates if d.kind == "date"] + [d for d in text_dates if d.kind == "update"]
    absolute = [d.value for d in ranked if not d.relative]
    if absolute:
        return absolute[0]
    for candidate in [*structured, fallback or ""]:
        result = parse_zh_date(candidate, tz, now, relative=False, day_first=day_first)
        if result is not None:
            return result
    parsed = _date_line(text, zone, tz, now, day_first=day_first)
    if parsed is not None:
        return parsed
    if meta.script_date:
        parsed = parse_zh_date(meta.script_date, tz, now, relative=False)
        if parsed is not None:
            return parsed
    relatives.extend(d.value for d in ranked if d.relative)
    if relatives:
        return relatives[0]
    return parse_zh_date(fallback, tz, now) if fallback else None


def find_source(zone: str, text: str) -> str | None:
    """The ``来源`` / ``來源`` line's value, preferring the one under the headline."""
    for scope in (zone, text):
        match = SOURCE_LINE.search(scope) if scope else None
        if match:
            value = cut_value(match.group("value"))
            if value:
                return value
    return None


# Between names in a credit: Chinese punctuation and slashes, commas, semicolons, and in Latin
# script `` and `` / ``&``. A space separates Han names (``张三 李四``) but never splits a
# Latin name (``Jane Doe``).
_NAME_SEPARATORS = re.compile(r"\s*(?:[、，,;；/／|｜]|\s(?:and|&|und|et)\s)\s*")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A credit part that is a role, not a name: ``Peter Smith, Business reporter``.
_ROLE = re.compile(
    r"(?i)\b(?:reporter|correspondent|editor|writer|columnist|journalist|contributor|"
    r"photographer|staff|desk|newsroom|team|admin|administrator|press office)s?\b")


def _name_pieces(part: str) -> list[str]:
    """One separator-free part as names: runs of Latin words stay one name (``John Smith``);
    each Han word is a name (``张三 李四``, ``张三 John Smith``)."""
    pieces: list[str] = []
    latin: list[str] = []
    for word in part.split():
        if _LATIN.search(word) and not _HAN.search(word):
            latin.append(word)
            continue
        if latin:
            pieces.append(" ".join(latin))
            latin = []
        pieces.append(word)
    if latin:
        pieces.append(" ".join(latin))
    return pieces


def split_names(value: str) -> list[str]:
    """Names in a credit: ``张三 李四``, ``张三、李四``, ``Jane Doe and John Roe``,
    ``Li Wei & Emma Stone``, ``张三 John Smith``; CMS suffixes such as ``_NF`` dropped, roles
    (``Business reporter``) left out."""
    names = []
    for part in _NAME_SEPARATORS.split(value.replace("\u3000", " ")):
        stop = False
        for piece in _name_pieces(part):
            if piece.startswith(_STOP_WORDS):
                stop = True
                break  # the next widget of the line (``李四 打印``), not another name
            name = re.sub(r"_[A-Z]{1,4}$", "", cut_value(piece))
            if _LATIN.search(name) and (_ROLE.search(name) or (
                    " " in name and not name[:1].isupper())):
                # ``Business reporter``, ``the Press Office``: not a person. A lone lowercase
                # word stays: it is a user name (``kingname``).
                continue
            names.append(name)
        if stop:
            break
    # A Latin full name is longer than a Han one: ``Maria Fernanda Gonzalez-Iñárritu``.
    return [n for n in names if n and len(n) <= (40 if " " in n else 24) and not n.isdigit()
            and "@" not in n and not n.endswith(("。", "，"))]


def find_authors(zone: str, meta: Meta) -> list[str]:
    """Authors from ``作者：``/``记者`` under the headline, else JSON-LD, else meta author."""
    for pattern in (AUTHOR_LINE, REPORTER_LINE):
        for match in pattern.finditer(zone):
            value = match.group("value")
            if _PHOTO_END.search(value) or _PHOTO_AFTER.match(zone, match.end()):
                continue  # a photographer's credit, as in an image caption
            names = split_names(value)
            if names:
                return names
            break
    for line in _metadata_lines(zone, reach=300).split("\n"):
        credit = english_byline(line) if len(line) <= 160 else None
        if credit:
            return split_names(credit)
    names = ld_people(ld_value(meta, "author"))
    if names:
        return [n.strip() for n in names if n.strip()]
    value = meta.get("author", "article:author", "og:article:author", "dc.creator")
    site = meta.get("og:site_name", "application-name") or ""
    # A byline the page shows under the headline (WeChat's unlabelled author) beats a meta
    # author that names an organisation (``市文旅局``), which is the account, not the writer.
    shown = [n for n in meta.byline if compact(n) in compact(zone[:300])]
    if shown and (not value or is_organisation(value)):
        return shown
    # Many CMSs put the site name in meta author ("网易"); that is not a person.
    if value and not value.startswith("http") and not _similar(value, site) and \
            value not in meta.title_tag:
        return split_names(value)
    return shown


# Endings of organisation names: bureaus, offices, newspapers, stations, companies.
_ORGANISATION = re.compile(
    r"(?:局|厅|廳|委|办|辦|部|院|会|會|中心|公司|集团|集團|报|報|社|网|網|台|臺|站|所|处|處|署|"
    r"府|馆|館|队|隊|组|組|室|科|校|大学|大學|新闻|新聞|传媒|傳媒|媒体|媒體|融媒|频道|頻道|"
    r"发布|發布|官微|文旅|日报|晚报|政务|政務|宣传|宣傳)$")


def is_organisation(name: str) -> bool:
    """True for a name that reads as an organisation (``市文旅局``, ``某某日报``), not a person."""
    name = name.strip()
    return (bool(_ORGANISATION.search(name)) and len(name) >= 3) or len(_HAN.findall(name)) > 5


def find_contributors(text: str) -> list[str]:
    """Editors (``责任编辑``, ``[責任編輯:郭碧娟]``, ``编辑：``): contributors, not authors."""
    names: list[str] = []
    for pattern in (EDITOR_LINE, EDITOR_BRACKETED):
        for match in pattern.finditer(text):
            if not re.search(r"责任编辑|責任編輯|责编|責編|编辑|編輯", match.group(0)):
                continue
            for name in split_names(match.group("value")):
                if name not in names:
                    names.append(name)
        if names:
            break
    return names
