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
from datetime import datetime, tzinfo
from typing import Any

from lxml import html as lxml_html

from feeds.extract.chinese import clean_text
from feeds.extract.dates import parse_zh_date
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
_STOP_WORDS = ("字号", "字號", "分享", "打印", "关闭", "關閉", "移动版", "移動版", "作者", "编辑",
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
    r"(?:记者|記者)(?:\s*[:：]\s*|\s+|(?=[\u4e00-\u9fff·]{2,4}[)）]))"
    r"(?P<value>[\u4e00-\u9fff·]{2,4}(?:[ 、，,\u3000][\u4e00-\u9fff·]{2,4})*)(?=[\s)）]|$)"
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
DATE_LABEL = re.compile(
    r"(?:发布时间|發布時間|发布日期|發布日期|发表时间|發表時間|发表于|發表於|发布于|發布於|更新时间|"
    r"更新時間|时间|時間|日期)\s*[:：]?\s*"
)
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


def page_text(tree: lxml_html.HtmlElement) -> str:
    """The visible text of the page, one line per block element."""
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
        for child in element:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    body = tree.find("body")
    walk(body if body is not None else tree)
    text = _SPACES.sub(" ", "".join(parts))
    return re.sub(r"\s*\n\s*", "\n", text).strip()


@dataclass
class Meta:
    """``<meta>`` values by lower-cased name/property/itemprop, and JSON-LD objects."""

    values: dict[str, str] = field(default_factory=dict)
    json_ld: list[dict[str, Any]] = field(default_factory=list)
    canonical: str | None = None
    title_tag: str = ""
    language: str | None = None

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
        if (element.get("type") or "").lower() != "application/ld+json" or not element.text:
            continue
        try:
            data = json.loads(element.text, strict=False)
        except ValueError:
            log.debug("unreadable JSON-LD skipped")
            continue
        meta.json_ld.extend(_ld_objects(data))
    title = tree.find(".//title")
    if title is not None:
        # <title> is raw text: markup such as <ruby> written into it arrives as text.
        meta.title_tag = clean_text(one_line(title.text_content()))
    meta.language = tree.get("lang") or meta.get("content-language", "og:locale")
    return meta


def ld_value(meta: Meta, key: str) -> Any:
    """The first JSON-LD value of ``key`` on an article-like object."""
    for item in meta.json_ld:
        if item.get(key):
            return item[key]
    return None


def ld_people(value: Any) -> list[str]:
    """Names from a JSON-LD author value (string, object or list of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [name for item in value for name in ld_people(item)]
    return []


def _similar(a: str, b: str) -> bool:
    return bool(a) and bool(b) and (a in b or b in a)


def split_title(title_tag: str) -> str:
    """``<title>`` without its site suffix: the longest of its separated parts."""
    parts = [p for p in _TITLE_SEPARATORS.split(title_tag) if p.strip()]
    return max(parts, key=len) if parts else title_tag


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
            if 4 <= len(text) <= 200:
                headings.append(text)
        for text in headings:
            if _similar(text, reference):
                return text
    og = meta.get("og:title", "twitter:title")
    if og:
        # Some sites copy the whole <title>, suffix and all, into og:title.
        return split_title(og) if og == meta.title_tag else og
    headline = ld_value(meta, "headline")
    if isinstance(headline, str) and headline.strip():
        return headline.strip()
    if meta.title_tag:
        return split_title(meta.title_tag)
    return headings[0] if headings else ""


def header_zone(text: str, title: str, tree: lxml_html.HtmlElement | None = None,
                size: int = 400) -> str:
    """The text right under the headline, where the date and source line sit."""
    if title:
        for probe in (f"\n{title}\n", title):
            position = text.find(probe)
            if position >= 0:
                start = position + len(probe)
                return text[start:start + size]
    return ""


def after_title(text: str, title: str, tree: lxml_html.HtmlElement | None = None) -> str:
    """The page text from the headline on (where the editor line is looked for); the whole
    text when the headline is not found in it."""
    position = text.find(title) if title else -1
    return text[position:] if position >= 0 else text


_META_DATES = ("article:published_time", "og:article:published_time", "published_time",
               "og:published_time", "pubdate", "publishdate", "publish_date", "publishtime",
               "datepublished", "og:release_date", "article:published", "sailthru.date",
               "dc.date.issued", "dc.date", "dcterms.created", "weibo:article:create_at",
               "bytedance:published_time", "apub:time", "release_date", "firstpublishedtime")


def find_published(text: str, zone: str, meta: Meta, tz: tzinfo, now: datetime,
                   fallback: str | None = None) -> datetime | None:
    """Published date: a dated meta tag/JSON-LD value with a time, else the line under the
    headline, else a labelled date anywhere, else a day-only meta date, else ``fallback``."""
    structured: list[str] = []
    value = ld_value(meta, "datePublished")
    if isinstance(value, str):
        structured.append(value)
    raw = meta.get(*_META_DATES)
    if raw:
        structured.append(raw)
    for candidate in structured:
        if ":" in candidate:
            parsed = parse_zh_date(candidate, tz, now)
            if parsed is not None:
                return parsed
    if zone:
        labelled = DATE_LABEL.search(zone)
        parsed = parse_zh_date(zone[labelled.end():] if labelled else zone[:160], tz, now)
        if parsed is not None:
            return parsed
    for match in DATE_LABEL.finditer(text):
        parsed = parse_zh_date(text[match.end():match.end() + 40], tz, now)
        if parsed is not None:
            return parsed
    for candidate in [*structured, fallback or ""]:
        result = parse_zh_date(candidate, tz, now)
        if result is not None:
            return result
    return None


def find_source(zone: str, text: str) -> str | None:
    """The ``来源`` / ``來源`` line's value, preferring the one under the headline."""
    for scope in (zone, text):
        match = SOURCE_LINE.search(scope) if scope else None
        if match:
            value = cut_value(match.group("value"))
            if value:
                return value
    return None


def split_names(value: str) -> list[str]:
    """Names in a credit: ``张三 李四``, ``张三、李四``; CMS suffixes such as ``_NF`` dropped."""
    names = [re.sub(r"_[A-Z]{1,4}$", "", cut_value(n))
             for n in re.split(r"[ 、，,;；/／\u3000]+", value)]
    return [n for n in names if n and len(n) <= 24 and not n.isdigit() and "@" not in n
            and not n.endswith(("。", "，"))]


def find_authors(zone: str, meta: Meta) -> list[str]:
    """Authors from ``作者：``/``记者`` under the headline, else JSON-LD, else meta author."""
    match = AUTHOR_LINE.search(zone) if zone else None
    if match:
        names = split_names(match.group("value"))
        if names:
            return names
    match = REPORTER_LINE.search(zone) if zone else None
    if match:
        names = split_names(match.group("value"))
        if names:
            return names
    names = ld_people(ld_value(meta, "author"))
    if names:
        return [n.strip() for n in names if n.strip()]
    value = meta.get("author", "article:author", "og:article:author", "dc.creator")
    site = meta.get("og:site_name", "application-name") or ""
    # Many CMSs put the site name in meta author ("网易"); that is not a person.
    if value and not value.startswith("http") and not _similar(value, site) and \
            value not in meta.title_tag:
        return split_names(value)
    return []


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
