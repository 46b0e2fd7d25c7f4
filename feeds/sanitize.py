"""HTML sanitizing (nh3) with absolute URLs, and plain-text helpers.

Everything that reaches a published feed goes through :func:`sanitize_html` exactly once: no
scripts, no event handlers, no ``javascript:`` URLs, and every link and image absolute.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

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
URL_ATTRIBUTES = {"href", "src", "poster", "cite"}
CLEAN_CONTENT_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "embed",
                      "rt", "rp", "rtc", "svg", "math", "textarea", "select", "button", "form"}
_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_TAG = re.compile(r"<[^>]*>")


def _absolute(base: str | None):  # type: ignore[no-untyped-def]
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        value = value.strip()
        if value.startswith("data:"):
            # Only inline images; data: links are a phishing vector.
            return value if tag == "img" and value.startswith("data:image/") else None
        if base:
            value = urljoin(base, value)
        scheme = urlsplit(value).scheme
        if scheme and scheme not in URL_SCHEMES:
            return None
        return value

    return attribute_filter


def sanitize_html(fragment: str | None, base_url: str | None = None) -> str:
    """Safe HTML with absolute URLs; script/style content and ruby annotations are dropped."""
    if not fragment:
        return ""
    return nh3.clean(
        fragment,
        tags=TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_absolute(base_url),
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment: tags gone, entities decoded, whitespace folded."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = re.sub(r"(?i)<(br|/p|/div|/li|/h\d|/tr|/figure|/figcaption)\b[^>]*>", "\n",
                          fragment)
        fragment = nh3.clean(fragment, tags=set(), clean_content_tags=CLEAN_CONTENT_TAGS)
    text = html.unescape(fragment) if "&" in fragment else fragment
    text = _SPACE.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


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
