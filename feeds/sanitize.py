"""HTML sanitizing (nh3) with absolute URLs, and plain-text helpers.

Everything that reaches a published feed goes through :func:`sanitize_html` exactly once: no
scripts, no event handlers, no ``javascript:`` URLs, and every link and image absolute.
Embedded players (``<iframe>``, ``<embed>``, ``<object>``) become links to what they embed,
``data:`` images larger than :data:`DATA_IMAGE_LIMIT` go, and an image or a player left
without a source becomes its alt text or its fallback content.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import nh3

# <rt>/<rp> ruby annotations are pronunciation hints a reader must not see as text.
TAGS = (set(nh3.ALLOWED_TAGS) | {"figure", "figcaption", "picture", "source", "audio", "video",
                                 "tfoot", "section", "s"}) - {"rt", "rp", "rtc"}
ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height", "referrerpolicy"},
    "source": {"src", "type"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "poster", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
}
URL_SCHEMES = {"http", "https", "mailto", "data"}
# The longest data: URI an <img> may keep, in characters: icons and spacers (a few KB) stay;
# a photo inlined as base64 (hundreds of KB) would make every feed file holding it that much
# larger, in every poll of every subscriber.
DATA_IMAGE_LIMIT = 16 * 1024
URL_ATTRIBUTES = {"href", "src", "poster", "cite"}
CLEAN_CONTENT_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "embed",
                      "rt", "rp", "rtc", "svg", "math", "textarea", "select", "button", "form"}
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
# Reusable sanitizers: nh3.clean builds its allow-lists anew on every call, which cost four
# times the sanitizing itself.
_CLEAN: dict[str, Any] = dict(tags=TAGS, clean_content_tags=CLEAN_CONTENT_TAGS,
                              attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                              link_rel="noopener noreferrer", strip_comments=True)
_CLEANER = nh3.Cleaner(**_CLEAN)
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags=CLEAN_CONTENT_TAGS)


def _scheme(value: str) -> str | None:
    """The scheme a browser reads in ``value`` (lower case, tabs and newlines ignored), "" for
    a relative URL, None for one urlsplit rejects."""
    try:
        return urlsplit(value).scheme
    except ValueError:
        return None


def _absolute(base: str | None):  # type: ignore[no-untyped-def]
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        value = value.strip()
        if _scheme(value) == "data":
            # Only small inline images; data: links are a phishing vector. The scheme as a
            # browser reads it: "DATA:" and "da<TAB>ta:" are data: URLs too.
            return value if (tag == "img" and len(value) <= DATA_IMAGE_LIMIT
                             and value[:11].lower() == "data:image/") else None
        if base:
            try:
                value = urljoin(base, value)
            except ValueError:
                return None
        scheme = _scheme(value)
        if scheme is None or (scheme and scheme not in URL_SCHEMES):
            return None
        return value

    return attribute_filter


# A URL attribute as nh3 (html5ever) writes it: always double quotes, `&` and `"` escaped.
_URL_ATTRIBUTE = re.compile(r' (href|src|poster|cite)="([^"]*)"')
# Absolute URLs that urljoin would return unchanged: the same scheme as an http(s) base (or
# another scheme, which urljoin returns as is), no query, fragment, params or characters
# urlsplit removes or rejects.
_PLAIN_ABSOLUTE = re.compile(r"https?://[^/?#;\[\]\s]+(/[^?#;\s]*)?\Z")


# A root-relative path (and query) that urljoin would only append to the base's origin: no
# dot segments, params, fragment, empty query or characters urlsplit removes.
_ROOT_RELATIVE = re.compile(r"/(?![/\\])[^#;?\s\\]*(\?[^#\s]+)?\Z")
_DOT_SEGMENT = re.compile(r"/\.\.?(/|\?|\Z)")


# The scheme and authority of a plain http(s) URL, as urlsplit would read them.
_PLAIN_ORIGIN = re.compile(r"(https?://[^/?#@\[\]\s\\]+)(?=[/?#]|\Z)")


def _origin(base: str) -> str | None:
    plain = _PLAIN_ORIGIN.match(base)
    if plain and "\t" not in base and "\r" not in base and "\n" not in base:
        return plain.group(1)
    try:
        parts = urlsplit(base)
    except ValueError:
        return None  # urljoin then raises as it did (only a joined URL needs the base)
    if parts.scheme in ("http", "https") and parts.netloc and "@" not in parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def _join(base: str, value: str, origin: str | None) -> str:
    """urljoin(base, value), without its cost for the common root-relative path.

    ``origin`` is ``_origin(base)``, computed once per fragment by the caller.
    """
    if origin and _ROOT_RELATIVE.match(value) and not _DOT_SEGMENT.search(value):
        return origin + value
    return urljoin(base, value)


def _escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("\u00a0", "&nbsp;")


def _resolve(base: str | None, origin: str | None, match: re.Match[str]) -> str:
    raw = match.group(2)
    value = (html.unescape(raw) if "&" in raw else raw).strip()
    if not _PLAIN_ABSOLUTE.match(value):
        if base:
            value = _join(base, value, origin)
        # An http(s) prefix is the scheme urlsplit would read (the common joined case).
        if not value.startswith(("http://", "https://")):
            scheme = _scheme(value)
            # A data: URL here was spelled so that the literal "data:" test in sanitize_html
            # missed it ("DATA:", "d&#97;ta:"): a disguise, not an inline icon.
            if scheme is None or scheme == "data" or (scheme and scheme not in URL_SCHEMES):
                return ""
    return f' {match.group(1)}="{_escape_attribute(value)}"'


# Embedding elements: a reader shows none of them (feed readers drop frames and plugins), so
# each becomes a link to what it embeds instead of vanishing without a trace.
_EMBED_TAGS = {"iframe", "embed", "object"}
# Case-insensitive after the first letter only: a third of the cost of (?i) on every fragment.
_EMBED_START = re.compile(r"<[iIeEoO](?i:frame|mbed|bject)\b")
# The first pass keeps them (with their source) for _embeds_as_links; it removes nothing that
# the real pass would keep, and everything it keeps the real pass sees again.
_EMBED_CLEANER = nh3.Cleaner(**{
    **_CLEAN, "tags": TAGS | _EMBED_TAGS,
    "clean_content_tags": CLEAN_CONTENT_TAGS - _EMBED_TAGS,
    "attributes": {**ATTRIBUTES, "iframe": {"src"}, "embed": {"src"}, "object": {"data"}},
})
# Tags as nh3 writes them: attributes double-quoted, `"` escaped inside (`>` is not).
_ATTRIBUTES = r'((?:\s[^\s="/>]+(?:="[^"]*")?)*)'
_IFRAME = re.compile(r"<iframe" + _ATTRIBUTES + r">.*?</iframe>", re.S)
_EMBED = re.compile(r"<embed" + _ATTRIBUTES + r">")
# An object holding no other object: its fallback content (often an <embed>) is kept when the
# object has no source of its own.
_OBJECT = re.compile(r"<object" + _ATTRIBUTES + r">((?:(?!<object\b).)*?)</object>", re.S)
_PARAGRAPH_OPEN = re.compile(r"<p[\s>]")
_LINK_OPEN = re.compile(r"<a[\s>]")


def _attribute(attributes: str, name: str) -> str | None:
    """The value of ``name`` in a serialized tag's attributes, unescaped."""
    match = re.search(r'\s' + name + r'="([^"]*)"', attributes)
    return html.unescape(match.group(1)).strip() if match else None


