"""`feeds preview`, `feeds add` and `feeds check --live` against a real local HTTP server:
feeds found by their content (JSON Feed included), a feed's items newest first with its
full_text and filter applied, a mistyped source id, duplicates refused, every source checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import LocalServer
from rich.console import Console

from feeds import cli
from feeds.config import load_config

RSS_TYPE = {"Content-Type": "application/rss+xml"}
HTML_TYPE = {"Content-Type": "text/html; charset=utf-8"}
FULL_TEXT = "这是文章页上的完整正文，比订阅源里的摘要长得多。" * 20


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whole lines: a row of the items table or an error stays on one line."""
    monkeypatch.setattr(cli, "console", Console(width=500))
    monkeypatch.setattr(cli, "err_console", Console(width=500, stderr=True))
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)
    yield


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli.cli, ["-c", str(config), *args], catch_exceptions=False)


def write_config(tmp_path: Path, sources: str = "", defaults: str = "host_delay: 0") -> Path:
    path = tmp_path / "feeds.yaml"
    body = f"sources:\n{sources}" if sources else "sources: []\n"
    path.write_text(f"# my feeds\ndefaults: {{allow_private: true, {defaults}}}\n"
                    f"store: {{path: state/feeds.db}}\n{body}", encoding="utf-8")
    return path


def rss(server: LocalServer, count: int = 3) -> str:
    """An RSS feed of summary-only entries, oldest first, each linking to a full article."""
    items = "".join(
        f"<item><title>Story {n} about Qingdao</title><link>{server.url(f'/art{n}.html')}</link>"
        f"<guid>{server.url(f'/art{n}.html')}</guid>"
        f"<pubDate>Mon, 0{n} Jun 2024 10:00:00 +0800</pubDate>"
        f"<description>Short summary {n}.</description></item>"
        for n in range(1, count + 1)
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Summary Feed</title><link>{server.url('/')}</link><description>d"
            f"</description>{items}</channel></rss>")


def article_page(n: int) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Story {n}</title></head>"
            f"<body><article><h1>Story {n} about Qingdao</h1><p>{FULL_TEXT}</p>"
            f"<p>第{n}篇。</p></article></body></html>")


def json_feed(server: LocalServer) -> str:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "JSON Feed",
        "home_page_url": server.url("/"),
        "items": [
            {"id": "j1", "url": server.url("/j1"), "title": "JSON one 广告",
             "content_html": "<p>hi</p>", "date_published": "2024-06-01T10:00:00+08:00"},
            {"id": "j2", "url": server.url("/j2"), "title": "JSON two",
             "content_html": "<p>hello 青岛</p>", "date_published": "2024-06-02T10:00:00+08:00"},
        ],
    }, ensure_ascii=False)


