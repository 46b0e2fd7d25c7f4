"""OPML: export grouped in folders; `feeds import-opml` adds a reader's feeds to the config."""

from __future__ import annotations

from pathlib import Path

import listparser
import pytest
from click.testing import CliRunner

from feeds.cli import cli
from feeds.config import load_config, parse_config
from feeds.errors import ConfigError
from feeds.opml import Imported, import_opml, insert_sources, make_id, plan_import, slugify
from feeds.publish import FeedSpec, opml_groups, render_opml

READER_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
<head><title>My reader</title></head>
<body>
<outline text="Tech" title="Tech">
  <outline type="rss" text="Python Insider" title="Python Insider"
           xmlUrl="https://blog.python.org/feeds/posts/default"/>
  <outline type="rss" text="LWN.net" title="LWN.net" xmlUrl="https://lwn.net/headlines/rss"/>
</outline>
<outline text="新闻" title="新闻">
  <outline type="rss" text="新华网 要闻" xmlUrl="http://www.news.cn/rss/politics.xml"/>
  <outline type="rss" text="LWN again" xmlUrl="HTTPS://LWN.net:443/headlines/rss#top"/>
  <outline type="rss" text="LWN.net" xmlUrl="https://lwn.net/Articles/"/>
</outline>
<outline type="rss" text="local file" xmlUrl="file:///etc/passwd"/>
</body>
</opml>
"""

CONFIG = """# my feeds: comments must survive the import
defaults:
  interval: 30m   # poll every half hour

sources:
  - id: python-insider          # the Python blog
    url: https://blog.python.org/feeds/posts/default
    title: Python Insider
  - id: lwn-net-2
    url: https://example.org/other.xml

# topics come after the sources
topics:
  - id: python
    any: [python]
"""


def write(tmp_path: Path, config: str = CONFIG) -> tuple[Path, Path]:
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(config, encoding="utf-8")
    opml_path = tmp_path / "reader.opml"
    opml_path.write_text(READER_EXPORT, encoding="utf-8")
    return config_path, opml_path


def test_slugs_and_unique_ids() -> None:
    """Ids come from ASCII titles, else from the URL; repeats get -2, -3."""
    assert slugify("Python Insider!") == "python-insider"
    assert slugify("新华网 要闻") == ""
    assert slugify("Café Crème") == "cafe-creme"
    taken = {"lwn-net"}
    assert make_id("LWN.net", "https://lwn.net/x", taken) == "lwn-net-2"
    assert make_id("LWN.net", "https://lwn.net/y", taken) == "lwn-net-3"
    assert make_id("新华网", "http://www.news.cn/rss/politics.xml", taken) == \
        "news-cn-rss-politics-xml"
    assert make_id(None, "https://example.org/", taken) == "example-org"


def test_plan_reports_duplicates_and_invalid_urls() -> None:
    """Configured URLs (compared case- and port-insensitively) and repeats are skipped."""
    report = plan_import(
        READER_EXPORT, [("python-insider", "https://blog.python.org/feeds/posts/default")],
        ["python-insider", "lwn-net"],
    )
    assert [(a.id, a.url, a.folder) for a in report.added] == [
        ("lwn-net-2", "https://lwn.net/headlines/rss", "Tech"),
        ("news-cn-rss-politics-xml", "http://www.news.cn/rss/politics.xml", "新闻"),
        ("lwn-net-3", "https://lwn.net/Articles/", "新闻"),
    ]
    assert [(d.url, d.reason) for d in report.duplicates] == [
        ("https://blog.python.org/feeds/posts/default",
         "already configured as 'python-insider'"),
        ("HTTPS://LWN.net:443/headlines/rss#top", "listed twice in the file"),
    ]
    assert [i.url for i in report.invalid] == ["file:///etc/passwd"]


def test_import_appends_after_the_last_source_keeping_comments(tmp_path: Path) -> None:
    """New sources land at the end of the sources list; every comment and line is kept."""
    config_path, opml_path = write(tmp_path)
    report = import_opml(config_path, opml_path)
    assert [a.id for a in report.added] == ["lwn-net", "news-cn-rss-politics-xml", "lwn-net-3"]
    text = config_path.read_text(encoding="utf-8")
    for line in CONFIG.splitlines():
        assert line in text.splitlines()
    assert text.index("id: news-cn-rss-politics-xml") < text.index("# topics come after")
    assert "  - id: lwn-net  # from reader.opml, folder Tech\n" \
           "    url: https://lwn.net/headlines/rss\n    title: LWN.net\n" in text
    config = load_config(config_path)
    assert [s.id for s in config.sources] == [
        "python-insider", "lwn-net-2", "lwn-net", "news-cn-rss-politics-xml", "lwn-net-3"]
    assert config.source("news-cn-rss-politics-xml").title == "新华网 要闻"
    assert [t.id for t in config.topics] == ["python"]
    # A second import finds everything already there.
    again = import_opml(config_path, opml_path)
    assert again.added == () and len(again.duplicates) == 5
    assert config_path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("config", [
    "output: {dir: out}\n",
    "output: {dir: out}\nsources: []\ntopics: []\n",
    "sources:\n- id: a\n  url: https://a.example/feed\ntopics: []\n",
])
def test_import_into_configs_without_sources(tmp_path: Path, config: str) -> None:
    """A config with no sources key, an empty list, or an unindented list gets a valid list."""
    config_path, opml_path = write(tmp_path, config)
    import_opml(config_path, opml_path)
    loaded = load_config(config_path)
    assert "lwn-net" in [s.id for s in loaded.sources]
    assert len(loaded.sources) >= 4


def test_insert_refuses_flow_style_lists() -> None:
    """A non-empty flow-style list is not rewritten behind the user's back."""
    text = "sources: [{id: a, url: 'https://a.example/'}]\n"
    with pytest.raises(ValueError, match="block style"):
        insert_sources(text, [Imported("b", "https://b.example/", None)], "x.opml")


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    """--dry-run reports what would be added and leaves the file alone."""
    config_path, opml_path = write(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(config_path), "import-opml", "--dry-run",
                                      str(opml_path)])
    assert result.exit_code == 0, result.output
    assert "would add lwn-net: https://lwn.net/headlines/rss" in result.output
    assert "3 would add, 2 duplicate(s) skipped, 1 invalid skipped" in result.output
    assert config_path.read_text(encoding="utf-8") == CONFIG


