"""Config loading: every error names file:line, the key path and a likely fix."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from feeds.config import Config, load_config, parse_duration, parse_size
from feeds.errors import ConfigError

VALID_HEAD = """\
defaults:
  interval: 30m
  timezone: Asia/Shanghai
output:
  dir: out
  base_url: https://feeds.example.org/
"""


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors_of(path: Path) -> list[str]:
    """The problems load_config reports, as the user sees them, with the tmp dir made relative."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    prefix = str(path.parent.parent) + "/"
    return [str(p).replace(prefix, "") for p in info.value.problems]


def test_unknown_key_names_line_path_and_suggestion(tmp_path: Path) -> None:
    """A misspelt source key is reported at its line with the key it probably meant."""
    path = write(tmp_path, VALID_HEAD + """\
sources:
  - id: one
    url: https://example.org/one.xml
  - id: two
    url: https://example.org/two.xml
    title: Two
  - id: three
    url: https://example.org/three.xml
    intervall: 15m
""")
    assert errors_of(path) == [
        "config/feeds.yaml:15: sources[2].intervall: unknown key (did you mean 'interval'?)"
    ]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("sourcs: []\n", "config/feeds.yaml:1: sourcs: unknown key (did you mean 'sources'?)"),
        ("defaults:\n  timzone: UTC\n",
         "config/feeds.yaml:2: defaults.timzone: unknown key (did you mean 'timezone'?)"),
        ("output:\n  bse_url: https://x.org/\n",
         "config/feeds.yaml:2: output.bse_url: unknown key (did you mean 'base_url'?)"),
        ("topics:\n  - id: t\n    anny: [x]\n",
         "config/feeds.yaml:3: topics[0].anny: unknown key (did you mean 'any'?)"),
        ("sources:\n  - id: a\n    url: https://x.org/\n    filter: {includ: [x]}\n",
         "config/feeds.yaml:4: sources[0].filter.includ: unknown key (did you mean 'include'?)"),
        ("sources:\n  - id: a\n    url: https://x.org/\n    test_urls:\n"
         "      - url: https://x.org/1\n        titel: x\n",
         "config/feeds.yaml:6: sources[0].test_urls[0].titel: unknown key (did you mean 'title'?)"),
        ("defaults:\n  zzzz: 1\n", "config/feeds.yaml:2: defaults.zzzz: unknown key"),
    ],
)
def test_unknown_keys_at_every_level(tmp_path: Path, yaml_text: str, expected: str) -> None:
    """Unknown keys are caught in every section, nested ones included, with suggestions."""
    assert errors_of(write(tmp_path, yaml_text)) == [expected]


def test_duplicate_source_ids(tmp_path: Path) -> None:
    """Two sources with one id are refused at the second id's line."""
    path = write(tmp_path, """\
sources:
  - id: news
    url: https://example.org/a.xml
  - id: news
    url: https://example.org/b.xml
""")
    assert errors_of(path) == [
        "config/feeds.yaml:4: sources[1].id: duplicate id 'news' (also sources[0]); "
        "ids must be unique"
    ]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("htp://example.com/feed",
         "'htp://example.com/feed': unknown scheme 'htp' (did you mean 'http'?)"),
        ("htps://example.com/feed",
         "'htps://example.com/feed': unknown scheme 'htps' (did you mean 'https'?)"),
        ("https:///feed.xml", "'https:///feed.xml' has no host name"),
        ("https://example.com/a feed.xml",
         "'https://example.com/a feed.xml' contains a space; encode it as %20"),
        ("ftp://example.com/feed",
         "'ftp://example.com/feed': only http, https and file URLs, or local paths, "
         "are supported"),
    ],
)
def test_bad_urls(tmp_path: Path, location: str, message: str) -> None:
    """A malformed source URL is refused with its key path and, for typos, the fix."""
    path = write(tmp_path, f"sources:\n  - id: a\n    url: {location}\n")
    assert errors_of(path) == [f"config/feeds.yaml:3: sources[0].url: {message}"]