def _embedded_page(src: str | None, base: str | None) -> str | None:
    """The absolute http(s) URL an embed's ``src`` points to, None if it has none."""
    if not src:
        return None
    if src.startswith("//"):
        # A protocol-relative player URL inherits the page's scheme; https without a base.
        src = (base.split(":", 1)[0] if base and base.startswith("http:") else "https") + ":" + src
    elif base:
        try:
            src = urljoin(base, src)
        except ValueError:
            return None
    try:
        parts = urlsplit(src)
    except ValueError:
        return None
    return src if parts.scheme in ("http", "https") and parts.hostname else None


# Players whose embed URL has a page of its own that a reader would rather open.
_YOUTUBE_EMBED = re.compile(
    r"https?://(?:www\.|m\.)?youtube(?:-nocookie)?\.com/(?:embed|v)/([\w-]+)(?:[?&#]|\Z)")
_BILIBILI_PLAYER = re.compile(r"https?://player\.bilibili\.com/player\.html\?(.*)\Z")
_VIMEO_PLAYER = re.compile(r"https?://player\.vimeo\.com/video/(\d+)(?:[?#]|\Z)")
# What a link to an embed says when its host is a known player (by host name suffix).
EMBED_LABELS = {
    "youtube.com": "YouTube video", "youtube-nocookie.com": "YouTube video",
    "youtu.be": "YouTube video", "bilibili.com": "Bilibili 视频", "vimeo.com": "Vimeo video",
    "v.qq.com": "腾讯视频", "youku.com": "优酷视频", "ixigua.com": "西瓜视频",
    "douyin.com": "抖音视频", "weibo.com": "微博视频", "music.163.com": "网易云音乐",
    "spotify.com": "Spotify", "soundcloud.com": "SoundCloud", "twitter.com": "Post on X",
    "x.com": "Post on X", "instagram.com": "Instagram post", "tiktok.com": "TikTok video",
    "facebook.com": "Facebook post", "google.com/maps": "Map", "openstreetmap.org": "Map",
    "codepen.io": "CodePen", "gist.github.com": "GitHub gist", "slideshare.net": "Slides",
    "dailymotion.com": "Dailymotion video", "twitch.tv": "Twitch stream",
}


