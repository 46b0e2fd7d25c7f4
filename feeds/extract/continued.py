"""Multi-page articles: the URLs of an article's continuation pages, and their bodies joined.

Chinese news and government sites split a long article over several pages with a pager under
the body (``上一页 1 2 3 下一页 共3页``): ``123.html`` goes on at ``123_2.html`` (TRS sites:
``t20240501_123.html`` at ``t20240501_123_1.html``), ``index.html`` at ``index_1.html``,
``show.php?id=5`` at ``show.php?id=5&page=2``. A link is taken as the next part of *this*
article only when it clearly is one:

- it leads to the article's own file name with a page suffix (``_2``, ``-2``, ``index_1``), or
  to the article's own path with a page parameter (``page=2``);
- it reads 下一页 / 下页 / Next and its URL starts with the article's file name;
- it is one of the numbered links 2..N beside ``共N页``, in the article's own directory;

and, in every case, the link is not inside a comments block, its URL does not name comments,
and it follows the article's prose rather than a list of links (the pager of a listing: a
listing shown on the page, or an item link that was a listing all along). A ``下一篇`` (next
article) link is never a continuation.

Usage::

    urls = continuation_urls(tree, url)                  # [] for a one-page article
    urls = continuation_urls(tree2, url2, article_url=url)   # the pages page 2 links to
    whole = join_pages(first, [second, third], missing=[(4, url4)])
"""

from __future__ import annotations

import html
import logging
import posixpath
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urljoin, urlsplit

import lxml.etree
import lxml.html

from feeds.extract.article import Extracted
from feeds.extract.chinese import convert
from feeds.sanitize import html_to_text
from feeds.urls import document_base

log = logging.getLogger(__name__)

# Pages of one article, the first included. Real multi-page articles have 2-6; a pager of
# dozens is a gallery or a misreading, and one story must not cost a site a hundred requests.
MAX_PAGES = 10
# A page number in a URL; larger numbers are ids (``c_1130133.htm``), not pages.
MAX_PAGE_NUMBER = 200

# Query parameters that number the pages of one document. Not ``p`` (WordPress's post id:
# ``?p=124`` is another post) and not ``cpage`` (comment pages).
PAGE_PARAMETERS = frozenset({
    "page", "pg", "pageno", "page_no", "pagenum", "pagenumber", "pageindex", "page_index",
    "pn", "paged", "curpage", "currentpage", "cp", "pi", "ipage", "nowpage",
})
NEXT_TEXTS = frozenset({"下一页", "下一頁", "下页", "下頁", "next", "nextpage", "后页", "後頁"})

_SUFFIX = re.compile(r"^[_-](\d{1,3})$")
_DIRECTORY_PAGE = re.compile(r"^(?:index[_-](\d{1,3})\.[a-z]{2,5}|(\d{1,3})(?:/|\.s?html?))$",
                             re.IGNORECASE)
_TRS_PAGER = re.compile(
    r"createPageHTML\(\s*(\d{1,3})\s*,\s*\d+\s*,\s*[\"']([\w.-]+)[\"']\s*,\s*[\"'](\w+)[\"']")
_TOTAL_PAGES = re.compile(r"共\s*(\d{1,3})\s*[页頁]")
_NEXT_DECORATION = re.compile(r"[\s>»›→＞》\]\[【】<«‹←＜《]+")
_BRACKETS = re.compile(r"^[\[【(（]?(\d{1,3})[\]】)）]?$")
# Class or id of a comments block; URL words of a comments page.
_COMMENT_BLOCK = re.compile(r"comment|pinglun|reply|replies|discuss|liuyan|gentie|changyan|"
                            r"disqus|(?:^|[\s_-])(?:pl|cmt)(?:[\s_-]|$)|评论|評論|留言",
                            re.IGNORECASE)
_COMMENT_URL = re.compile(r"comment|pinglun|reply|discuss|liuyan|gentie|changyan|disqus",
                          re.IGNORECASE)
