"""One article page -> its fields: title, date, authors, source line, body.

The body comes from trafilatura (with images and captions); the Chinese metadata (``来源``,
``责任编辑``, local dates) from our own rules; per-source rules override both. The page is
parsed with lxml once; metadata is read from that tree before trafilatura gets a copy.

Usage::

    extracted = extract_article(html, url, timezone=ZoneInfo("Asia/Shanghai"))
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from trafilatura.htmlprocessing import convert_to_html

from feeds.config import ArticleRules
from feeds.extract import metadata
from feeds.extract.chinese import clean_text, convert, pinyin_annotation, strip_flattened_pinyin
from feeds.extract.dates import parse_zh_date
from feeds.extract.images import finish_image, fix_lazy_images
from feeds.model import Image, Person
from feeds.sanitize import html_to_text, one_line, sanitize_html, shorten
from feeds.selectors import select

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    """What an article page gives; empty fields are what the page did not say."""

    title: str
    content_html: str
    text: str
    published: datetime | None = None
    authors: tuple[Person, ...] = ()
    contributors: tuple[Person, ...] = ()
    source_name: str | None = None
    images: tuple[Image, ...] = ()
    language: str | None = None
    canonical_url: str | None = None
    summary: str | None = None


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_LEAF_BLOCKS = frozenset({"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                          "td", "th", "dd", "dt", "figcaption", "pre", "section"})
_NOISE_WORDS = re.compile(
    r"字号|字號|[大中小](?=\s|$|[大中小])|移动版|移動版|手机版|手機版|分享到|分享|打印|關閉窗口|关闭窗口|"
    r"关闭|關閉|收藏|举报|舉報|纠错|糾錯|返回顶部|返回頂部|返回首页|返回首頁|扫一扫|掃一掃|"
    r"微信|微博|QQ空间|QQ空間|朋友圈|复制链接|複製鏈接|点赞|點讚|评论|評論|阅读|閱讀|浏览|瀏覽|"
    r"次数|次數|人参与|人參與|人已阅|来源|來源|作者|编辑|編輯|记者|記者|发布时间|發布時間|时间|時間|"
    r"上一篇|下一篇|【|】|\[|\]|[|｜/:：·•>\-—()（）\d\s,，.。]"
)
_RELATED = re.compile(
    r"^(?:相关|相關|延伸|推荐|推薦|热门|熱門|更多|猜你喜欢|猜你喜歡|热点|熱點|精彩)"
    r"(?:新闻|新聞|阅读|閱讀|链接|鏈接|文章|报道|報導|推荐|推薦|内容|內容|专题|專題|图片|圖片)?"
    r"(?:阅读|閱讀|推荐|推薦)?\s*[:：>»]?$"
)
# Text besides the links in a related-links or share block: bullets, separators, dates.
_LINK_FURNITURE = re.compile(r"[\s·•・●■□◆◇▪▸>»\-—|｜、，,;；:：()（）\[\]【】\d/.年月日]+")
# Page furniture at the end of articles: copyright notices and QR-code prompts. A notice
# opens its block and may run long (disclaimers); a prompt opens a short block; the
# reprint phrases may stand anywhere in a short block.
_COPYRIGHT_START = re.compile(
    r"^[\s【\[（(]*(?:"
    r"版权声明|版權聲明|免责声明|免責聲明|版权所有|版權所有|"
    r"本(?:文|稿|站|网|網)(?:系|为|為|是|属|屬).{0,30}(?:原创|原創|独家|獨家|版权|版權))"
)
_PROMPT_START = re.compile(
    r"^[\s【\[（(]*(?:"
    r"(?:请|請|欢迎|歡迎)?(?:扫描|掃描|扫一扫|掃一掃|扫|掃|长按|長按)(?:识别|識別)?"
    r"(?:下方|上方|下面|右侧|右側|左侧|左側|图中|圖中|文末)?(?:的)?(?:二维码|二維碼|码|碼)|"
    r"(?:更多.{0,10})?(?:关注|關注).{0,20}(?:公众号|公眾號|微信号|微信號|视频号|視頻號))"
)
_BOILERPLATE_ANY = re.compile(
    r"转载请注明|轉載請註明|轉載請注明|未经(?:授权|许可).{0,10}(?:禁止|不得|严禁)转载|"
    r"未經(?:授權|許可).{0,10}(?:禁止|不得|嚴禁)轉載|扫码关注|掃碼關注"
)
_SHARE_LABEL = re.compile(r"^\s*(?:分享到|分享至|分享|转发到|轉發到|share(?: to| on)?)\s*[:：]?",
                          re.IGNORECASE)
_SHARE_TARGETS = re.compile(
    r"QQ好友|QQ空间|QQ空間|QQ|微信好友|微信|朋友圈|新浪微博|腾讯微博|騰訊微博|微博|人人网|人人網|"
    r"豆瓣|贴吧|貼吧|百度|今日头条|今日頭條|头条|頭條|抖音|钉钉|釘釘|复制链接|複製鏈接|链接|鏈接|"
    r"facebook|twitter|line|whatsapp|telegram|weibo|wechat|email|邮件|郵件|更多",
    re.IGNORECASE,
)
_CAPTION_MARK = re.compile(
    r"图片来源|圖片來源|图为|圖為|图：|圖：|图/|圖/|（图|\(图|（圖|\(圖|摄$|攝$|摄）|攝）"
)
_STRUCTURE = frozenset({"img", "br", "hr", "td", "th", "tr", "tbody", "thead", "col"})
_SPACER = re.compile(r"space\.gif|spacer|blank\.gif|pixel\.gif|1x1\.", re.IGNORECASE)
# A line ending like a sentence, or introducing what follows (``可以看出以下特点：``), is
# prose, not a caption.
_SENTENCE_END = re.compile(r"[。！？!?；;:：]$")


def parse_html(html: str) -> lxml_html.HtmlElement:
    """The page as an lxml tree (a leading XML declaration is dropped: lxml refuses it in str)."""
    text = _XML_DECLARATION.sub("", html, count=1)
    try:
        return lxml_html.document_fromstring(text or "<html></html>")
    except (etree.ParserError, ValueError):
        return lxml_html.document_fromstring("<html><body></body></html>")


def strip_pinyin_in_tree(tree: lxml_html.HtmlElement) -> None:
    """Remove flattened pinyin (``來(lái)源``) from every text node, so that labels such as
    ``來源`` and ``責任編輯`` are matched and every field starts clean.

    Some pages put each hint in its own element (``臺<span>(tái)</span>灣``); no single text
    node shows the pattern there, so such elements are judged as a whole.
    """
    for element in tree.iter():
        for name in ("text", "tail"):
            value = getattr(element, name, None)
            if value and ("(" in value or "（" in value):
                cleaned = strip_flattened_pinyin(value)
                if cleaned != value:
                    setattr(element, name, cleaned)
    hints: list[Any] = []
    toned = False
    for element in tree.iter():
        # A hint is a leaf element of a few Latin letters (its text is its whole content).
        if not isinstance(element.tag, str) or len(element) or element.tag in (
                "html", "head", "body", "img"):
            continue
        text = element.text or ""
        if len(text) > 60 or not _LATIN_LETTER.search(text):
            continue
        annotation = pinyin_annotation(text)
        if annotation is not None and _HAN_END.search(_text_before(element)):
            hints.append(element)
            toned = toned or annotation
            continue
        # The brackets outside the element: ``臺(<span>tái</span>)灣``.
        annotation = pinyin_annotation(f"({text})")
        previous = element.getprevious()
        before = (previous.tail if previous is not None else element.getparent().text) or ""
        if annotation is not None and _HAN_OPEN_END.search(before) and \
                (element.tail or "").lstrip().startswith((")", "）")):
            hints.append(element)
            toned = toned or annotation
    # As in running text: toneless syllables (``(de)``) count as hints only beside toned ones.
    if toned:
        for element in hints:
            previous = element.getprevious()
            tail = (element.tail or "").lstrip()
            if tail.startswith((")", "）")):
                element.tail = tail[1:]
                if previous is not None:
                    previous.tail = _HAN_OPEN_END.sub(_keep_han, previous.tail or "")
                else:
                    parent = element.getparent()
                    parent.text = _HAN_OPEN_END.sub(_keep_han, parent.text or "")
            _drop(element)


_HAN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_LATIN_LETTER = re.compile(r"[a-zA-Z\u00c0-\u024f]")
_HAN_END = re.compile(f"{_HAN}$")
_HAN_OPEN_END = re.compile(rf"({_HAN})\s*[(（]\s*$")


def _keep_han(match: re.Match[str]) -> str:
    return match.group(1)


def _text_before(element: Any) -> str:
    """The text that a reader sees right before ``element`` (stripped of trailing space)."""
    for _ in range(8):  # a few levels up is enough: hints sit beside their character
        previous = element.getprevious()
        while previous is not None:
            before = (previous.tail or "").rstrip()
            if before:
                return before
            if isinstance(previous.tag, str):
                before = str(previous.text_content()).rstrip()
                if before:
                    return before
            previous = previous.getprevious()
        parent = element.getparent()
        if parent is None:
            return ""
        if (parent.text or "").strip():
            return (parent.text or "").rstrip()
        element = parent
    return ""


def selected_text(tree: lxml_html.HtmlElement, selector: str | None) -> str | None:
    """Text of the first match of ``selector`` (None without a selector or a match)."""
    if not selector:
        return None
    for item in select(tree, selector, relative=False):
        text = item if isinstance(item, str) else item.text_content()
        text = " ".join(str(text).split())
        if text:
            return text
    return None


def _drop(element: Any) -> None:
    """Remove ``element`` but keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail and tail.strip():
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _line(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _is_leaf_block(element: Any) -> bool:
    return element.tag in _LEAF_BLOCKS and not any(
        isinstance(child.tag, str) and child.tag in _LEAF_BLOCKS for child in element)


def _is_metadata_line(text: str) -> bool:
    """A line made only of page furniture: dates, labels, share buttons, font-size widgets."""
    if len(text) > 160:
        return False
    rest = metadata.SOURCE_LINE.sub("", text)
    rest = metadata.AUTHOR_LINE.sub("", rest) if re.search("作者|撰文|文/", rest) else rest
    rest = metadata.DATE_LABEL.sub("", rest)
    rest = re.sub(r"(?:19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
                  r"(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?", "", rest)
    if rest == text and not re.search(r"字号|字號|分享|打印|窗口|移动版|移動版|纠错|糾錯", text):
        return False
    return len(_NOISE_WORDS.sub("", rest)) < 2


_CREDIT_LABEL = (r"(?:责任编辑|責任編輯|责编|責編|本文编辑|本文編輯|编辑|編輯|校对|校對|审核|審核|"
                 r"终审|終審|初审|初審|复审|複審|来源|來源|作者|记者|記者|摄影|攝影)")
# Whitespace before another credit's label (``编辑：李华　审核：王强``): the names of one
# credit may be space-separated, so the next label must not read as a name.
_BEFORE_CREDIT = re.compile(rf"[\s\u3000]+(?={_CREDIT_LABEL}\s*[:：])")


def _split_credits(text: str) -> str:
    return _BEFORE_CREDIT.sub(" | ", text)


def _remove_editor(element: Any) -> bool:
    """Remove editor credits from a block; True when nothing else was left in it."""
    text = _split_credits(_line(element))
    found = False
    for pattern in (metadata.EDITOR_LINE, metadata.EDITOR_BRACKETED):
        for match in list(pattern.finditer(text)):
            if not re.search("编辑|編輯|责编|責編|校对|校對|审核|審核", match.group(0)):
                continue
            found = True
            text = text.replace(match.group(0), " ")
    if not found:
        return False
    rest = _NOISE_WORDS.sub("", text) if len(text) <= 80 else text.strip(" ()（）[]【】|")
    if not rest and element.find(".//img") is None:
        return True
    # Take the credits out of the text nodes that hold them (spaces normalised as above).
    for pattern in (metadata.EDITOR_LINE, metadata.EDITOR_BRACKETED):
        for node in element.iter():
            for name in ("text", "tail"):
                value = getattr(node, name)
                if not value:
                    continue
                split = _split_credits(value)
                cleaned = pattern.sub(_editor_only, split)
                if cleaned != split:
                    setattr(node, name, cleaned.replace(" | ", "　"))
    return False


def _editor_only(match: re.Match[str]) -> str:
    return "" if re.search("编辑|編輯|责编|責編|校对|校對|审核|審核", match.group(0)) \
        else match.group(0)


def _outside_links(element: Any) -> str:
    """The text of ``element`` that is not inside a link."""
    if element.tag == "a":
        return ""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(_outside_links(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _is_link_block(element: Any) -> bool:
    """A block made only of links (and bullets, separators, dates): a list of headlines."""
    if not isinstance(element.tag, str) or element.find(".//img") is not None:
        return False
    links = [a for a in element.iter("a") if _line(a)]
    return bool(links) and not _LINK_FURNITURE.sub("", _outside_links(element))


def _is_related_block(element: Any) -> bool:
    """``相关阅读：`` with its links in the same block."""
    label = _LINK_FURNITURE.sub("", _outside_links(element))
    return bool(label) and _RELATED.match(label) is not None and any(
        _line(a) for a in element.iter("a")) and element.find(".//img") is None


def _is_boilerplate(element: Any, text: str) -> bool:
    """A copyright notice, a QR-code prompt or a share bar: short blocks only, so that prose
    which merely mentions these words stays."""
    if len(element.findall(".//img")) > 1:
        return False
    if len(text) <= 300 and _COPYRIGHT_START.match(text):
        return True
    if len(text) <= 60 and _PROMPT_START.match(text):
        return True
    if len(text) <= 80 and _BOILERPLATE_ANY.search(text):
        return True
    label = _SHARE_LABEL.match(text)
    if label is None or len(text) > 80 or element.find(".//img") is not None:
        return False
    rest = _SHARE_TARGETS.sub("", text[label.end():])
    return len(_NOISE_WORDS.sub("", rest)) < 2


def _drop_related(label: Any) -> None:
    """Drop a related-links label and the lists or link-only blocks that follow it."""
    following = label.getnext()
    _drop(label)
    while following is not None and isinstance(following.tag, str) and (
            following.tag in ("ul", "ol") or _is_link_block(following)
            or (following.tag == "br")):
        after = following.getnext()
        _drop(following)
        following = after


# End-of-story marks of press releases and wire copy (``完``, ``NNNN``, ``Ends/Wednesday,
# May 1, 2024``, ``Issued at HKT 15:30``), and the date/time lines that come with them.
_END_MARK = re.compile(
    r"[\s(（\[【\-－—]*(?:完|全文完|NNNN|END|Ends?(?:\s*/.{0,40})?)[\s)）\]】\-－—]*"
    r"|Issued at HKT \d{1,2}:\d{2}"
    r"|(?:香港|澳門|澳门)(?:時間|时间)\s*\d{1,2}\s*[時时:：]\s*\d{1,2}\s*分?",
    re.IGNORECASE,
)
_DATE_ONLY = re.compile(
    r"(?:19|20)\d\d\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:[（(](?:星期|週|周).[)）])?"
    r"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+\w+\s+\d{1,2},\s*\d{4}",
    re.IGNORECASE,
)
# A font-size widget (``字体：小中大``) and photo/video credits on a metadata line.
_FONT_WIDGET = re.compile(r"(?:字体|字體|字号|字號)\s*[:：]?\s*[【\[]?[大中小\s]+[】\]]?")
_MEDIA_CREDIT = re.compile(
    r"(?:摄影|攝影|摄像|攝像|视频|視頻|图|圖|文)\s*[:：/／]\s*[\u4e00-\u9fff·]{2,4}")


def _block_lines(element: Any) -> list[str]:
    """The lines a reader sees in ``element`` (split at ``<br>``)."""
    lines: list[str] = [element.text or ""]
    for node in element.iterdescendants():
        if node.tag == "br":
            lines.append(node.tail or "")
        else:
            if isinstance(node.tag, str):
                lines[-1] += node.text or ""
            lines[-1] += node.tail or ""
    return [" ".join(line.split()) for line in lines if line.strip()]


def _is_edge_chrome(element: Any) -> bool:
    """A short standalone block at the start or end of a body that is page furniture: an
    end mark with its date and time, a date/source/photographer line, a font-size widget."""
    if not isinstance(element.tag, str) or element.tag in _STRUCTURE or \
            element.find(".//img") is not None or _has_player(element):
        return False
    lines = _block_lines(element)
    if not lines or sum(len(line) for line in lines) > 160:
        return False
    if any(_END_MARK.fullmatch(line) for line in lines):
        return all(_END_MARK.fullmatch(line) or _DATE_ONLY.fullmatch(line) for line in lines)
    text = " ".join(lines)
    widget = _FONT_WIDGET.sub("", text)
    if widget != text and len(_NOISE_WORDS.sub("", widget)) < 2:
        return True
    credits = _MEDIA_CREDIT.sub("", text)
    return credits != text and _is_metadata_line(credits)


def _drop_edge_chrome(body: Any) -> None:
    """Drop furniture blocks at the start and the end of ``body`` (never inside the prose)."""
    for first in (True, False):
        while True:
            blocks = [child for child in body if isinstance(child.tag, str) and (
                _line(child) or child.find(".//img") is not None or _has_player(child))]
            if not blocks:
                return
            edge = blocks[0] if first else blocks[-1]
            # A wrapper holding the whole body: look at its own edge blocks.
            while len([c for c in edge if isinstance(c.tag, str) and c.tag not in _STRUCTURE
                       and _line(c)]) > 1 and not _is_edge_chrome(edge) and \
                    not (edge.text or "").strip():
                inner = [c for c in edge if isinstance(c.tag, str) and _line(c)]
                edge = inner[0] if first else inner[-1]
            if not _is_edge_chrome(edge):
                break
            _drop(edge)


# Reader-facing furniture that English (and some Chinese) news sites put inside the article
# body: newsletter sign-ups, donation asks, app and social prompts, ads, cookie notices,
# share and comment widgets. Each pattern opens a short standalone block; prose that merely
# mentions the words ("residents could sign up for email updates") does not start that way
# or runs longer than these prompts do.
_PROMO_START = re.compile(
    r"^[\s【\[（(\"“]*(?:"
    r"(?:sign up|signup|register)\b.{0,120}?\b(?:newsletters?|inbox|e-?mails?|"
    r"briefings?|bulletins?|alerts|digests?)\b|"
    r"subscribe\b.{0,120}?\b(?:newsletters?|inbox|e-?mails?|briefings?|bulletins?|alerts|"
    r"digests?|access|today|now)\b|(?:subscribe|sign up)(?: (?:now|today|here))?[.!]?$|"
    r"get (?:our|the) .{0,40}?\b(?:newsletters?|briefings?|bulletins?|digests?|app)\b|"
    r"support (?:our|independent|quality|local|public[- ]interest) (?:journalism|reporting)|"
    r"(?:please )?(?:consider )?(?:make|making) a (?:small )?(?:contribution|donation)|"
    r"if you (?:value|like|enjoy|appreciate|rely on) (?:our|this|what we)"
    r".{0,150}?(?:support|contribut|donat|subscri)|"
    r"become a (?:member|supporter|subscriber|patron)\b|donate (?:now|today|here)\b|"
    r"download (?:our|the) .{0,30}?\bapp\b|get the .{0,20}?\bapp\b|"
    r"(?:follow|like|find|join|connect with) us on (?:twitter|x|facebook|instagram|linkedin|"
    r"tiktok|youtube|threads|bluesky|mastodon|whatsapp|telegram|weibo|wechat|social)\b|"
    r"(?:advertisement|advert|sponsored(?: content)?|ad|ads by \w+)$|"
    r"(?:the )?(?:story|article|text) continues below(?: this)?(?: advertisement| ad)?|"
    r"continue reading (?:below|the main story)|"
    r"we use cookies|this (?:web)?site uses cookies|by (?:continuing|using) .{0,60}cookies|"
    r"share (?:this|the) (?:article|story|page|post)\b.{0,60}$|"
    r"\d+ comments?$|comments?(?: \(\d+\))?$|(?:leave|post|add|write) a (?:comment|reply)\b|"
    r"(?:show|view|load|see|read) (?:all )?(?:\d+ )?comments\b|"
    r"join the (?:conversation|discussion)\b|"
    # Chinese: 下载新京报客户端, 关注我们：微博 微信, 点击订阅我们的每日早报.
    r"(?:点击|欢迎|请|立即|马上)?(?:下载|安装)[^，。,]{0,12}?(?:客户端|APP|App|app|应用)|"
    r"(?:点击|欢迎|请|更多.{0,10})?(?:关注|關注)我们|"
    r"(?:点击|欢迎|请|立即|马上|免费)?(?:订阅|訂閱)(?:我们|我們|本(?:号|號|刊|站)|"
    r"[^，。,]{0,12}?(?:早报|晚报|日报|简报|周报|邮件|newsletter|频道|专栏|推送|公众号)))",
    re.IGNORECASE,
)
# Anywhere in a short block: the opt-out line under a sign-up form.
_PROMO_ANY = re.compile(r"unsubscribe at any time|you can unsubscribe|取消订阅", re.IGNORECASE)
# A label before links to other stories (``Read more: <a>…</a>``, ``Related stories``).
_RELATED_EN = re.compile(
    r"^(?:read more|related(?: stories| articles| content| news| links| coverage| reading)?|"
    r"see also|also read|read also|more on this(?: story)?|more from [\w ]{1,30}|"
    r"recommended(?: for you| reading)?|further reading|you (?:may|might) also like|"
    r"most (?:read|popular)|top stories|trending(?: now)?|more stories)\s*[:：]?",
    re.IGNORECASE,
)
# An author bio: ``Jane Doe is a reporter covering…`` (in an aside or closing the body).
_AUTHOR_BIO = re.compile(
    r"^[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}\s+(?:is|was)\s+(?:a|an|the|our)\s+"
    r"[^.]{0,80}?\b(?:reporter|correspondent|editor|writer|journalist|columnist|contributor|"
    r"producer|author|freelancer|fellow|analyst)\b"
)
# Class or id words of furniture blocks. Whole words (``share-bar``, ``comments``); the
# longer ones also inside a word (``newsletterBox``, ``relatedposts``) but ``commentary``
# is no comments block.
_FURNITURE_WORDS = frozenset({
    "share", "sharing", "social", "related", "comment", "comments", "ad", "ads", "advert",
    "promo", "promos", "signup", "subscribe", "subscription", "newsletter", "donate",
    "donation", "cookie", "cookies", "consent", "sponsor", "sponsored", "recirculation",
})
_FURNITURE_PARTS = re.compile(
    r"newsletter|subscribe|signup|donate|donation|advert|cookie|consent|promo(?!te)|"
    r"sponsor|authorbio|aboutauthor|aboutthe?author|sharebar|sharetool|sharebutton|"
    r"socialshare|sociallink|socialmedia|relatedpost|relatedarticle|relatedstor|"
    r"relatedlink|relatedcontent|relatednews|commentlist|commentsection"
)
_WORD_SPLIT = re.compile(r"[-_\s]+|(?<=[a-z])(?=[A-Z])")


def _is_furniture_class(element: Any) -> bool:
    """Whether ``element``'s class or id names page furniture (newsletter, share, …)."""
    names = f"{element.get('class') or ''} {element.get('id') or ''}"
    if not names.strip():
        return False
    for token in names.split():
        parts = [p.lower() for p in _WORD_SPLIT.split(token) if p]
        if any(p in _FURNITURE_WORDS for p in parts) or \
                _FURNITURE_PARTS.search("".join(parts)):
            return True
    return False


def _is_promo(text: str, element: Any) -> bool:
    """A short standalone sign-up, donation, app, social, ad, cookie, share or comments
    block. Chinese prompts are short; English ones run to a sentence or two."""
    limit = 60 if re.search(_HAN, text[:20]) else 250
    if len(text) > limit or len(element.findall(".//img")) > 1:
        return False
    return bool(_PROMO_START.match(text) or _PROMO_ANY.search(text))


def _is_related_label(element: Any, text: str) -> bool:
    """``Read more: <a>…</a>``, or a ``Related stories`` heading right before a list of
    links (a heading before prose or a list of points is the story's own)."""
    match = _RELATED_EN.match(text)
    if match is None or element.find(".//img") is not None:
        return False
    if match.end() == len(text):
        following = element.getnext()
        return following is not None and _is_link_block(following) and \
            not (element.tail or "").strip()
    # Besides the label only links: the rest of the block is other stories' headlines.
    rest = _RELATED_EN.sub("", " ".join(_outside_links(element).split()), count=1)
    return element.find(".//a") is not None and not _LINK_FURNITURE.sub("", rest)


def _drop_related_links(label: Any) -> None:
    """Drop a related-stories label and the link-only blocks right after it."""
    following = label.getnext()
    _drop(label)
    while following is not None and isinstance(following.tag, str) and \
            (_is_link_block(following) or following.tag == "br"):
        after = following.getnext()
        _drop(following)
        following = after


def _is_furniture_box(element: Any, body_size: int) -> bool:
    """A block of page furniture inside the body: one whose class says so, or an aside
    that asks the reader to sign up or tells who the author is. A block holding half the
    body is a wrapper of the story, whatever its class."""
    if element.tag in ("figure", "img") or _has_player(element):
        return False
    text = _line(element)
    if len(text) * 2 > body_size and len(text) > 200:
        return False
    if _is_furniture_class(element):
        return True
    if element.tag != "aside" or len(text) > 600:
        return False
    return any(_is_promo(_line(block), block) or _AUTHOR_BIO.match(_line(block))
               for block in element.iter() if isinstance(block.tag, str) and _line(block))


def _drop_furniture_boxes(body: Any) -> None:
    """Drop furniture blocks (see :func:`_is_furniture_box`) anywhere in ``body``."""
    size = len(_line(body))
    dropped: set[Any] = set()
    for element in list(body.iter()):
        if element is body or not isinstance(element.tag, str) or \
                any(ancestor in dropped for ancestor in element.iterancestors()):
            continue
        if _is_furniture_box(element, size):
            dropped.add(element)
            _drop(element)


def _drop_closing_bio(body: Any) -> None:
    """Drop a short author bio that closes the body (``Jane Doe is a reporter covering…``)."""
    blocks = [e for e in body.iter() if isinstance(e.tag, str) and e is not body
              and _is_leaf_block(e) and _line(e)]
    if blocks:
        last = blocks[-1]
        text = _line(last)
        if len(text) <= 300 and last.find(".//img") is None and _AUTHOR_BIO.match(text):
            _drop(last)


# A bare date written out as a signature: 2024年3月1日, 二〇二四年三月一日.
_SIGNATURE_DATE = re.compile(r"(?:(?:19|20)\d\d\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日"
                             r"|[〇零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月"
                             r"[一二三四五六七八九十]{1,3}日)")


def clean_body(body: Any, title: str) -> None:
    """Drop the headline, metadata lines, editor credits, related-link blocks and end-of-page
    furniture (copyright, QR codes, share bars), sign-up, donation, app, social, ad, cookie
    and comments blocks in place."""
    _drop_furniture_boxes(body)
    blocks = [e for e in body.iter() if isinstance(e.tag, str) and _is_leaf_block(e)
              and _line(e)]
    # A notice ends with its issuer and the date it was signed (某某市人民政府办公室 /
    # 2024年3月1日): that date is the document's, not page furniture.
    signed = blocks[-1] if len(blocks) > 1 and _SIGNATURE_DATE.fullmatch(
        _line(blocks[-1])) else None
    for element in list(body.iter()):
        if not isinstance(element.tag, str) or element.getparent() is None:
            continue
        if not _is_leaf_block(element) or element is signed:
            continue
        text = _line(element)
        has_image = element.find(".//img") is not None or element.tag == "img"
        if not text:
            continue
        if not has_image and (text == title or _is_metadata_line(text)):
            _drop(element)
        elif not has_image and (_RELATED.match(text) or _is_related_block(element)):
            _drop_related(element)
        elif not has_image and _is_related_label(element, text):
            _drop_related_links(element)
        elif _is_boilerplate(element, text) or _is_promo(text, element) or \
                _remove_editor(element):
            if _PROMPT_START.match(text):
                _drop_qr_image_before(element)
            _drop(element)
    for img in list(body.iter("img")):
        if _QR_IMAGE.search(f"{img.get('src') or ''} {img.get('alt') or ''} "
                            f"{img.get('title') or ''}"):
            _drop(_image_holder(img, body))
    # Widgets that are not paragraphs: a share bar of icon links, "【纠错】 责任编辑：X" spans.
    dropped: set[Any] = set()
    for element in list(body.iter()):
        if element is body or not isinstance(element.tag, str) or element.tag in _STRUCTURE:
            continue
        if any(ancestor in dropped for ancestor in element.iterancestors()):
            continue
        if element.find(".//img") is not None and not _is_spacer_only(element):
            continue
        if _has_player(element):
            continue  # a player with no text is the story on a video page
        if element.tag in _INLINE and _in_running_text(element):
            continue  # "在<span>(2024)</span>年": part of a sentence, not a widget
        text = _line(element)
        for pattern in (metadata.EDITOR_LINE, metadata.EDITOR_BRACKETED):
            text = pattern.sub("", text)
        if len(text) <= 160 and len(_NOISE_WORDS.sub("", text)) < 2:
            dropped.add(element)
            _drop(element)


_QR_IMAGE = re.compile(r"qr_?code|qrcode|二维码|二維碼|erweima|ewm\.", re.IGNORECASE)
_HOLDERS = frozenset({"p", "div", "a", "span", "center", "section", "figure", "strong", "b"})


def _image_holder(img: Any, body: Any) -> Any:
    """The largest element around ``img`` that holds nothing else (no text, no other image)."""
    holder = img
    parent = img.getparent()
    while parent is not None and parent is not body and parent.tag in _HOLDERS and \
            not _line(parent) and len(parent.findall(".//img")) == 1:
        holder, parent = parent, parent.getparent()
    return holder


def _drop_qr_image_before(prompt: Any) -> None:
    """A scan prompt (``长按识别二维码``) right after an image: the image is the QR code."""
    previous = prompt.getprevious()
    if previous is not None and (previous.tag == "img" or (
            not _line(previous) and len(previous.findall(".//img")) == 1)) and \
            not (previous.tail or "").strip():
        _drop(previous)


_INLINE = frozenset({"span", "b", "strong", "em", "i", "u", "font", "sup", "sub", "small", "big",
                     "a", "code", "abbr", "time", "mark", "s", "del", "ins"})
_WORD_EDGE = re.compile(r"\w")


def _in_running_text(element: Any) -> bool:
    """Whether words touch ``element`` on both sides (``在<span>(2024)</span>年``); a stock
    quote after a company link (``<a>贝莱德</a><span>(431.2, 1.74%)</span>固定…``) has text
    on one side only."""
    after = (element.tail or "").lstrip()
    previous = element.getprevious()
    if previous is not None:
        before = (previous.tail or "").rstrip()
    else:
        parent = element.getparent()
        before = ((parent.text or "") if parent is not None else "").rstrip()
    return bool(after and _WORD_EDGE.match(after[0]) and before and _WORD_EDGE.match(before[-1]))


def _is_spacer_only(element: Any) -> bool:
    return all(_SPACER.search(img.get("src") or "") for img in element.iter("img"))


def _is_caption(text: str) -> bool:
    if not text or len(text) > 90:
        return False
    if _CAPTION_MARK.search(text):
        return True
    return len(text) <= 60 and not _SENTENCE_END.search(text)


_CAPTION_BLOCKS = frozenset({"p", "div", "center", "td"})
# Inside a caption block only inline markup may sit beside the image.
_NOT_INLINE = frozenset({"p", "div", "table", "ul", "ol", "li", "section", "article", "figure",
                         "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dl"})


def _text_around(block: Any, img: Any) -> tuple[str, str]:
    """The text of ``block`` before and after ``img`` (in reading order)."""
    before: list[str] = []
    after: list[str] = []
    seen = False

    def walk(element: Any) -> None:
        nonlocal seen
        if element is img:
            seen = True
        elif isinstance(element.tag, str):
            (after if seen else before).append(element.text or "")
        for child in element:
            walk(child)
            (after if seen else before).append(child.tail or "")

    walk(block)
    return " ".join("".join(before).split()), " ".join("".join(after).split())


def _figure(img: Any, caption: str | None, replaced: Any) -> Any:
    """A ``<figure>`` for ``img`` (with ``caption``) put in the place of ``replaced``."""
    figure = etree.Element("figure")
    etree.SubElement(figure, "img", {k: v for k, v in img.attrib.items()
                                     if v and k in ("src", "alt", "title", "referrerpolicy")})
    if caption:
        etree.SubElement(figure, "figcaption").text = caption
    figure.tail = replaced.tail
    parent = replaced.getparent()
    if parent is not None:
        parent.replace(replaced, figure)
    return figure


def _caption_in_block(img: Any, body: Any) -> tuple[Any, str] | None:
    """``<p><img><br>图为会议现场。</p>``: the block, and the caption after the image in it."""
    block = img.getparent()
    while block is not None and block is not body and block.tag not in _CAPTION_BLOCKS:
        block = block.getparent()
    if block is None or block is body or len(block.findall(".//img")) != 1:
        return None
    if any(isinstance(e.tag, str) and e.tag in _NOT_INLINE for e in block.iterdescendants()):
        return None
    before, after = _text_around(block, img)
    if before or not after or not _is_caption(after):
        return None
    return block, after


def _layout_tables(body: Any) -> None:
    """A table holding one image and at most a caption cell is a figure drawn with a table
    (old CMS templates): make it one ``<figure>``, not an image cell plus a loose text cell."""
    for table in list(body.iter("table")):
        if not any(a is body for a in table.iterancestors()):
            continue  # inside a table already replaced
        images = table.findall(".//img")
        if len(images) != 1:
            continue
        cells = [cell for cell in table.iter("td", "th") if _line(cell)]
        text = _line(table)
        if len(cells) > 2 or (text and not _is_caption(text)):
            continue
        _figure(images[0], text or None, table)


def add_figures(body: Any, base_url: str, image_proxy: str | None) -> list[Image]:
    """Wrap images in ``<figure>`` with the caption line that follows them; fix their URLs."""
    images: list[Image] = []
    _layout_tables(body)
    for img in list(body.iter("img")):
        if img.get("src"):
            img.set("src", urljoin(base_url, img.get("src", "").strip()))
        src = finish_image(img, image_proxy)
        if not src:
            _drop(img)
            continue
        holder = _image_holder(img, body)
        container = holder.getparent()
        if container is None:
            continue
        if container.tag == "figure":
            caption_element = container.find("figcaption")
            caption = _line(caption_element) if caption_element is not None else None
            images.append(Image(url=src, caption=caption or None))
            continue
        following = holder.getnext()
        if holder is img and container is not body and _line(container) and not (
                _caption_block(following) and following.tag != "span"
                and container.tag not in _INLINE and not (container.text or "").strip()
                and img.getprevious() is None and not (img.tail or "").strip()):
            captioned = _caption_in_block(img, body)
            if captioned is not None:
                _figure(img, captioned[1], captioned[0])
                images.append(Image(url=src, caption=captioned[1]))
                continue
            images.append(Image(url=src))
            continue  # an inline image inside prose stays where it is
        # (An image opening its block, right before a caption block, is a figure:
        # ``<div class=pic><img><p>caption</p></div>``.)
        caption = None
        if _caption_block(following):
            caption = _line(following)
            _drop(following)
        _figure(img, caption, holder)
        images.append(Image(url=src, caption=caption))
    return images


def _caption_block(element: Any | None) -> bool:
    """Whether ``element`` (the block after an image) is its caption. It may be a WeChat
    <section>; a line that is mostly a link points elsewhere (相关资讯请关注: <a>…专区</a>)."""
    return element is not None and element.tag in (
        "p", "div", "figcaption", "span", "section", "center") and \
        element.find(".//img") is None and _is_caption(_line(element)) and \
        _link_share(element) * 3 < len(_line(element))


def _link_share(element: Any) -> int:
    return sum(len(_line(a)) for a in element.iter("a"))


def _serialize(body: Any) -> str:
    parts = [body.text or ""]
    parts.extend(lxml_html.tostring(child, encoding="unicode") for child in body)
    return "".join(parts)


# Site footers and chrome: registration numbers, the site's owner, contact lines. A block
# showing two of these (or one, when short) is the footer, not the article.
_FOOTER_MARK = re.compile(
    r"ICP备|ICP證|ICP证|ICP\s*[:：]?\s*\d|公网安备|公網安備|网安备|網安備|版权所有|版權所有|"
    r"copyright|©|all rights reserved|主办单位|主辦單位|承办单位|承辦單位|主办：|主辦：|"
    r"网站标识码|網站標識碼|联系我们|聯繫我們|聯絡我們|技术支持|技術支持|网站地图|網站地圖|"
    r"(?:地址|地點)\s*[:：].{0,60}?(?:电话|電話)\s*[:：]",
    re.IGNORECASE,
)
# Class or id naming a page's footer or copyright strip.
_FOOTER_NAME = re.compile(r"footer|copyright|banquan|(?:^|[\s_-])(?:foot|bottom)(?:$|[\s_-])",
                          re.IGNORECASE)
# Children whose text reads as part of their container's prose: paragraphs (also as leaf
# ``<div>``s), and the inline runs that br-separated bodies are made of
# (``<span id=pressrelease>…<br>…</span>``).
_PROSE_CHILDREN = frozenset({"p", "div", "span", "font", "strong", "b", "em", "i", "u", "section"})
_PROSE_BLOCKS = ("p", "div", "section", "table", "ul", "ol", "dl", "dd", "dt", "li", "article",
                 "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "figure", "header",
                 "footer", "nav", "aside", "main", "form")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)
_SENTENCE = re.compile(r"[。！？!?；;]|[.!?](?:\s|$)")
# A container holding the article needs this much prose; a shorter one only when it is
# clearly the article (after the headline, the only prose block of its size).
_MIN_PROSE = 200
_MIN_SHORT_PROSE = 20


def is_footer_text(text: str) -> bool:
    """Whether ``text`` reads as a site footer (ICP备, 版权所有, 主办单位, an address and
    telephone line...): two different marks, or one in a short block."""
    marks = {m.group(0).lower()[:4] for m in _FOOTER_MARK.finditer(text)}
    return len(marks) >= 2 or (bool(marks) and len(text) <= 150)


def _is_footer_element(element: Any) -> bool:
    name = f"{element.get('class') or ''} {element.get('id') or ''}"
    return element.tag == "footer" or bool(_FOOTER_NAME.search(name))


def _piece_score(text: str, links: int, title: str) -> int:
    """What a paragraph or a br-separated run adds to its container's score: its text
    outside links; nothing for the headline, date/source lines and editor credits; minus
    its length for a footer."""
    line = " ".join(text.split())
    if not line or line == title:
        return 0
    if is_footer_text(line):
        return -len(line)
    if len(line) <= 160 and (_is_metadata_line(line) or _is_editor_only(line)
                             or _is_metadata_line(_MEDIA_CREDIT.sub("", line))):
        return 0
    return max(len(line) - links, 0)


def _is_editor_only(line: str) -> bool:
    for pattern in (metadata.EDITOR_LINE, metadata.EDITOR_BRACKETED):
        line = pattern.sub("", _split_credits(line))
    return len(_NOISE_WORDS.sub("", line)) < 2


def _prose_score(element: Any, title: str, wrappers: set[Any]) -> tuple[int, int]:
    """``(score, link characters)`` of the prose directly in ``element``: its own
    paragraphs and br-separated text, not what nested containers hold (``wrappers``: the
    elements with a block element inside)."""
    score = links_total = 0
    run: list[str] = [element.text or ""]

    def flush(tail: str | None) -> None:
        nonlocal score, run
        score += _piece_score("".join(run), 0, title)
        run = [tail or ""]

    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        wrapper = child in wrappers
        if tag == "a":
            links_total += len(child.text_content().strip())
            run.append(child.tail or "")
        elif tag in _INLINE and not wrapper and child.find(".//br") is None:
            links_total += sum(len(a.text_content().strip()) for a in child.iter("a"))
            run.extend((_outside_links(child), child.tail or ""))
        elif tag in _PROSE_CHILDREN and not wrapper:
            links = sum(len(a.text_content().strip()) for a in child.iter("a"))
            links_total += links
            flush(child.tail)
            score += _piece_score(child.text_content(), links, title)
        else:  # a <br>, an image, a nested container: the run ends here
            flush(child.tail)
    flush(None)
    return score, links_total


def main_container(tree: lxml_html.HtmlElement, title: str = "") -> Any | None:
    """The element whose own paragraphs (``<p>`` children, br-separated text) hold the most
    prose (link text not counted), after the headline and outside the footer.

    Chinese news pages put the article as sibling paragraphs in one container; scoring
    containers by that finds the article where whole-page extraction keeps the hot-news
    lists and comment threads that 163, sina and others append below it. A footer's
    paragraphs count against their container, and a container before the headline (a
    navigation column) counts half, so a short notice beats a long footer. A short article
    (a weather alert, a video's summary) is taken when it is the only prose block of its
    size after the headline.
    """
    headline = metadata.heading_element(tree, title) if title else None
    above: set[Any] = set(headline.iterancestors()) if headline is not None else set()
    order = {element: index for index, element in enumerate(tree.iter())}
    start = order.get(headline, 0) if headline is not None else 0
    footers = [e for e in tree.iter() if isinstance(e.tag, str) and _is_footer_element(e)
               and e not in above and e is not headline]
    # Hidden blocks (SEO keyword stuffing) are not read; ``visibility: hidden`` is not
    # counted as hidden: WeChat shows its article that way until a script runs.
    hidden = [e for e in tree.iter() if isinstance(e.tag, str) and (
        e.get("hidden") is not None or _DISPLAY_NONE.search(e.get("style") or ""))]
    in_footer = {d for f in (*footers, *hidden) for d in f.iter()}
    # Every element holding a block: computed once, not per container and child.
    wrappers = {a for block in tree.iter(*_PROSE_BLOCKS) for a in block.iterancestors()}
    scored: list[tuple[int, Any, bool]] = []
    for element in tree.iter("div", "article", "section", "td", "span"):
        if element in in_footer:
            continue
        score, links = _prose_score(element, title, wrappers)
        if score <= 0:
            continue
        after = headline is None or element in above or order[element] > start
        if not after:
            score //= 2  # a column before the headline: navigation, a previous story
        if element.tag == "span" and element.find(".//br") is None:
            continue  # an inline span is part of its container's prose
        if links > score:
            continue  # mostly links: a sidebar, a list of headlines, a navigation column
        scored.append((score, element, after and links * 3 < score))
    if not scored:
        return None
    scored.sort(key=lambda item: -item[0])
    best_score, best, clear = scored[0]
    # The tightest block holding (nearly) all that prose: a wrapper whose one leaf <div>
    # holds the br-separated text scores as much as that <div>.
    inner = [(score, element, ok) for score, element, ok in scored
             if score * 10 >= best_score * 9 and any(a is best for a in element.iterancestors())]
    if inner:
        best_score, best, clear = max(inner, key=lambda item: item[0])
    if best_score >= _MIN_PROSE:
        return best
    if headline is None or not clear or best_score < _MIN_SHORT_PROSE or \
            not _SENTENCE.search(best.text_content()):
        return None
    related = {best, *best.iterancestors(), *best.iterdescendants()}
    rivals = [score for score, element, _ in scored if element not in related]
    # Several blocks of similar size (a gallery's captions): no single one is the article.
    return best if not rivals or rivals[0] * 2 <= best_score else None


def _trafilatura_body(tree: lxml_html.HtmlElement, url: str) -> Any | None:
    document = trafilatura.bare_extraction(
        tree, url=url, include_images=True, include_comments=False, include_tables=True,
        include_links=False, include_formatting=True, with_metadata=False, fast=False,
    )
    body = getattr(document, "body", None)
    if body is None:
        return None
    root = convert_to_html(body)
    found = root.find("body")
    return _prepare_body(found) if found is not None else None


def _is_page_dump(body: Any, link_texts: set[str], title: str) -> bool:
    """Whether a whole-page extraction is the page flattened: its lines are mostly link
    texts (navigation, a breadcrumb, a hot list), separators and the headline."""
    lines = [" ".join(line.split()) for line in "\n".join(body.itertext()).splitlines()]
    lines = [line for line in lines if line]
    total = sum(len(line) for line in lines)
    chrome = sum(len(line) for line in lines if line in link_texts or line == title
                 or not _LINK_FURNITURE.sub("", line.replace("&gt;", "")))
    return total > 0 and chrome * 3 >= total


def _headline_body(tree: lxml_html.HtmlElement, title: str) -> Any | None:
    """The blocks after the headline in its own section (a gallery's pictures, a short
    text not in paragraphs), without footers, hidden blocks and lists of links."""
    node = metadata.heading_element(tree, title) if title else None
    while node is not None and node.getparent() is not None and \
            node.getparent().tag not in ("body", "html"):
        after = [sibling for sibling in node.itersiblings() if isinstance(sibling.tag, str)
                 and not _is_footer_element(sibling) and not _is_link_block(sibling)
                 and not _DISPLAY_NONE.search(sibling.get("style") or "")]
        prose = sum(_piece_score(_outside_links(sibling), 0, title) for sibling in after)
        if prose >= _MIN_SHORT_PROSE or any(
                sibling.find(".//img") is not None or _has_player(sibling) for sibling in after):
            return _body_of(after)
        node = node.getparent()
    return None


_INDENT = " \u3000\u00a0\t\r\n"


def _prepare_body(body: Any) -> Any:
    """The clean-up every body gets, whichever way it was found: no scripts or form widgets,
    no ruby or font wrappers, no paragraph indents."""
    etree.strip_elements(body, "script", "style", "noscript", "iframe", "form", "button",
                         "select", "textarea", "input", with_tail=False)
    etree.strip_tags(body, "ruby", "rb", "font")
    # Chinese pages indent paragraphs with ideographic spaces (also after a <br> that starts
    # a new paragraph); the feed reader indents.
    preformatted = {e for pre in body.iter("pre") for e in pre.iter()}
    for element in body.iter():
        if not isinstance(element.tag, str) or element in preformatted:
            continue  # code keeps its indentation
        if element.tag == "br":
            if element.tail:
                element.tail = element.tail.lstrip(_INDENT)
        elif element.tag in _LEAF_BLOCKS and element is not body:
            if element.text:
                element.text = element.text.lstrip(_INDENT) or None
            if not element.text and len(element) and element[0].tag in _INLINE and \
                    element[0].text:
                element[0].text = element[0].text.lstrip(_INDENT)
    return body


_PLAYERS = ("video", "audio", "iframe", "embed", "object")


def _has_player(element: Any) -> bool:
    return element.tag in _PLAYERS or next(element.iter(*_PLAYERS), None) is not None


def _is_player(element: Any) -> bool:
    """A video or audio player block with at most a short label."""
    return isinstance(element.tag, str) and _has_player(element) and len(_line(element)) <= 30


def _container_body(container: Any) -> Any:
    body = copy.deepcopy(container)
    body.tag = "body"
    body.attrib.clear()
    body.tail = None
    # A captioned figure or a player just before the text container belongs to the article
    # (a lead picture placed above the text div, a video page's player above its summary).
    previous = container.getprevious()
    while previous is not None and (
            (previous.tag == "figure" and previous.find(".//img") is not None)
            or _is_player(previous)):
        lead = copy.deepcopy(previous)
        lead.tail = body.text
        body.text = None
        body.insert(0, lead)
        previous = previous.getprevious()
    _paragraphs_from_runs(body)
    return _prepare_body(body)


def _paragraphs_from_runs(body: Any) -> None:
    """Text that sits directly in the container, separated by ``<br>`` (old CMS bodies,
    press releases in a ``<span>``), becomes one ``<p>`` per run."""
    for child in list(body):
        if isinstance(child.tag, str) and child.tag in _INLINE and \
                child.find(".//br") is not None and \
                next(child.iter(*_PROSE_BLOCKS), None) is None:
            child.drop_tag()  # a span holding the br-separated text: its runs are the body's
    loose = (body.text or "").strip() or any(
        (child.tail or "").strip() for child in body if isinstance(child.tag, str))
    if not loose or body.find("br") is None:
        return
    nodes: list[Any] = []
    if body.text:
        nodes.append(body.text)
    for child in list(body):
        tail, child.tail = child.tail, None
        body.remove(child)
        nodes.append(child)
        if tail:
            nodes.append(tail)
    body.text = None
    paragraph: Any = None
    for node in nodes:
        if isinstance(node, str) or (isinstance(node.tag, str) and node.tag in _INLINE) or \
                node.tag == "img":
            if isinstance(node, str) and not node.strip() and paragraph is None:
                continue
            if paragraph is None:
                paragraph = etree.SubElement(body, "p")
            if isinstance(node, str):
                if len(paragraph):
                    paragraph[-1].tail = (paragraph[-1].tail or "") + node
                else:
                    paragraph.text = (paragraph.text or "") + node
            else:
                paragraph.append(node)
        elif isinstance(node.tag, str) and node.tag == "br":
            paragraph = None
        else:
            body.append(node)
            paragraph = None


def _rules_body(tree: lxml_html.HtmlElement, selector: str) -> Any | None:
    matches = [m for m in select(tree, selector, relative=False) if not isinstance(m, str)]
    if not matches:
        return None
    return _body_of(matches)


def _body_of(elements: Sequence[Any]) -> Any:
    """A body of copies of ``elements`` (without the text that follows each), prepared as
    every body is."""
    body = etree.Element("body")
    for element in elements:
        part = copy.deepcopy(element)
        part.tail = None
        body.append(part)
    return _prepare_body(body)


# A photo credit or caption line standing apart from the prose: ``Photo: Reuters``,
# ``图为…现场（图片来源：…）``, ``（刘通摄）``, ``沙坪坝区公安分局供图``.
_CREDIT_LINE = re.compile(
    r"^(?:photo(?:graph)?s?|pictures?|images?|illustrations?|credits?|graphics?|videos?)"
    r"\s*(?:[:：/|]|by\b|courtesy\b)"
    r"|\b(?:photo|image|picture|credit)s?\s*:\s*[^.!?]{2,60}$"
    r"|(?:getty images|reuters|ap photo|afp|epa|shutterstock|alamy|pa media)\W*$",
    re.IGNORECASE,
)
_CREDIT_MARK_ZH = re.compile(r"供图|資料圖|资料图|视频截图|視頻截圖|视觉中国|視覺中國")


def _is_credit_line(text: str) -> bool:
    """A short line crediting or captioning a picture; a sentence that points at a figure
    (``各项指标均有提升（图1）。``) is prose."""
    if not text or len(text) > 120:
        return False
    if _CREDIT_LINE.search(text):
        return True
    return bool(_CAPTION_MARK.search(text) or _CREDIT_MARK_ZH.search(text)) and (
        not _SENTENCE_END.search(text) or text.startswith(("图为", "圖為")))


def summary_text(content_html: str) -> str:
    """The text a summary is made of: the body without its pictures' captions and credit
    lines; the caption only when the body has nothing else."""
    if not content_html:
        return ""
    fragment = lxml_html.fragment_fromstring(content_html, create_parent="div")
    for figure in list(fragment.iter("figure")):
        if _is_credit_line(" ".join((figure.tail or "").split())):
            figure.tail = None  # the caption set after the figure as loose text
        _drop(figure)
    for element in list(fragment.iter()):
        if element is not fragment and isinstance(element.tag, str) and \
                _is_leaf_block(element) and _is_credit_line(_line(element)):
            _drop(element)
    text = html_to_text(lxml_html.tostring(fragment, encoding="unicode"))
    return text or html_to_text(content_html)


def _people(names: Iterable[str], conversion: str | None,
            exclude: Iterable[str] = ()) -> tuple[Person, ...]:
    seen = {n for n in exclude if n}
    people = []
    for name in names:
        clean = convert(clean_text(one_line(name)), conversion)
        if clean and clean not in seen:
            seen.add(clean)
            people.append(Person(name=clean))
    return tuple(people)


def extract_article(
    html: str,
    url: str,
    *,
    timezone: tzinfo,
    rules: ArticleRules | None = None,
    now: datetime | None = None,
    image_proxy: str | None = None,
    conversion: str | None = None,
) -> Extracted:
    """Extract an article page (decoded ``html`` fetched from ``url``)."""
    now = now or datetime.now(UTC)
    tree = parse_html(html)
    # Ruby annotations are pronunciation hints: drop them before any text is read.
    etree.strip_elements(tree, "rt", "rp", "rtc", with_tail=False)
    if rules is not None:
        for selector in rules.strip:
            for element in select(tree, selector, relative=False):
                if not isinstance(element, str):
                    _drop(element)
    fix_lazy_images(tree)
    strip_pinyin_in_tree(tree)

    meta = metadata.read_meta(tree)
    # Scripts and styles are read (JSON-LD) and done with; their text must not score as prose.
    etree.strip_elements(tree, "script", "style", "noscript", "template", with_tail=False)
    page_text = metadata.page_text(tree)
    title = clean_text((rules and selected_text(tree, rules.title)) or metadata.find_title(
        tree, meta))
    zone = metadata.header_zone(page_text, title, tree)

    published = None
    if rules is not None and rules.date:
        published = parse_zh_date(selected_text(tree, rules.date), timezone, now)
        # Shown in the site's zone, as find_published gives it (the same instant).
        published = published.astimezone(timezone) if published is not None else None
    if published is None:
        published = metadata.find_published(page_text, zone, meta, timezone, now)

    source_name = metadata.find_source(zone, page_text)
    if rules is not None and rules.author:
        author_text = selected_text(tree, rules.author)
        if author_text:
            # The selected element may hold the label too: "作者：张三".
            credit = metadata.AUTHOR_LINE.search(author_text) or \
                metadata.REPORTER_LINE.search(author_text)
            author_text = credit.group("value") if credit else author_text
        authors = metadata.split_names(author_text) if author_text else []
        if author_text and not authors:
            authors = [author_text]
    else:
        authors = metadata.find_authors(zone, meta)
    contributors = metadata.find_contributors(metadata.after_title(page_text, title, tree))

    body = _rules_body(tree, rules.body) if rules is not None and rules.body else None
    if body is None:
        container = main_container(tree, title)
        if container is not None:
            body = _container_body(container)
    if body is None:
        # trafilatura cleans the tree it is given: what the fallbacks need is read first.
        link_texts = {_line(a) for a in tree.iter("a") if _line(a)}
        near_headline = _headline_body(tree, title)
        body = _trafilatura_body(tree, url)
        if body is None or _is_page_dump(body, link_texts, title):
            log.debug("%s: no article block; taking what follows the headline", url)
            body = near_headline if near_headline is not None else body
    images: list[Image] = []
    content_html = ""
    if body is not None:
        clean_body(body, title)
        _drop_edge_chrome(body)
        _drop_closing_bio(body)
        images = add_figures(body, url, image_proxy)
        content_html = sanitize_html(_serialize(body), url)
    content_html = convert(clean_text(content_html), conversion)
    text = html_to_text(content_html)

    canonical = meta.canonical or meta.get("og:url")
    source = convert(clean_text(one_line(source_name)), conversion) or None
    author_people = _people(authors, conversion, exclude=[source or ""])
    return Extracted(
        title=convert(clean_text(one_line(title)), conversion),
        content_html=content_html,
        text=text,
        published=published,
        authors=author_people,
        contributors=_people(contributors, conversion,
                             exclude=[p.name for p in author_people]),
        source_name=source,
        images=tuple(
            Image(url=i.url, caption=convert(clean_text(i.caption), conversion) or None)
            for i in images
        ),
        language=meta.language,
        canonical_url=urljoin(url, canonical) if canonical else None,
        summary=shorten(summary_text(content_html), 300) if text else None,
    )