def _embed_target(url: str) -> tuple[str, str]:
    """The page to link for embed URL ``url``, and the link's text."""
    youtube = _YOUTUBE_EMBED.match(url)
    if youtube and youtube.group(1) != "videoseries":
        url = f"https://www.youtube.com/watch?v={youtube.group(1)}"
    elif bilibili := _BILIBILI_PLAYER.match(url):
        query = dict(parse_qsl(bilibili.group(1)))
        if query.get("bvid"):
            url = f"https://www.bilibili.com/video/{query['bvid']}"
        elif query.get("aid", "").isdigit():
            url = f"https://www.bilibili.com/video/av{query['aid']}"
    elif vimeo := _VIMEO_PLAYER.match(url):
        url = f"https://vimeo.com/{vimeo.group(1)}"
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    for suffix, label in EMBED_LABELS.items():
        domain, _, path = suffix.partition("/")
        if (host == domain or host.endswith("." + domain)) and parts.path.startswith(
                "/" + path):
            return url, label
    return url, url


def _embed_link(html_before: str, src: str | None, base: str | None) -> str:
    """A link standing for an embed whose source is ``src``: a paragraph of its own, or just
    the link inside a paragraph (no <p> in a <p>), or just its text inside a link."""
    url = _embedded_page(src, base)
    if url is None:
        return ""
    url, label = _embed_target(url)
    text = html.escape(label, quote=False)
    if len(_LINK_OPEN.findall(html_before)) > html_before.count("</a>"):
        return text
    link = f'<a href="{_escape_attribute(url)}">{text}</a>'
    if len(_PARAGRAPH_OPEN.findall(html_before)) > html_before.count("</p>"):
        return link
    return f"<p>{link}</p>"


def _embeds_as_links(fragment: str, base: str | None) -> str:
    """``fragment`` with every iframe, embed and object replaced by a link to its source.

    nh3 writes the fragment out first (well-formed, quoted, no scripts), so that the
    elements can be found by pattern; the caller sanitizes the result as any fragment.
    """
    cleaned: str = _EMBED_CLEANER.clean(fragment)

    def link(match: re.Match[str], attribute: str) -> str:
        # match.string is the text of this pass: what precedes the element in it.
        before = match.string[:match.start()]
        return _embed_link(before, _attribute(match.group(1), attribute), base)

    def object_link(match: re.Match[str]) -> str:
        if _embedded_page(_attribute(match.group(1), "data"), base) is None:
            return match.group(2)  # no source of its own: its fallback content
        return link(match, "data")

    # Objects first: one with a source stands for the <embed> inside it too. Each pass
    # replaces the innermost objects.
    while "<object" in cleaned:
        replaced = _OBJECT.sub(object_link, cleaned)
        if replaced == cleaned:
            break
        cleaned = replaced
    cleaned = _IFRAME.sub(lambda m: link(m, "src"), cleaned)
    return _EMBED.sub(lambda m: link(m, "src"), cleaned)


# An <img> (as nh3 writes it) without a src: its URL was dropped (a script URL, a data: URL
# too large) or never there (lazy loading). A reader shows a broken image; its alt text says
# more.
_IMG_WITHOUT_SRC = re.compile(r'<img((?:\s(?!src=)[^\s="/>]+(?:="[^"]*")?)*)>')
# A player with no source of its own; group 2 holds its content (its <source>s, fallback).
_PLAYER = re.compile(r"<(video|audio)" + _ATTRIBUTES + r">(.*?)</\1>", re.S)
_SOURCE_WITH_SRC = re.compile(r'<source\s[^>]*\bsrc="')


