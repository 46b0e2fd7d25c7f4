"""HTML sanitizing (nh3) with absolute URLs, and plain-text helpers.

Everything that reaches a published feed goes through :func:`sanitize_html` exactly once: no
scripts, no event handlers, no ``javascript:`` URLs, and every link and image absolute.
"""

from __future__ import annotations

import html
import re
from typing import Any
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
# Reusable sanitizers: nh3.clean builds its allow-lists anew on every call, which cost four
# times the sanitizing itself.
_CLEAN: dict[str, Any] = dict(tags=TAGS, clean_content_tags=CLEAN_CONTENT_TAGS,
                              attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                              link_rel="noopener noreferrer", strip_comments=True)
_CLEANER = nh3.Cleaner(**_CLEAN)
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags=CLEAN_CONTENT_TAGS)


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
            scheme = urlsplit(value).scheme
            if scheme and scheme not in URL_SCHEMES:
                return ""
    return f' {match.group(1)}="{_escape_attribute(value)}"'


def sanitize_html(fragment: str | None, base_url: str | None = None) -> str:
    """Safe HTML with absolute URLs; script/style content and ruby annotations are dropped.

    nh3 runs once without a Python callback; URLs are resolved against ``base_url`` in one
    pass over its output (a callback per attribute cost more than the sanitizing itself).
    A fragment with a ``data:`` URL takes the callback, which knows the element (only
    inline images may keep one).
    """
    if not fragment:
        return ""
    if "data:" in fragment:
        return nh3.clean(fragment, attribute_filter=_absolute(base_url), **_CLEAN).strip()
    cleaned: str = _CLEANER.clean(fragment)
    if '="' in cleaned:
        origin = _origin(base_url) if base_url else None  # once, not per attribute
        cleaned = _URL_ATTRIBUTE.sub(lambda m: _resolve(base_url, origin, m), cleaned)
    return cleaned.strip()


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
