"""Character sets: Chinese supersets, declared vs sniffed charsets, BOMs."""

from __future__ import annotations

import codecs

import pytest

from feeds.encoding import (
    bom_charset,
    charset_from_content_type,
    declared_xml_charset,
    decode_html,
    feed_charset_override,
    meta_charset,
    normalize_charset,
)

# 镕 and 堃 are in GBK but not in GB2312: a page labelled gb2312 that uses them is common.
OUTSIDE_GB2312 = "朱镕基与王堃"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"), ("GB2312", "gb18030"), ("gbk", "gb18030"), ("x-gbk", "gb18030"),
        ("cp936", "gb18030"), ("euc-cn", "gb18030"), ("big5", "big5hkscs"),
        ("Big5-HKSCS", "big5hkscs"), ("iso-8859-1", "cp1252"), ("us-ascii", "cp1252"),
        ('"utf8"', "utf-8"), ("UTF-8", "utf-8"), ("shift_jis", "shift_jis"),
    ],
)
def test_normalize_charset(label: str, codec: str) -> None:
    """Declared labels map to Python codecs, the narrow Chinese ones to their supersets."""
    assert normalize_charset(label) == codec


@pytest.mark.parametrize("label", [None, "", "x-no-such-charset"])
def test_unknown_charset_is_none(label: str | None) -> None:
    """An unknown or empty label gives None, never a LookupError."""
    assert normalize_charset(label) is None


def test_gbk_characters_survive_a_gb2312_label() -> None:
    """Text with 镕/堃 declared gb2312 decodes fully: gb2312 itself would fail on them."""
    body = f'<html><head><meta charset="gb2312"></head><p>{OUTSIDE_GB2312}</p>'.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")
    text, codec = decode_html(body)
    assert OUTSIDE_GB2312 in text
    assert codec == "gb18030"


def test_http_charset_wins_over_meta_when_it_decodes() -> None:
    """The HTTP charset is used first when the body decodes with it."""
    body = '<meta charset="utf-8"><p>臺灣</p>'.encode("big5")
    text, codec = decode_html(body, "text/html; charset=big5")
    assert "臺灣" in text and codec == "big5hkscs"


def test_declared_charset_that_fails_is_not_trusted() -> None:
    """A page served as UTF-8 but written in GBK is not decoded as UTF-8 mojibake."""
    body = ("<html><body><p>" + "青岛市召开市委台港澳工作会议，传达贯彻中央和省委精神。" * 5
            + "</p></body></html>").encode("gbk")
    text, codec = decode_html(body, "text/html; charset=utf-8")
    assert "青岛市召开市委台港澳工作会议" in text
    assert codec == "gb18030"


def test_utf8_page_labelled_gbk_is_not_mojibake() -> None:
    """A UTF-8 page whose header and meta both say gbk still decodes as UTF-8 (GB18030
    would accept most of those bytes and turn the text into mojibake)."""
    body = '<meta charset="gbk"><p>青岛市召开会议，臺灣網報道。</p>'.encode()
    text, codec = decode_html(body, "text/html; charset=gbk")
    assert "青岛市召开会议，臺灣網報道。" in text and codec == "utf-8"


@pytest.mark.parametrize("codec", ["gbk", "big5"])
@pytest.mark.parametrize("words", ["這是一個測試", "臺灣網 新聞", "青岛新闻"])
def test_short_unlabelled_chinese_picks_the_right_legacy_codec(words: str, codec: str) -> None:
    """A few unlabelled (or mislabelled) GBK or Big5 characters decode as what they are."""
    try:
        body = words.encode(codec)
    except UnicodeEncodeError:
        pytest.skip(f"{words} has no {codec} form")
    assert decode_html(body)[0] == words
    assert decode_html(body, "text/html; charset=utf-8")[0] == words


def test_bom_wins() -> None:
    """A byte-order mark decides the encoding over any label, and is not kept."""
    body = codecs.BOM_UTF8 + "<p>青岛</p>".encode()
    assert decode_html(body, "text/html; charset=gbk") == ("<p>青岛</p>", "utf-8")
    utf16 = codecs.BOM_UTF16_LE + "<p>青岛</p>".encode("utf-16-le")
    assert decode_html(utf16)[0] == "<p>青岛</p>"


def test_latin1_label_decodes_as_windows_1252() -> None:
    """Pages labelled ISO-8859-1 are decoded as windows-1252, as browsers do (curly quotes)."""
    body = "<p>café “quoted”</p>".encode("cp1252")
    assert decode_html(body, "text/html; charset=iso-8859-1") == (
        "<p>café “quoted”</p>", "cp1252"
    )


def test_undeclared_utf8() -> None:
    """With no label at all, valid UTF-8 is UTF-8."""
    assert decode_html("<p>青島</p>".encode()) == ("<p>青島</p>", "utf-8")


def test_header_and_declaration_helpers() -> None:
    """Charset labels are found in Content-Type, <meta>, the XML declaration and BOMs."""
    assert charset_from_content_type('text/html; charset="GB2312"') == "GB2312"
    assert charset_from_content_type("text/html") is None
    assert charset_from_content_type(None) is None
    assert meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">') == (
        "gbk"
    )
    assert declared_xml_charset(b'<?xml version="1.0" encoding="big5"?><rss/>') == "big5"
    assert declared_xml_charset(b"<rss/>") is None
    assert bom_charset(codecs.BOM_UTF16_BE + b"x") == "utf-16"
    assert bom_charset(b"<rss/>") is None


@pytest.mark.parametrize(
    ("content_type", "body", "override"),
    [
        (None, b'<?xml version="1.0" encoding="gb2312"?><rss/>', "gb18030"),
        (None, b'<?xml version="1.0" encoding="GBK"?><rss/>', "gb18030"),
        (None, b'<?xml version="1.0" encoding="big5"?><rss/>', "big5hkscs"),
        ("text/xml; charset=gb2312", b"<rss/>", "gb18030"),
        # A server default says latin-1; the document's own declaration is believed.
        ("text/xml; charset=ISO-8859-1", b'<?xml version="1.0" encoding="gb2312"?><rss/>',
         "gb18030"),
        (None, b'<?xml version="1.0" encoding="utf-8"?><rss/>', None),
        (None, b"<rss/>", None),
        ("application/rss+xml; charset=utf-8", b"<rss/>", None),
    ],
)
def test_feed_charset_override(content_type: str | None, body: bytes, override: str | None
                               ) -> None:
    """feedparser is told to use the superset whenever a feed is labelled gb2312/gbk/big5."""
    assert feed_charset_override(body, content_type) == override