def _img_as_alt(match: re.Match[str]) -> str:
    alt = _attribute(match.group(1), "alt")
    return html.escape(alt, quote=False) if alt else ""


def _player_or_fallback(match: re.Match[str]) -> str:
    """A <video>/<audio> that can play, else its poster and fallback content (a player with
    nothing to play shows as an empty box)."""
    attributes, content = match.group(2), match.group(3)
    if ' src="' in attributes or _SOURCE_WITH_SRC.search(content):
        return match.group(0)
    poster = _attribute(attributes, "poster")
    image = f'<img src="{_escape_attribute(poster)}">' if poster else ""
    return image + re.sub(r"<source\b[^>]*>", "", content)


def _without_empty_media(cleaned: str) -> str:
    if "<img" in cleaned:
        cleaned = _IMG_WITHOUT_SRC.sub(_img_as_alt, cleaned)
    if "<video" in cleaned or "<audio" in cleaned:
        cleaned = _PLAYER.sub(_player_or_fallback, cleaned)
    return cleaned


def sanitize_html(fragment: str | None, base_url: str | None = None) -> str:
    """Safe HTML with absolute URLs; script/style content and ruby annotations are dropped.

    nh3 runs once without a Python callback; URLs are resolved against ``base_url`` in one
    pass over its output (a callback per attribute cost more than the sanitizing itself).
    A fragment with a ``data:`` URL takes the callback, which knows the element (only
    inline images may keep one, up to :data:`DATA_IMAGE_LIMIT`). A fragment with an embed
    takes one more nh3 pass first (:func:`_embeds_as_links`).
    """
    if not fragment:
        return ""
    if _EMBED_START.search(fragment):
        fragment = _embeds_as_links(fragment, base_url)
    if "data:" in fragment:
        cleaned: str = nh3.clean(fragment, attribute_filter=_absolute(base_url), **_CLEAN)
    else:
        cleaned = _CLEANER.clean(fragment)
        if '="' in cleaned:
            origin = _origin(base_url) if base_url else None  # once, not per attribute
            cleaned = _URL_ATTRIBUTE.sub(lambda m: _resolve(base_url, origin, m), cleaned)
    return _without_empty_media(cleaned).strip()


def _fold(text: str) -> str:
    """Runs of spaces as one space, no blank lines or spaces around line breaks, stripped."""
    # The same as _SPACE.sub(" ", text) then re.sub(r"\s*\n\s*", "\n", text).strip()
    # (tests/test_sanitize.py holds it to them), without their per-character cost: most text
    # holds only single spaces (which _SPACE would rewrite one by one) and few lines.
    if ("  " in text or "\t" in text or "\r" in text or "\f" in text or "\v" in text
            or "\u00a0" in text or "\u3000" in text):
        text = _SPACE.sub(" ", text)
    if "\n" not in text:
        return text.strip()
    return "\n".join([line for line in (part.strip() for part in text.split("\n")) if line])


# A tag in nh3's output: attribute values are double-quoted with `"` escaped (never `>`-free).
_SERIALIZED_TAG = re.compile(r'<[^>"]*(?:"[^"]*"[^>"]*)*>')
_BLOCK_END = re.compile(r"(?i)<(br|/p|/div|/li|/h\d|/tr|/figure|/figcaption)\b[^>]*>")


def sanitized_text(fragment: str | None) -> str:
    """:func:`html_to_text` of HTML that :func:`sanitize_html` wrote, without a second nh3 pass.

    Its output is well-formed and serialized by html5ever (comments and script-like content
    gone, text escaped), so stripping its tags is exact.
    """
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _BLOCK_END.sub("\n", fragment)
        fragment = _SERIALIZED_TAG.sub("", fragment)
    return _fold(html.unescape(fragment) if "&" in fragment else fragment)


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: tags gone, entities decoded, whitespace folded."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _BLOCK_END.sub("\n", fragment)
        fragment = _TEXT_CLEANER.clean(fragment)
    return _fold(html.unescape(fragment) if "&" in fragment else fragment)


def one_line(text: str | None) -> str:
    """Text folded to one line (titles, names)."""
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = html_to_text(text)
    return " ".join(text.split())


def shorten(text: str, limit: int = 500) -> str:
    """``text`` cut at ``limit`` characters on a word or sentence boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for mark in ("。", "！", "？", ". ", "\n", " "):
        position = cut.rfind(mark)
        if position > limit * 0.6:
            return cut[: position + len(mark)].rstrip() + "…"
    return cut.rstrip() + "…"