def test_cli_import_reports_skipped_duplicates(tmp_path: Path) -> None:
    """`feeds import-opml` lists each added source and each skipped duplicate with its reason."""
    config_path, opml_path = write(tmp_path)
    result = CliRunner().invoke(cli, ["-c", str(config_path), "import-opml", str(opml_path)])
    assert result.exit_code == 0, result.output
    assert "added news-cn-rss-politics-xml: http://www.news.cn/rss/politics.xml" in result.output
    assert ("skipped https://blog.python.org/feeds/posts/default: already configured as "
            "'python-insider'") in result.output
    assert "3 added, 2 duplicate(s) skipped, 1 invalid skipped" in result.output


def test_cli_import_rejects_a_non_opml_file(tmp_path: Path) -> None:
    """A file that is not OPML is reported with exit code 2 and the config is untouched."""
    config_path, _ = write(tmp_path)
    bogus = tmp_path / "bogus.opml"
    bogus.write_text("this is not xml <", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(config_path), "import-opml", str(bogus)])
    assert result.exit_code == 2
    assert config_path.read_text(encoding="utf-8") == CONFIG


def test_invalid_result_is_not_written(tmp_path: Path) -> None:
    """If the edited text would not validate, ConfigError is raised and nothing is written."""
    # A duplicate id that the YAML loader accepts but the config rejects, planted after load.
    config_path, _ = write(tmp_path)
    before = config_path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError):
        parse_config(insert_sources(before, [Imported("python-insider", "https://x.example/",
                                                      None)], "x.opml"))
    assert config_path.read_text(encoding="utf-8") == before


def test_export_groups_feeds_in_folders() -> None:
    """The exported OPML has a Topics and a Sources folder that listparser reads back."""
    topic = FeedSpec("topics", "qingdao", "青岛", [])
    source = FeedSpec("sources", "news", "新闻", [], site_link="https://news.example/")
    data = render_opml("feeds", [("Topics", [topic]), ("Sources", [source])],
                       "https://feeds.example/")
    parsed = listparser.parse(data.decode("utf-8"))
    assert not parsed.bozo
    assert [(f.title, f.url, f.categories) for f in parsed.feeds] == [
        ("青岛", "https://feeds.example/topics/qingdao.atom", [["Topics"]]),
        ("新闻", "https://feeds.example/sources/news.atom", [["Sources"]]),
    ]


def test_export_groups_sources_into_their_topic_folders() -> None:
    """Each topic is a folder with its feed and the sources it names (each source once); the
    other sources are in "Sources"."""
    config = parse_config(
        "sources:\n"
        "  - {id: a, url: 'https://a.example/feed'}\n"
        "  - {id: b, url: 'https://b.example/feed'}\n"
        "  - {id: c, url: 'https://c.example/feed'}\n"
        "topics:\n"
        "  - {id: t1, title: 青岛, any: [青岛], sources: [a, b]}\n"
        "  - {id: t2, any: [x], sources: [b]}\n"
    )
    sources = [FeedSpec("sources", s.id, s.id, []) for s in config.sources]
    topics = [FeedSpec("topics", t.id, t.title or t.id, []) for t in config.topics]
    data = render_opml("feeds", opml_groups(config, topics, sources), "https://feeds.example/")
    parsed = listparser.parse(data)
    folders = {f.url.rsplit("/", 1)[-1]: [c for c in f.categories] for f in parsed.feeds}
    assert folders == {
        "t1.atom": [["青岛"]], "a.atom": [["青岛"]], "b.atom": [["青岛"]],
        "t2.atom": [["t2"]], "c.atom": [["Sources"]],
    }


def test_a_hostile_folder_name_cannot_write_config(tmp_path: Path) -> None:
    """A folder name holding newlines (``&#10;`` in OPML) stays inside the comment it is
    quoted in: the import adds one source, with no extra keys and no extra sources."""
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(CONFIG, encoding="utf-8")
    opml_path = tmp_path / "evil.opml"
    folder = ("Tech&#10;    allow_private: true&#10;  - id: stolen&#10;"
              "    url: /etc/passwd&#10;  - id: tail")
    opml_path.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        f'<outline text="{folder}"><outline type="rss" text="Good" '
        'xmlUrl="https://good.example.org/feed.xml"/></outline></body></opml>',
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(config_path), "import-opml", str(opml_path)])
    assert result.exit_code == 0, result.output
    config = load_config(config_path)
    assert [s.id for s in config.sources] == ["python-insider", "lwn-net-2", "good"]
    assert all(s.allow_private is None for s in config.sources)