def test_missing_local_path_suggests_https(tmp_path: Path) -> None:
    """A host name written without a scheme reads as a missing file; https:// is suggested."""
    path = write(tmp_path, "sources:\n  - id: a\n    page: www.example.gov.cn/tzgg/\n")
    missing = tmp_path / "config" / "www.example.gov.cn" / "tzgg"
    assert errors_of(path) == [
        f"config/feeds.yaml:3: sources[0].page: no such file {str(missing)!r} "
        "(did you mean 'https://www.example.gov.cn/tzgg/'?)".replace(str(tmp_path) + "/", "")
    ]


def test_missing_local_file_without_host_look(tmp_path: Path) -> None:
    """A plain missing path is reported without a URL suggestion."""
    path = write(tmp_path, "sources:\n  - id: a\n    url: examples/nothere.rss\n")
    assert errors_of(path) == [
        "config/feeds.yaml:3: sources[0].url: no such file 'config/examples/nothere.rss'"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5x", "'5x' is not a duration; write e.g. 30m, 1h, 1h30m or 90s"),
        ("1h30", "'1h30' is not a duration; write e.g. 30m, 1h, 1h30m or 90s"),
        ("soon", "'soon' is not a duration; write e.g. 30m, 1h, 1h30m or 90s"),
        ("0", "a duration must be positive"),
        ("-5", "a duration must be positive"),
        ("0m", "a duration must be positive"),
        ("true", "expected a duration such as 30m, 1h or 90s"),
    ],
)
def test_bad_durations(tmp_path: Path, value: str, message: str) -> None:
    """A duration that is not a positive number with units is refused with an example."""
    path = write(tmp_path, f"defaults:\n  interval: {value}\n")
    assert errors_of(path) == [f"config/feeds.yaml:2: defaults.interval: {message}"]


@pytest.mark.parametrize("value", ["Asia/Shanghia", "Beijing", "../etc/passwd", "''", "8"])
def test_bad_time_zones(tmp_path: Path, value: str) -> None:
    """Time zones must be IANA names; the message gives one."""
    path = write(tmp_path, f"sources:\n  - id: a\n    url: https://x.org/\n    timezone: {value}\n")
    [error] = errors_of(path)
    assert error.startswith("config/feeds.yaml:4: sources[0].timezone: ")
    assert "Asia/Shanghai" in error


def test_missing_required_keys(tmp_path: Path) -> None:
    """A source without id, and one with neither url nor page, are both reported."""
    path = write(tmp_path, """\
sources:
  - url: https://example.org/feed
  - id: nothing
    title: No location
""")
    assert errors_of(path) == [
        "config/feeds.yaml:2: sources[0].id: required key is missing",
        "config/feeds.yaml:3: sources[1]: give exactly one of 'url' (a feed) or 'page' "
        "(a listing page)",
    ]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported at the line where the parser stopped."""
    path = write(tmp_path, """\
sources:
  - id: a
    url: https://x.org/
   bad: indentation
""")
    [error] = errors_of(path)
    assert error.startswith("config/feeds.yaml:4: YAML syntax error: ")


def test_tab_is_a_syntax_error(tmp_path: Path) -> None:
    """A tab used for indentation is a syntax error on its line, not a crash."""
    path = write(tmp_path, "defaults:\n\tinterval: 5m\n")
    [error] = errors_of(path)
    assert error.startswith("config/feeds.yaml:2: YAML syntax error: ")


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    """A key given twice in one mapping is an error: YAML would silently keep the last."""
    path = write(tmp_path, """\
sources:
  - id: a
    url: https://example.org/one
    url: https://example.org/two
""")
    assert errors_of(path) == [
        "config/feeds.yaml:4: sources[0].url: duplicate key; the later one would silently win"
    ]


def test_topics_naming_unknown_sources(tmp_path: Path) -> None:
    """A topic that lists a source id no source has is refused, with the closest id."""
    path = write(tmp_path, """\
sources:
  - id: python-insider
    url: https://example.org/py
topics:
  - id: py
    sources: [python-insider, python-insdier]
    exclude_sources: [gone]