# Text that is the pager itself (links, page counts), whitespace removed.
_PAGER_TEXT = re.compile(
    r"^(?:\d+|首页|首頁|尾页|尾頁|末页|末頁|上一?页|上一?頁|下一?页|下一?頁|[前后後]页|[前後]頁|"
    r"共\d+[页頁]|第\d+[页頁]|当前|當前|跳转|跳轉|到|prev(?:ious)?|next|first|last|page|of|"
    r"[<>«»‹›…|/:：\[\]【】.\-,，、])*$",
    re.IGNORECASE,
)
_PAGER_WORD = re.compile(r"[上下]一?[页頁]|共\d+[页頁]|第\d+[页頁]|首[页頁]|尾[页頁]")
# Text before a pager this long decides whether it follows prose or a list of links.
_ENOUGH_TEXT = 40
_TRADITIONAL = set("這個們來說時會對於與為後國發現過還經開關點應東車長門問間見頁體實當無從")
_SIMPLIFIED = set("这个们来说时会对于与为后国发现过还经开关点应东车长门问间见页体实当无从")


# -- finding the pages -----------------------------------------------------------------------


_PAGE_QUERY = re.compile(r"[?&;](?:amp;)?(?:" + "|".join(sorted(PAGE_PARAMETERS)) + r")=\d",
                         re.IGNORECASE)


def might_continue(html_text: str, url: str) -> bool:
    """False when the page cannot have continuation pages (most pages: no parsing needed)."""
    path = urlsplit(url).path
    stem = _split_path(path)[1]
    if path.endswith("/") or not stem or ("共" in html_text and _TOTAL_PAGES.search(html_text)):
        return True
    if "createPageHTML" in html_text or _PAGE_QUERY.search(html_text):
        return True
    return re.search(re.escape(stem) + r"[_.-][\w-]*\d", html_text) is not None


def parse_page(html_text: str) -> lxml.html.HtmlElement:
    """A tree of a page for :func:`continuation_urls`, its scripts kept (TRS pagers)."""
    try:
        return lxml.html.document_fromstring(html_text.encode("utf-8", "replace") or b"<html/>")
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.document_fromstring(b"<html><body></body></html>")


