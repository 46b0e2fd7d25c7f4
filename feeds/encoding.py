"""Character sets: declared vs sniffed, with the Chinese supersets readers expect.

gb2312 and gbk are decoded as gb18030 (a strict superset that also covers characters real
GBK pages use), big5 as big5hkscs. Order for HTML: HTTP charset, BOM, ``<meta charset>``, then
detection (charset-normalizer). A declared charset that fails to decode is not trusted.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "x-big5": "big5hkscs",
    # WHATWG: pages labelled latin-1 are decoded as windows-1252.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
}

_SERVER_DEFAULTS = {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"}
_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_META = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def normalize_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, with Chinese supersets; None if unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type.encode("latin-1", "replace"))
    return match.group(1).decode("ascii") if match else None


def bom_charset(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def declared_xml_charset(body: bytes) -> str | None:
    match = _XML_DECL.match(body[:512])
    return match.group(1).decode("ascii") if match else None


def meta_charset(body: bytes) -> str | None:
    match = _META.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def _try(body: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


# The most frequent characters of Chinese news text, in both scripts. Both GB18030 and Big5
# decode most byte strings without error, but only the right one yields common characters.
_COMMON_HAN = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能"
    "下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量"
    "都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各"
    "重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代"
    "想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接"
    "這為們國時來對會發動過說產種後實體當點從業還現經進裡於個關開應與問題東門車見長書網區臺灣報"
    "記責編輯據稱導應屆縣場將們聯號"
)


def _likelier_chinese(body: bytes) -> tuple[str, str] | None:
    """GB18030 or Big5-HKSCS, whichever decodes cleanly into more common characters."""
    best: tuple[int, str, str] | None = None
    for codec in ("gb18030", "big5hkscs"):
        text = _try(body, codec)
        if text is None:
            continue
        score = sum(1 for ch in text if ch in _COMMON_HAN)
        if score and (best is None or score > best[0]):
            best = (score, text, codec)
    return (best[1], best[2]) if best else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode an HTML page; returns (text, codec used).

    A declared charset is used only if the whole body decodes with it, so a page served as
    UTF-8 but written in GBK does not turn into mojibake.
    """
    bom = bom_charset(body)
    if bom:
        return body.decode(bom, errors="replace").lstrip("\ufeff"), bom
    if not body.isascii() and _try(body, "utf-8") is not None:
        # Non-ASCII text that is valid UTF-8 is UTF-8, whatever the label says: legacy
        # encodings almost never form valid UTF-8 sequences, while GB18030 accepts almost
        # any byte pair, so a UTF-8 page labelled gbk would otherwise become mojibake.
        return body.decode("utf-8"), "utf-8"
    for declared in (charset_from_content_type(content_type), meta_charset(body)):
        codec = normalize_charset(declared)
        text = _try(body, codec)
        if text is not None and codec is not None:
            return text, codec
    text = _try(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    chinese = _likelier_chinese(body)
    if chinese is not None:
        return chinese
    best = from_bytes(body[:200_000]).best()
    codec = normalize_charset(best.encoding if best else None) or "gb18030"
    return body.decode(codec, errors="replace"), codec


def feed_charset_override(body: bytes, content_type: str | None) -> str | None:
    """The codec feedparser should use instead of a declared gb2312/gbk/big5, if any.

    feedparser decodes with the declared label as is; those labels are too narrow for what
    Chinese publishers actually send.
    """
    http = charset_from_content_type(content_type)
    xml = declared_xml_charset(body)
    declared = http or xml
    if http and xml and http.strip().lower() in _SERVER_DEFAULTS:
        # Servers add a default charset to every response (Tomcat: ISO-8859-1); the document's
        # own declaration is the publisher's word on what it wrote.
        declared = xml
    if not declared:
        return None
    label = declared.strip().lower()
    if label in SUPERSETS and SUPERSETS[label] in ("gb18030", "big5hkscs"):
        return SUPERSETS[label]
    return None