""")
    assert errors_of(path) == [
        "config/feeds.yaml:6: topics[0].sources[1]: unknown source 'python-insdier' "
        "(did you mean 'python-insider'?)",
        "config/feeds.yaml:7: topics[0].exclude_sources[0]: unknown source 'gone'",
    ]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_non_mapping_file(tmp_path: Path, text: str) -> None:
    """A file that is not a mapping is refused in one sentence."""
    assert errors_of(write(tmp_path, text)) == [
        "config/feeds.yaml:1: the file must be a mapping of keys"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaults: 5\n",
         "config/feeds.yaml:1: defaults: expected a mapping of keys, got a number"),
        ("sources: [a]\n",
         "config/feeds.yaml:1: sources[0]: expected a mapping of keys, got a string"),
        ("sources: oops\n", "config/feeds.yaml:1: sources: expected a list, got a string"),
        ("sources:\n  - id: a\n    url: [1]\n",
         "config/feeds.yaml:3: sources[0].url: expected a URL such as "
         "https://example.org/feed.xml, or a path"),
    ],
)
def test_wrong_shapes_are_explained_in_yaml_terms(tmp_path: Path, text: str, expected: str) -> None:
    """A value of the wrong YAML type is reported in YAML words, never as a crash."""
    assert errors_of(write(tmp_path, text)) == [expected]


def test_missing_file(tmp_path: Path) -> None:
    """A missing config file is one clear problem, not a traceback."""
    path = tmp_path / "config" / "nope.yaml"
    assert errors_of(path) == ["config/nope.yaml: config file not found; pass --config PATH"]


def test_all_errors_are_listed_at_once(tmp_path: Path) -> None:
    """Schema errors and cross-entry errors come together, in file order."""
    path = write(tmp_path, """\
defaults:
  interval: 5x
  timezone: Mars/Olympus
sources:
  - id: a
    url: htp://example.com/feed
  - id: a
    url: https://example.org/b
    intervall: 10m
  - id: b
    url: https://example.org/c
    url: https://example.org/d
topics:
  - id: t
    sources: [a, c]
""")
    errors = errors_of(path)
    assert [e.split(" ", 1)[0] for e in errors] == [
        "config/feeds.yaml:2:",
        "config/feeds.yaml:3:",
        "config/feeds.yaml:6:",
        "config/feeds.yaml:7:",
        "config/feeds.yaml:9:",
        "config/feeds.yaml:12:",
        "config/feeds.yaml:15:",
    ]
    joined = "\n".join(errors)
    for fragment in (
        "defaults.interval: '5x' is not a duration",
        "defaults.timezone: unknown time zone 'Mars/Olympus'",
        "sources[0].url: 'htp://example.com/feed': unknown scheme 'htp' (did you mean 'http'?)",
        "sources[1].id: duplicate id 'a'",
        "sources[1].intervall: unknown key (did you mean 'interval'?)",
        "sources[2].url: duplicate key",
        "topics[0].sources[1]: unknown source 'c'",
    ):
        assert fragment in joined
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).count("\n") == len(errors) - 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, timedelta(seconds=90)),
        ("90", timedelta(seconds=90)),
        ("45s", timedelta(seconds=45)),
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_valid_durations(tmp_path: Path, value: object, expected: timedelta) -> None:
    """Durations in seconds or with units become timedeltas, through the YAML too."""
    assert parse_duration(value) == expected
    path = write(tmp_path, f"defaults:\n  interval: {value}\n")
    assert load_config(path).defaults.interval == expected


@pytest.mark.parametrize(("value", "expected"), [
    (0, timedelta(0)), ("0", timedelta(0)), ("0s", timedelta(0)), ("0ms", timedelta(0)),
    ("250ms", timedelta(milliseconds=250)), ("2s", timedelta(seconds=2)),
])
def test_host_delay_may_be_zero(tmp_path: Path, value: object, expected: timedelta) -> None:
    """host_delay takes a duration or no pause at all (a host of one's own)."""
    path = write(tmp_path, f"defaults:\n  host_delay: {value}\n")
    assert load_config(path).defaults.host_delay == expected


def test_host_delay_cannot_be_negative(tmp_path: Path) -> None:
    """A negative pause is an error naming the line."""
    path = write(tmp_path, "defaults:\n  host_delay: -1\n")
    with pytest.raises(ConfigError, match=r":2: defaults.host_delay: a duration must be positive"):
        load_config(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1000000, 1_000_000), ("5MB", 5_000_000), ("512KiB", 524_288), ("5 mb", 5_000_000),
     ("1GiB", 1024**3), ("200b", 200)],
)
def test_valid_sizes(value: object, expected: int) -> None:
    """Sizes accept bytes or decimal and binary units, case-insensitively."""
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "0", "-1MB", "5XB", ""])
def test_bad_sizes(tmp_path: Path, value: str) -> None:
    """A size that is not a positive amount of bytes is refused with an example."""
    path = write(tmp_path, f"defaults:\n  max_bytes: '{value}'\n")
    [error] = errors_of(path)
    assert error == (
        f"config/feeds.yaml:2: defaults.max_bytes: {value!r} is not a size; "
        "write e.g. 10MB or 512KiB"
    )