def continuation_urls(root: lxml.html.HtmlElement, url: str, *,
                      article_url: str | None = None) -> list[str]:
    """The URLs of the article's further pages that the page at ``url`` links to, in order.

    ``article_url`` is the article's first page (default: ``url``); later pages are searched
    with it so that their pagers are read against the article's own address.
    """
    article = urlsplit(article_url or url)
    here = urlsplit(url)
    base = document_base(root, url)
    own = {_plain(article), _plain(here)}
    found: dict[str, float] = {}

    def consider(href: str, key: float | None) -> None:
        target = urljoin(base, href.strip())
        parts = urlsplit(target)
        plain = _plain(parts)
        if plain in own or _COMMENT_URL.search(parts.path + "?" + parts.query):
            return
        number = _page_number(parts, article)
        rank = float(number) if number is not None else key
        if rank is None:
            return
        target = parts._replace(fragment="").geturl()
        if target not in found:
            found[target] = rank
        elif number is not None:
            found[target] = min(found[target], rank)

    for script in root.iter("script"):
        # TRS sites write the pager with a script: createPageHTML(3, 0, "t20240501_123", "html")
        # stands for t20240501_123_1.html and t20240501_123_2.html.
        call = _TRS_PAGER.search(script.text or "")
        if call and _follows_prose(script):
            count, stem, extension = int(call.group(1)), call.group(2), call.group(3)
            for number in range(1, min(count, MAX_PAGES)):
                href = f"{stem}_{number}.{extension}"
                if _page_number(urlsplit(urljoin(base, href)), article) is not None:
                    consider(href, None)
    order = 0
    for element in root.xpath("//link[@rel='next'][@href]"):
        href = str(element.get("href") or "")
        if _shares_stem(urlsplit(urljoin(base, href)), article):
            consider(href, 10_000.0)
    totals = _numbered_anchors(root)
    _directory, stem, _extension = _split_path(article.path)
    stem = stem or posixpath.basename(article.path.rstrip("/"))
    for anchor in root.iter("a"):
        href = str(anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        order += 1
        # Most links of a page name neither the article nor a page: skip them unresolved.
        if anchor not in totals and not (stem and stem in href) and "?" not in href and \
                "index_" not in href and len(href) > 12:
            continue
        target = urlsplit(urljoin(base, href))
        numbered = anchor in totals
        is_next = _reads_next(anchor)
        if _page_number(target, article) is None and not numbered and not (
                is_next and _shares_stem(target, article)):
            continue
        if numbered and _page_number(target, article) is None and \
                not _same_directory(target, article):
            continue
        if _in_comments(anchor) or not _follows_prose(anchor):
            continue
        key = float(totals[anchor]) if numbered else 10_000.0 + order
        consider(href, key)
    return [u for u, _rank in sorted(found.items(), key=lambda kv: kv[1])]


def _plain(parts: SplitResult) -> str:
    """A URL without its fragment, host lower-cased: for telling the page itself apart."""
    return parts._replace(netloc=parts.netloc.lower(), fragment="").geturl()


def _same_site(a: SplitResult, b: SplitResult) -> bool:
    return a.scheme == b.scheme and a.netloc.lower() == b.netloc.lower()


def _split_path(path: str) -> tuple[str, str, str]:
    """(directory, file name without extension, extension) of a URL path."""
    directory, name = posixpath.split(path)
    stem, extension = posixpath.splitext(name)
    return directory, stem, extension.lower()


def _page_number(target: SplitResult, article: SplitResult) -> int | None:
    """The page number ``target``'s address gives as a page of ``article``, or None.

    The number is the URL's, used to order pages: TRS numbers the second page ``_1``.
    """
    if not _same_site(target, article):
        return None
    if (target.path or "/") == (article.path or "/"):
        return _query_page(target.query, article.query)
    if target.query != article.query:
        return None
    number: int | None = None
    if article.path.endswith("/"):
        rest = target.path[len(article.path):] if target.path.startswith(article.path) else ""
        match = _DIRECTORY_PAGE.match(rest)
        if match:
            number = int(match.group(1) or match.group(2))
    else:
        a_dir, a_stem, a_ext = _split_path(article.path)
        t_dir, t_stem, t_ext = _split_path(target.path)
        if a_stem and t_dir == a_dir and t_ext == a_ext and t_stem.startswith(a_stem):
            match = _SUFFIX.match(t_stem[len(a_stem):])
            if match:
                number = int(match.group(1))
    if number is None or not 1 <= number <= MAX_PAGE_NUMBER:
        return None
    return number


def _query_page(target: str, article: str) -> int | None:
    """The page number of a query that differs from the article's only in a page parameter."""
    wanted = parse_qsl(target, keep_blank_values=True)
    have = parse_qsl(article, keep_blank_values=True)
    added = [(k, v) for k, v in wanted if (k, v) not in have]
    dropped = [(k, v) for k, v in have if (k, v) not in wanted]
    if len(added) != 1:
        return None
    name, value = added[0]
    if name.lower() not in PAGE_PARAMETERS or not value.isdigit():
        return None
    # The article may name its own page: page=1 (or 0 where pages count from 0).
    first = 1
    if dropped:
        if len(dropped) != 1 or dropped[0][0] != name or dropped[0][1] not in ("0", "1"):
            return None
        first = int(dropped[0][1])
    number = int(value)
    return number if first < number <= MAX_PAGE_NUMBER else None


def _shares_stem(target: SplitResult, article: SplitResult) -> bool:
    """Whether a next-page link's URL starts with the article's own (a page of it, renamed)."""
    if not _same_site(target, article):
        return False
    if _page_number(target, article) is not None:
        return True
    if (target.path or "/") == (article.path or "/"):
        have = set(parse_qsl(article.query, keep_blank_values=True))
        wanted = set(parse_qsl(target.query, keep_blank_values=True))
        return have < wanted and any(ch.isdigit() for _k, v in wanted - have for ch in v)
    if article.path.endswith("/"):
        rest = target.path[len(article.path):] if target.path.startswith(article.path) else ""
    else:
        a_dir, a_stem, _ = _split_path(article.path)
        t_dir, t_stem, _ = _split_path(target.path)
        if not a_stem or t_dir != a_dir or not t_stem.startswith(a_stem):
            return False
        rest = t_stem[len(a_stem):]
        if not rest or rest[0] not in "_-.":
            return False
    return 0 < len(rest) <= 12 and any(ch.isdigit() for ch in rest)


def _same_directory(target: SplitResult, article: SplitResult) -> bool:
    return _same_site(target, article) and \
        _split_path(target.path)[0] == _split_path(article.path)[0]


def _compact(node: Any) -> str:
    """The text of an element without whitespace (scripts and styles are not text)."""
    if node is None or node.tag in ("script", "style"):
        return ""
    return "".join("".join(node.xpath(".//text()[not(ancestor::script or ancestor::style)]"))
                   .split())


def _reads_next(anchor: lxml.html.HtmlElement) -> bool:
    text = "".join(anchor.text_content().split()) or str(anchor.get("title") or "") or " ".join(
        str(img.get("alt") or "") for img in anchor.iter("img"))
    return _NEXT_DECORATION.sub("", text).lower() in NEXT_TEXTS


def _numbered_anchors(root: lxml.html.HtmlElement) -> dict[Any, int]:
    """Links reading 2..N near a ``共N页``, with the number they read."""
    numbered: dict[Any, int] = {}
    for text in root.xpath("//text()[contains(., '共')]"):
        match = _TOTAL_PAGES.search(str(text))
        owner = text.getparent()
        if not match or owner is None or owner.tag in ("script", "style"):
            continue
        box = owner if text.is_text else owner.getparent()
        if box is None:
            continue
        total = int(match.group(1))
        for _ in range(3):  # the pager box: the count's element or a near ancestor
            if any(_BRACKETS.match(_compact(a)) for a in box.iter("a")) or \
                    box.getparent() is None:
                break
            box = box.getparent()
        for anchor in box.iter("a"):
            digits = _BRACKETS.match(_compact(anchor))
            if digits and 2 <= int(digits.group(1)) <= min(total, MAX_PAGE_NUMBER):
                numbered[anchor] = int(digits.group(1))
    return numbered


def _in_comments(anchor: lxml.html.HtmlElement) -> bool:
    for element in anchor.iterancestors():
        label = f"{element.get('class') or ''} {element.get('id') or ''}"
        if label.strip() and _COMMENT_BLOCK.search(label):
            return True
    return False


def _follows_prose(anchor: lxml.html.HtmlElement) -> bool:
    """Whether the text before the pager holding ``anchor`` is prose, not a list of links.

    The pager's own parts (numbers, 上一页, 共3页) are skipped; walking up, the first enough
    text decides: mostly linked text, or several headline-like links, is a listing.
    """
    node: Any = anchor
    for _ in range(8):
        parent = node.getparent()
        if parent is None:
            return False
        text = links = headlines = 0
        pieces: list[tuple[str, Any]] = []
        sibling = node.getprevious()
        while sibling is not None and text < 4 * _ENOUGH_TEXT:
            tail = "".join((sibling.tail or "").split())
            if tail and not _PAGER_TEXT.match(tail):
                text += len(tail)
            if isinstance(sibling.tag, str):
                body = _compact(sibling)
                if body and not _PAGER_TEXT.match(body):
                    pieces.append((body, sibling))
                    text += len(body)
            sibling = sibling.getprevious()
        if sibling is None:
            lead = "".join((parent.text or "").split())
            if lead and not _PAGER_TEXT.match(lead):
                text += len(lead)
        for _body, element in pieces:
            anchors = [element] if element.tag == "a" else list(element.iter("a"))
            for a in anchors:
                linked = len(_compact(a))
                links += linked
                headlines += linked >= 8
        if text >= _ENOUGH_TEXT:
            return links <= 0.5 * text and headlines < 4
        node = parent
    return False


# -- joining the pages -----------------------------------------------------------------------


def _blocks(fragment: str) -> list[Any]:
    """Top-level pieces of an HTML fragment (elements, and a leading text string)."""
    if not fragment.strip():
        return []
    try:
        return list(lxml.html.fragments_fromstring(fragment))
    except (lxml.etree.ParserError, ValueError):
        return [fragment]


def _serialized(block: Any) -> str:
    if isinstance(block, str):
        return html.escape(block, quote=False)
    tail, block.tail = block.tail, None
    try:
        return str(lxml.html.tostring(block, encoding="unicode"))
    finally:
        block.tail = tail


def _with_tail(block: Any) -> str:
    if isinstance(block, str):
        return html.escape(block, quote=False)
    return str(lxml.html.tostring(block, encoding="unicode"))


def _block_text(block: Any) -> str:
    return "".join(block.split()) if isinstance(block, str) else _compact(block)


def _is_pager(block: Any) -> bool:
    text = _block_text(block)
    return bool(text) and bool(_PAGER_WORD.search(text)) and bool(_PAGER_TEXT.match(text))


def _traditional(text: str, language: str | None) -> bool:
    tag = (language or "").lower()
    if any(mark in tag for mark in ("hant", "tw", "hk", "mo")):
        return True
    return sum(ch in _TRADITIONAL for ch in text) > sum(ch in _SIMPLIFIED for ch in text)


def missing_note(missing: Sequence[tuple[int, str]], *, text: str = "",
                 language: str | None = None, conversion: str | None = None) -> str:
    """A closing paragraph linking the pages not fetched: ``（未完，见第3页：URL）``."""
    links = [(n, f'<a href="{html.escape(url)}">{html.escape(url)}</a>') for n, url in missing]
    if (language or "").lower().startswith("en"):
        parts = "; ".join(f"page {n}: {link}" for n, link in links)
        return f"<p>(Continued on {parts})</p>"
    page, see = ("頁", "見") if _traditional(text, language) else ("页", "见")
    parts = "；".join(f"第{n}{page}：{link}" for n, link in links)
    return f"<p>{convert(f'（未完，{see}', conversion)}{parts}）</p>"


def join_pages(first: Extracted, rest: Sequence[Extracted], *,
               missing: Sequence[tuple[int, str]] = (), conversion: str | None = None
               ) -> Extracted:
    """The first page's fields with every page's body, in order, and a note for ``missing``.

    A continuation page's opening blocks that repeat the headline or the first page's opening
    (a subtitle, the lead picture) are dropped, as are pager blocks and a closing block every
    page repeats; images are kept, each once.
    """
    title = "".join(first.title.split())
    pages = [_blocks(first.content_html)] + [_blocks(page.content_html) for page in rest]
    opening = {_serialized(b) for b in pages[0][:3] if not isinstance(b, str)}
    for blocks in pages[1:]:
        while blocks and ((_block_text(blocks[0]) == title and title)
                          or _serialized(blocks[0]) in opening):
            blocks.pop(0)
    pages = [[b for b in blocks if not _is_pager(b)] for blocks in pages]
    # A footer every page carries (a 纠错 line, a logo) belongs once, at the end.
    last = [_serialized(blocks[-1]) if blocks else "" for blocks in pages]
    if len(pages) > 1 and last[0] and all(closing == last[0] for closing in last):
        for blocks in pages[:-1]:
            blocks.pop()
    content = "".join(_with_tail(b) for blocks in pages for b in blocks)
    if missing:
        content += missing_note(missing, text=first.text, language=first.language,
                                conversion=conversion)
    images = list(first.images)
    seen = {image.url for image in images}
    for page in rest:
        for image in page.images:
            if image.url not in seen:
                seen.add(image.url)
                images.append(image)
    return replace(first, content_html=content, text=html_to_text(content), images=tuple(images))
