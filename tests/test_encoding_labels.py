"""Mislabelled Chinese pages: GB vs Big5 labels that lie, Latin-1 server defaults, end to end.

GB18030 and windows-1252 decode almost any bytes, so "the declared charset fails to decode"
never catches these; the bytes are written here in the encoding a real site would use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import LocalServer

from feeds.config import parse_config
from feeds.encoding import decode_html, feed_charset_override
from feeds.fetch import Fetcher
from feeds.poll import poll_source
from feeds.store import Store

NOW = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)

# A Taiwanese page in Big5, as the reviewer's repro site has it.
BIG5_TITLE = "青島港澳青年創業基地揭牌"
BIG5_BODY = ("5月1日，青島港澳青年創業基地在嶗山區正式揭牌。這是青島市為港澳青年來青創業就業"
             "搭建的又一重要平臺，基地將為入駐企業提供政策諮詢、辦公場地和人才服務。")
# A mainland page in GBK; every byte pair of this text is also valid Big5, so a big5 label
# decodes it without error (into 涴岆珨跺壽衾...).
GBK_BIG5_VALID = "这是一个关于国家发展的重要会议"
GBK_TITLE = "关于做好2024年港澳工作的通知"
GBK_BODY = ("各区市人民政府，市政府各部门：为做好2024年全市港澳工作，现将有关事项通知如下。"
            "一、提高思想认识，加强组织领导。二、突出工作重点，推动交流合作。三、强化督促检查，"
            "确保各项工作落到实处。")


def page(title: str, body: str, meta: str | None = None) -> str:
    head = f'<meta charset="{meta}">' if meta else ""
    return (f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>"
            f"<h1>{title}</h1><div class=\"content\"><p>{body}</p></div></body></html>")


# -- GB labels on Big5 bytes, Big5 labels on GB bytes ----------------------------------------


@pytest.mark.parametrize("label", ["gb2312", "GBK", "gb18030"])
@pytest.mark.parametrize("where", ["meta", "http"])
def test_big5_page_labelled_gb_decodes_as_big5(label: str, where: str) -> None:
    """A Big5 page whose <meta> or HTTP charset says gb2312/gbk/gb18030 reads as Big5."""
    body = page(BIG5_TITLE, BIG5_BODY, label if where == "meta" else None).encode("big5")
    content_type = f"text/html; charset={label}" if where == "http" else "text/html"
    text, codec = decode_html(body, content_type)
    assert codec == "big5hkscs"
    assert BIG5_TITLE in text and BIG5_BODY in text


@pytest.mark.parametrize("where", ["meta", "http"])
def test_gbk_page_labelled_big5_decodes_as_gbk(where: str) -> None:
    """A GBK page labelled big5 reads as GBK, both when Big5 fails on its bytes and when the
    bytes happen to be valid Big5."""
    for title, body in ((GBK_TITLE, GBK_BODY), (GBK_BIG5_VALID, GBK_BIG5_VALID * 3)):
        raw = page(title, body, "big5" if where == "meta" else None).encode("gbk")
        content_type = "text/html; charset=big5" if where == "http" else None
        text, codec = decode_html(raw, content_type)
        assert codec == "gb18030", title
        assert title in text and body in text


def test_big5_page_with_a_vendor_character_labelled_gbk() -> None:
    """One Big5 byte pair the codec does not map (CP950's euro sign) does not keep a Big5 page
    that is labelled gbk in GB18030 mojibake: it becomes one replacement character."""
    body = page(BIG5_TITLE, BIG5_BODY + "門票20EUR").encode("big5").replace(b"EUR", b"\xa3\xe1")
    with pytest.raises(UnicodeDecodeError):
        body.decode("big5hkscs")
    text, codec = decode_html(body, "text/html; charset=gbk")
    assert codec == "big5hkscs"
    assert BIG5_TITLE in text and BIG5_BODY + "門票20\ufffd" in text


@pytest.mark.parametrize(("words", "label", "codec"), [
    ("臺灣", "big5", "big5hkscs"),  # two characters prove nothing either way
    ("新闻", "gbk", "gb18030"),
    (BIG5_TITLE, "big5", "big5hkscs"),
    (GBK_TITLE, "gb2312", "gb18030"),
], ids=["short-big5", "short-gbk", "big5", "gbk"])
def test_right_or_undecidable_labels_are_kept(words: str, label: str, codec: str) -> None:
    """A correct GB or Big5 label, or one too short to judge, is believed."""
    body = f"<p>{words}</p>".encode(label)
    assert decode_html(body, f"text/html; charset={label}") == (f"<p>{words}</p>", codec)


def test_big5_feed_labelled_gb2312_gets_big5() -> None:
    """feedparser is told big5hkscs for a Big5 feed that declares gb2312."""
    body = ('<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><item>'
            f"<title>{BIG5_TITLE}</title><description>{BIG5_BODY}</description>"
            "</item></channel></rss>").encode("big5")
    assert feed_charset_override(body, "application/rss+xml") == "big5hkscs"
    assert feed_charset_override(body.replace(b"gb2312", b"big5"), None) == "big5hkscs"


# -- Latin-1 server defaults ------------------------------------------------------------------


@pytest.mark.parametrize("server", ["ISO-8859-1", "latin1", "us-ascii", "windows-1252"])
@pytest.mark.parametrize(("title", "body", "meta", "encoding", "codec"), [
    (GBK_TITLE, GBK_BODY, "gb2312", "gbk", "gb18030"),
    (BIG5_TITLE, BIG5_BODY, "big5", "big5", "big5hkscs"),
], ids=["gbk", "big5"])
def test_meta_charset_beats_a_latin1_server_default(server: str, title: str, body: str,
                                                    meta: str, encoding: str, codec: str
                                                    ) -> None:
    """A page's own <meta charset> wins over a Latin-1/ASCII/windows-1252 HTTP charset."""
    raw = page(title, body, meta).encode(encoding)
    text, used = decode_html(raw, f"text/html; charset={server}")
    assert used == codec
    assert title in text and body in text


@pytest.mark.parametrize(("title", "body", "encoding", "codec"), [
    (GBK_TITLE, GBK_BODY, "gbk", "gb18030"),
    (BIG5_TITLE, BIG5_BODY, "big5", "big5hkscs"),
], ids=["gbk", "big5"])
def test_chinese_bytes_under_a_latin1_header_without_meta(title: str, body: str,
                                                          encoding: str, codec: str) -> None:
    """GBK or Big5 bytes served as ISO-8859-1 with no <meta> are not read as Latin-1."""
    raw = page(title, body).encode(encoding)
    text, used = decode_html(raw, "text/html; charset=ISO-8859-1")
    assert used == codec
    assert title in text and body in text


def test_latin1_text_under_a_latin1_header_stays_latin1() -> None:
    """Real Western text labelled ISO-8859-1 is still windows-1252, accents and all."""
    body = ("<html><head><title>Café</title></head><body><p>Über die Straße: "
            "l’été à Zürich, “naïve” façades, œuvres complètes — 20 €.</p></body></html>")
    raw = body.encode("cp1252")
    assert decode_html(raw, "text/html; charset=ISO-8859-1") == (body, "cp1252")
    # Even a page whose (wrong) meta names a GB charset: its bytes are not valid GB18030.
    labelled = body.replace("<title>", '<meta charset="gb2312"><title>').encode("cp1252")
    assert decode_html(labelled, "text/html; charset=ISO-8859-1")[1] == "cp1252"


@pytest.mark.parametrize("server", ["ISO-8859-1", "windows-1252"])
def test_feed_declaration_beats_any_latin1_server_default(server: str) -> None:
    """Feeds and pages treat the same HTTP labels as server defaults (windows-1252 too)."""
    body = f'<?xml version="1.0" encoding="gb2312"?><rss><title>{GBK_TITLE}</title></rss>'
    assert feed_charset_override(body.encode("gbk"), f"text/xml; charset={server}") == "gb18030"


def test_gbk_site_behind_a_latin1_server_end_to_end(tmp_path: Path,
                                                    http_server: LocalServer) -> None:
    """A GBK site (meta gb2312) whose server says ISO-8859-1 gives clean Chinese articles."""
    latin1 = {"Content-Type": "text/html; charset=ISO-8859-1"}
    stories = [
        (GBK_TITLE, GBK_BODY),
        ("青岛市召开全市港澳工作会议", "会议总结了一年来全市港澳工作，部署了今年的重点任务。" * 4),
        ("青岛港一季度吞吐量创新高",
         "一季度青岛港完成货物吞吐量一亿七千万吨，同比增长百分之五。" * 4),
    ]
    rows = []
    for number, (title, body) in enumerate(stories, 1):
        path = f"/a/2024-05/01/c_100{number}.htm"
        http_server.add(path, page(title, body, "gb2312").encode("gbk"), headers=latin1)
        rows.append(f'<li><a href="{path}">{title}</a><span>2024-05-01</span></li>')
    listing = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
               f'<title>地方新闻</title></head><body><ul class="list">{"".join(rows)}</ul>'
               "</body></html>")
    url = http_server.add("/a/", listing.encode("gbk"), headers=latin1)
    config = parse_config(
        "defaults: {allow_private: true}\n"
        'output: {dir: out, base_url: "https://feeds.example.org/"}\n'
        f"store: {{path: feeds.db}}\nsources:\n  - id: gbk\n    page: {url}\n",
        "test.yaml", tmp_path)
    store = Store.open(config.store_path)
    fetcher = Fetcher()
    try:
        result = poll_source(config.sources[0], config, fetcher, store, NOW)
    finally:
        fetcher.close()
    assert not result.failed, result
    articles = {s.article.title: s.article for s in store.iter_articles(["gbk"])}
    store.close()
    assert set(articles) == {title for title, _ in stories}
    for title, body in stories:
        assert body[:20] in (articles[title].text or "")