def test_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    """Output, store and local source paths are relative to the config file, not the cwd."""
    path = write(tmp_path, VALID_HEAD + """\
store:
  path: ../state/feeds.db
sources:
  - id: local
    url: examples/local.rss
""")
    (tmp_path / "config" / "examples").mkdir()
    (tmp_path / "config" / "examples" / "local.rss").write_text("<rss/>")
    config = load_config(path)
    assert config.output_dir == tmp_path / "config" / "out"
    assert config.store_path == tmp_path / "config" / "../state/feeds.db"
    assert config.resolve(config.sources[0].location) == (
        tmp_path / "config" / "examples" / "local.rss"
    )
    assert config.resolve("/abs/file") == Path("/abs/file")


def test_defaults_applied(tmp_path: Path) -> None:
    """A minimal config gets the documented defaults, and sources inherit them."""
    path = write(tmp_path, "sources:\n  - id: a\n    url: https://example.org/feed\n")
    config = load_config(path)
    source = config.sources[0]
    assert config.defaults.interval == timedelta(minutes=30)
    assert config.defaults.timezone == "Asia/Shanghai"
    assert config.defaults.max_bytes == 10 * 1024 * 1024
    assert config.interval(source) == timedelta(minutes=30)
    assert str(config.timezone(source)) == "Asia/Shanghai"
    assert config.allow_private(source) is False
    assert source.kind == "feed" and source.enabled and source.robots
    assert config.output.base_url == "http://localhost:8080/"
    assert config.output.formats == ("atom",)
    assert config.topics == ()


def test_source_settings_override_defaults(tmp_path: Path) -> None:
    """A source's own interval, time zone and allow_private win over the defaults."""
    path = write(tmp_path, VALID_HEAD + """\
sources:
  - id: a
    page: https://example.org/news/
    interval: 1h30m
    timezone: Asia/Taipei
    allow_private: true
""")
    config = load_config(path)
    source = config.source("a")
    assert source.kind == "page"
    assert config.interval(source) == timedelta(hours=1, minutes=30)
    assert str(config.timezone(source)) == "Asia/Taipei"
    assert config.allow_private(source) is True


def test_base_url_gets_trailing_slash(tmp_path: Path) -> None:
    """output.base_url always ends with '/', so feed URLs join onto it."""
    path = write(tmp_path, "output:\n  base_url: https://feeds.example.org/sub\n")
    assert load_config(path).output.base_url == "https://feeds.example.org/sub/"


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    """An empty file is valid and means 'no sources yet'."""
    config = load_config(write(tmp_path, ""))
    assert isinstance(config, Config) and config.sources == ()


def test_bundled_config_is_valid() -> None:
    """The example config shipped with the project loads."""
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "feeds.yaml")
    assert config.sources


def test_real_world_examples_are_valid() -> None:
    """config/real-world.yaml, the examples users copy from, is a valid config."""
    config = load_config(Path(__file__).resolve().parents[1] / "config" / "real-world.yaml")
    kinds = {s.kind for s in config.sources}
    assert kinds == {"feed", "page"}
    assert config.source("gov-notices").items is not None