LISTING = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>新闻列表</title></head>
<body><ul class="news">{rows}</ul></body></html>"""


def listing(server: LocalServer) -> str:
    rows = "".join(
        f'<li><a href="/news/2024/06/0{n}/a{n}.html">第{n}条新闻的标题写得足够长</a>'
        f"<span>2024-06-0{n}</span></li>" for n in range(1, 5)
    )
    return LISTING.format(rows=rows)


def summary_source(server: LocalServer) -> str:
    return f"  - id: summary\n    url: {server.url('/summary.rss')}\n"


def serve_feed_site(server: LocalServer) -> None:
    server.add("/summary.rss", rss(server), headers=RSS_TYPE)
    for n in range(1, 4):
        server.add(f"/art{n}.html", article_page(n), headers=HTML_TYPE)


# -- 1: a feed URL is a feed, JSON Feed included, whatever its type --------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/feed+json",
                                          "text/plain"])
def test_preview_of_a_json_feed_url_shows_it_as_a_feed(
    tmp_path: Path, http_server: LocalServer, content_type: str
) -> None:
    """preview URL of a JSON Feed lists its items and shows one in full (it said 'no list of
    articles found' and exited 0)."""
    url = http_server.add("/feed.json", json_feed(http_server),
                          headers={"Content-Type": content_type})
    result = invoke(write_config(tmp_path), "preview", url)
    assert result.exit_code == 0, result.output
    assert "no list of articles" not in result.output
    assert "2 items via the feed (JSON Feed)" in result.output
    assert "title: JSON two" in result.output  # the newest, in full
    assert "hello 青岛" in result.output


@pytest.mark.parametrize("content_type", ["application/json", "application/feed+json"])
def test_add_of_a_json_feed_url_writes_a_url_source(
    tmp_path: Path, http_server: LocalServer, content_type: str
) -> None:
    """add URL of a JSON Feed writes a `url:` source (it exited 1: no list of articles)."""
    url = http_server.add("/feed.json", json_feed(http_server),
                          headers={"Content-Type": content_type})
    config = write_config(tmp_path)
    result = invoke(config, "add", url, "--id", "jf")
    assert result.exit_code == 0, result.output
    assert load_config(config).source("jf").url == url


def test_add_knows_a_feed_by_its_content(tmp_path: Path, http_server: LocalServer) -> None:
    """An RSS document served as text/html, behind a stylesheet and a long comment, is added
    as a feed, not as a page."""
    body = rss(http_server).replace(
        "<rss", '<?xml-stylesheet href="/rss.xsl" type="text/xsl"?>\n<!-- '
        + "generated by a CMS; " * 60 + "-->\n<rss", 1)
    url = http_server.add("/rss", body, headers=HTML_TYPE)
    config = write_config(tmp_path)
    result = invoke(config, "add", url, "--id", "cms")
    assert result.exit_code == 0, result.output
    source = load_config(config).source("cms")
    assert (source.url, source.page) == (url, None)


def test_add_refuses_json_that_is_no_feed(tmp_path: Path, http_server: LocalServer) -> None:
    """JSON without a jsonfeed.org version is refused with the reason; the config is kept."""
    url = http_server.add("/api", '{"data": [1, 2]}', headers={"Content-Type": "application/json"})
    config = write_config(tmp_path)
    before = config.read_text(encoding="utf-8")
    result = invoke(config, "add", url)
    assert result.exit_code == 1
    assert "jsonfeed.org" in result.output
    assert config.read_text(encoding="utf-8") == before


# -- 2: a feed's items newest first, then one article, as a poll gives them -------------------


def test_preview_of_a_feed_source_lists_items_newest_first(
    tmp_path: Path, http_server: LocalServer
) -> None:
    """preview of a feed source lists every item, newest first, then the newest in full
    (it showed only the oldest entry)."""
    serve_feed_site(http_server)
    config = write_config(tmp_path, summary_source(http_server))
    result = invoke(config, "preview", "summary")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 items via the feed (RSS)" in out
    positions = [out.index(f"Story {n} about Qingdao") for n in (3, 2, 1)]
    assert positions == sorted(positions)
    assert "title: Story 3 about Qingdao" in out
    assert "title: Story 1 about Qingdao" not in out
    assert not (tmp_path / "state" / "feeds.db").exists()


def test_preview_applies_full_text_and_the_filter(tmp_path: Path, http_server: LocalServer
                                                  ) -> None:
    """preview of a full_text source shows the article page's text (fetching only the article
    shown), and leaves out what the source's filter drops."""
    serve_feed_site(http_server)
    config = write_config(tmp_path, f"""  - id: summary
    url: {http_server.url('/summary.rss')}
    full_text: true
    filter: {{exclude: ["Story 3"]}}
""")
    result = invoke(config, "preview", "summary")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Story 3" not in out
    assert "1 dropped by the source's filter" in out
    assert "title: Story 2 about Qingdao" in out
    assert FULL_TEXT[:40] in out
    assert [len(http_server.requests_for(f"/art{n}.html")) for n in (1, 2, 3)] == [0, 1, 0]


def test_preview_of_a_feed_url_lists_its_items(tmp_path: Path, http_server: LocalServer) -> None:
    """preview of a feed URL that is no source lists its items newest first too."""
    serve_feed_site(http_server)
    result = invoke(write_config(tmp_path), "preview", http_server.url("/summary.rss"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Story 3 about") < out.index("Story 1 about")
    assert "title: Story 3 about Qingdao" in out


def test_preview_of_a_page_source_applies_its_filter(tmp_path: Path, http_server: LocalServer
                                                      ) -> None:
    """An article of a page source that the filter drops is not shown as what it gives."""
    page = http_server.add("/list.html", listing(http_server), headers=HTML_TYPE)
    for n in range(1, 5):
        http_server.add(f"/news/2024/06/0{n}/a{n}.html", article_page(n), headers=HTML_TYPE)
    config = write_config(tmp_path, f"""  - id: news
    page: {page}
    filter: {{exclude: ["第1篇"]}}
""")
    result = invoke(config, "preview", "news")
    assert result.exit_code == 0, result.output
    assert "dropped by the source's filter" in result.output
    assert "title: Story 1 about" not in result.output
    assert "title: Story 2 about Qingdao" in result.output


# -- 3: a mistyped source id ---------------------------------------------------------------


def test_preview_of_an_unknown_source_suggests_the_likely_one(
    tmp_path: Path, http_server: LocalServer
) -> None:
    """preview sumary exits non-zero naming the source it likely meant (it exited 0 with
    'cannot read file config/sumary')."""
    serve_feed_site(http_server)
    config = write_config(tmp_path, summary_source(http_server))
    result = invoke(config, "preview", "sumary")
    assert result.exit_code != 0
    assert "no source 'sumary' (did you mean 'summary'?)" in result.output
    assert "cannot read file" not in result.output
    assert not http_server.requests


def test_preview_of_an_existing_file_still_works(tmp_path: Path, http_server: LocalServer
                                                 ) -> None:
    """A local file given to preview is read as before (only unknown names are refused)."""
    feed = tmp_path / "local.rss"
    feed.write_text(rss(http_server, 2), encoding="utf-8")
    result = invoke(write_config(tmp_path), "preview", str(feed))
    assert result.exit_code == 0, result.output
    assert "2 items via the feed (RSS)" in result.output


# -- 4: duplicates -------------------------------------------------------------------------


def test_add_refuses_a_page_already_configured(tmp_path: Path, http_server: LocalServer) -> None:
    """Adding the same page twice is refused naming the existing source, also with --id
    (it added net163 and then net163-2)."""
    url = http_server.add("/list.html", listing(http_server), headers=HTML_TYPE)
    config = write_config(tmp_path)
    first = invoke(config, "add", url, "--id", "net163")
    assert first.exit_code == 0, first.output
    before = config.read_text(encoding="utf-8")
    for extra in ([], ["--id", "net163"], ["--id", "other"]):
        result = invoke(config, "add", url.replace("http://", "HTTP://") + "#top", *extra)
        assert result.exit_code != 0, result.output
        assert "already configured as 'net163'" in result.output
    assert config.read_text(encoding="utf-8") == before


def test_add_refuses_a_taken_id(tmp_path: Path, http_server: LocalServer) -> None:
    """--id naming a configured source is refused, not silently renamed."""
    serve_feed_site(http_server)
    config = write_config(tmp_path, summary_source(http_server))
    url = http_server.add("/list.html", listing(http_server), headers=HTML_TYPE)
    result = invoke(config, "add", url, "--id", "summary")
    assert result.exit_code != 0
    assert "id 'summary' is already configured" in result.output
    assert "summary-2" not in config.read_text(encoding="utf-8")


def test_add_refuses_a_page_whose_feed_is_configured(tmp_path: Path, http_server: LocalServer
                                                     ) -> None:
    """A page advertising a feed that is already a source is refused naming that source."""
    serve_feed_site(http_server)
    site = http_server.add("/site.html", '<html><head><title>My Site</title><link rel="alternate"'
                           ' type="application/rss+xml" href="/summary.rss"></head><body>'
                           "</body></html>", headers=HTML_TYPE)
    config = write_config(tmp_path, summary_source(http_server))
    before = config.read_text(encoding="utf-8")
    result = invoke(config, "add", site)
    assert result.exit_code != 0
    assert "already configured as 'summary'" in result.output
    assert config.read_text(encoding="utf-8") == before


def test_add_refuses_a_url_that_redirects_to_a_source(tmp_path: Path,
                                                      http_server: LocalServer) -> None:
    """A URL that redirects to a configured source is refused, naming that source."""
    serve_feed_site(http_server)
    moved = http_server.add("/old.rss", status=301,
                            headers={"Location": http_server.url("/summary.rss")})
    config = write_config(tmp_path, summary_source(http_server))
    result = invoke(config, "add", moved)
    assert result.exit_code != 0
    assert "redirects to" in result.output and "already configured as 'summary'" in result.output


# -- 5: check --live fetches every source ----------------------------------------------------


def test_check_live_parses_every_source(tmp_path: Path, http_server: LocalServer) -> None:
    """check --live fetches each enabled source and reports selectors that match nothing
    (it said ok, and only `run` failed), without writing the store."""
    serve_feed_site(http_server)
    page = http_server.add("/list.html", listing(http_server), headers=HTML_TYPE)
    config = write_config(tmp_path, f"""  - id: summary
    url: {http_server.url('/summary.rss')}
  - id: rotted
    page: {page}
    items: {{each: "ul.nothing li", link: "a@href"}}
  - id: auto
    page: {page}
  - id: switched-off
    url: {http_server.url('/missing.rss')}
    enabled: false
""")
    result = invoke(config, "check", "--live")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "ok summary: 3 items" in out
    assert "moved to" not in out
    assert "ok auto: 4 items" in out
    assert "FAILED rotted:" in out and "selectors match nothing" in out
    assert "switched-off" not in out
    assert "3 source(s), 1 failed" in out
    assert not http_server.requests_for("/missing.rss")
    assert not http_server.requests_for("/art1.html")  # the listing only, no article pages
    assert not (tmp_path / "state").exists()


def test_check_live_keeps_the_per_host_delay(tmp_path: Path, http_server: LocalServer) -> None:
    """Sources on one host are fetched host_delay apart, as a poll would."""
    serve_feed_site(http_server)
    http_server.add("/b.rss", rss(http_server, 1), headers=RSS_TYPE)
    config = write_config(tmp_path, f"""  - id: a
    url: {http_server.url('/summary.rss')}
  - id: b
    url: {http_server.url('/b.rss')}
""", defaults="host_delay: 0.4s")
    result = invoke(config, "check", "--live")
    assert result.exit_code == 0, result.output
    [first] = http_server.requests_for("/summary.rss")
    [second] = http_server.requests_for("/b.rss")
    assert second.started - first.finished >= 0.35
