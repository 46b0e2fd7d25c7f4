"""YAML configuration: loaded, validated with pydantic, frozen.

Every problem is reported with the file, the line and the key path, and a likely fix::

    config/feeds.yaml:14: sources[2].intervall: unknown key (did you mean 'interval'?)

Usage::

    config = load_config(Path("config/feeds.yaml"))
    for source in config.sources: ...
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from feeds.errors import ConfigError, ConfigProblem

DEFAULT_CONFIG = Path("config/feeds.yaml")

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3,
}


def parse_duration(value: Any) -> timedelta:
    """`90` (seconds), `45s`, `15m`, `1h30m`, `2d` -> timedelta; rejects anything else."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 1h or 90s")
    if isinstance(value, int | float):
        if value <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30m, 1h or 90s")
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        text += "s"  # a quoted number means seconds, as an unquoted one does
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 1h, 1h30m or 90s")
    if total <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=total)


def parse_size(value: Any) -> int:
    """`5MB`, `512KiB`, `1000000` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE_RE.match(str(value))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a size; write e.g. 10MB or 512KiB")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])


def check_timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a time zone name such as Asia/Shanghai or UTC")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai or UTC"
        ) from e
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


_NO_PAUSE = re.compile(r"\s*0+(\.0*)?\s*(ms|s|m|h)?\s*")


def parse_pause(value: Any) -> timedelta:
    """:func:`parse_duration`, or no pause at all: ``0``, ``0s``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    if isinstance(value, str) and _NO_PAUSE.fullmatch(value.lower()):
        return timedelta(0)
    return parse_duration(value)


# A pause that may be none (host_delay 0: a host of one's own, such as a local RSSHub).
Pause = Annotated[timedelta, BeforeValidator(parse_pause)]
Size = Annotated[int, BeforeValidator(parse_size)]
TimeZone = Annotated[str, BeforeValidator(check_timezone)]
Identifier = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100),
]
OpenCCConversion = Literal[
    "s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp", "t2tw", "t2hk", "tw2t", "hk2t"
]


def check_location(value: Any) -> str:
    """An http(s) URL, a file:// URL, or a local path (resolved later against the config)."""
    if not isinstance(value, str):
        raise ValueError("expected a URL such as https://example.org/feed.xml, or a path")
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"{text!r} has no host name")
        if " " in text:
            raise ValueError(f"{text!r} contains a space; encode it as %20")
        return text
    if parts.scheme == "file" or not parts.scheme or len(parts.scheme) == 1:
        return text  # a path; len 1 is a Windows drive letter
    close = difflib.get_close_matches(parts.scheme, ["http", "https"], n=1, cutoff=0.6)
    if close:
        raise ValueError(f"{text!r}: unknown scheme {parts.scheme!r} (did you mean {close[0]!r}?)")
    raise ValueError(f"{text!r}: only http, https and file URLs, or local paths, are supported")


Location = Annotated[str, BeforeValidator(check_location)]


def check_cron(value: Any) -> str:
    """A five-field crontab expression, parsed by APScheduler's own parser: the one the
    scheduler and ``run --once`` use, so what passes here cannot fail there."""
    from apscheduler.triggers.cron import CronTrigger

    if not isinstance(value, str):
        raise ValueError("expected a crontab expression in quotes, e.g. \"0 6 * * *\"")
    try:
        # The zone does not change which expressions are valid, only when they fire.
        CronTrigger.from_crontab(value, timezone=ZoneInfo("UTC"))
    except ValueError as e:
        reason = re.sub(r"^Error validating expression ('[^']*'): ", r"\1: ", str(e))
        raise ValueError(
            f"{value!r} is not a crontab expression ({reason[:1].lower()}{reason[1:]}); "
            "write minute hour day month weekday, e.g. '0 6 * * *' (06:00 daily)"
        ) from e
    return value


Cron = Annotated[str, BeforeValidator(check_cron)]

_PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def check_proxy(value: Any) -> str:
    """A proxy URL with its scheme: requests reads a bare ``host:port`` as a scheme and fails
    only at the first request, far from the config."""
    example = "write e.g. http://127.0.0.1:3128"
    if not isinstance(value, str):
        raise ValueError(f"expected a proxy URL; {example}")
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in _PROXY_SCHEMES or "://" not in text:
        raise ValueError(f"{text!r} is not a proxy URL (it needs a scheme such as http://); "
                         f"{example}")
    try:
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{text!r} has a bad port; {example}") from e
    if not parts.hostname or port == 0:
        raise ValueError(f"{text!r} has no host name; {example}")
    if parts.scheme.lower().startswith("socks"):
        from importlib.util import find_spec

        if find_spec("socks") is None:
            raise ValueError(f"{text!r}: SOCKS proxies need PySocks (pip install "
                             "'requests[socks]'), or use an http:// proxy")
    return text


ProxyUrl = Annotated[str, BeforeValidator(check_proxy)]


def source_conflicts(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for keys of one source that contradict each other.

    Read from the raw YAML mapping by the loader (so field errors elsewhere in the source do
    not hide them) and from the model when a Source is built in code.
    """
    conflicts = []
    if bool(fields.get("url")) == bool(fields.get("page")):
        conflicts.append(("", "give exactly one of 'url' (a feed) or 'page' (a listing page)"))
    if fields.get("interval") is not None and fields.get("cron") is not None:
        conflicts.append(("cron", "give either 'interval' or 'cron', not both: a cron source "
                                  "is polled at its cron times only; remove one of them"))
    return conflicts


# Passed as validation context by parse_config, which reports source_conflicts itself.
_RAW_CHECKS = "raw_checks"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(Strict):
    """Settings every source inherits unless it sets its own."""

    interval: Duration = timedelta(minutes=30)
    timezone: TimeZone = "Asia/Shanghai"
    timeout: Duration = timedelta(seconds=20)
    max_bytes: Size = 10 * 1024 * 1024
    max_redirects: int = Field(default=5, ge=0, le=20)
    allow_private: bool = False
    max_backoff: Duration = timedelta(hours=24)
    # Politeness: requests at a time to one host, and the pause between them.
    per_host: int = Field(default=1, ge=1, le=16)
    host_delay: Pause = timedelta(seconds=1)
    # Sources polled at the same time by the service (`feeds run --workers` overrides).
    workers: int = Field(default=4, ge=1, le=64)
    # Up to this fraction of the interval is added at random to each due time.
    jitter: float = Field(default=0.1, ge=0.0, le=1.0)


class ItemRules(Strict):
    """Selectors that pick the items out of a listing page (CSS, or XPath when starting with /)."""

    each: str
    link: str = "a@href"
    title: str | None = None
    date: str | None = None
    summary: str | None = None
    regex: dict[str, str] = Field(default_factory=dict)


class ArticleRules(Strict):
    """Selectors that override automatic extraction on article pages."""

    title: str | None = None
    date: str | None = None
    author: str | None = None
    body: str | None = None
    strip: tuple[str, ...] = ()


class TestUrl(Strict):
    """An article URL with the fields extraction must give; `feeds check --live` runs them."""

    url: Location
    title: str | None = None
    published: str | None = None
    contains: str | None = None


MatchField = Literal["title", "summary", "content", "author", "categories", "source_name"]


def check_keywords(words: tuple[str, ...]) -> tuple[str, ...]:
    for word in words:
        if not word.strip(" *"):
            raise ValueError("an empty keyword would match everything; remove it")
    return words


class Filter(Strict):
    """Keep or drop entries of one source before they reach any feed (RSSHub's ``filter`` /
    ``filterout``): ``include`` keeps entries with any of the keywords, ``exclude`` drops them.

    ``filter: {include: [青岛], exclude: [广告]}``; with ``regex: true`` the entries are
    regular expressions over the folded text (lower case, Simplified).
    """

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    regex: bool = False
    fields: tuple[MatchField, ...] = ("title", "summary", "content", "categories")
    word_boundaries: bool = True

    @model_validator(mode="after")
    def _check(self) -> Filter:
        for pattern in (*self.include, *self.exclude):
            if self.regex:
                try:
                    re.compile(pattern)
                except re.error as e:
                    raise ValueError(f"bad regular expression {pattern!r}: {e}") from e
        if not self.regex:
            check_keywords((*self.include, *self.exclude))
        return self


class Source(Strict):
    """A feed (``url``) or a listing page (``page``) to poll."""

    id: Identifier
    url: Location | None = None
    page: Location | None = None
    title: str | None = None
    enabled: bool = True
    interval: Duration | None = None
    cron: Cron | None = None
    timezone: TimeZone | None = None
    language: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    proxy: ProxyUrl | None = None
    allow_private: bool | None = None
    robots: bool = True
    full_text: bool = False
    items: ItemRules | None = None
    article: ArticleRules | None = None
    max_pages: int = Field(default=1, ge=1, le=50)
    convert: OpenCCConversion | None = None
    image_proxy: str | None = None
    test_urls: tuple[TestUrl, ...] = ()
    filter: Filter | None = None

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Source:
        if isinstance(info.context, dict) and info.context.get(_RAW_CHECKS):
            return self  # parse_config reports these, with their lines
        conflicts = source_conflicts(
            {"url": self.url, "page": self.page, "interval": self.interval, "cron": self.cron}
        )
        if conflicts:
            raise ValueError("; ".join(message for _, message in conflicts))
        return self

    @property
    def location(self) -> str:
        """The URL or path this source polls."""
        return self.url or self.page or ""

    @property
    def kind(self) -> Literal["feed", "page"]:
        return "feed" if self.url else "page"


class Topic(Strict):
    """A feed gathering one subject from many sources."""

    id: Identifier
    title: str | None = None
    description: str | None = None
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    fields: tuple[
        Literal["title", "summary", "content", "author", "categories", "source_name"], ...
    ] = ("title", "summary", "content", "categories")
    sources: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    language: str | None = None
    max_age: Duration | None = None
    limit: int | None = Field(default=None, ge=1)
    convert: OpenCCConversion | None = None
    word_boundaries: bool = True
    # Cross-source dedup: the same story once, shown from the first source in `prefer`
    # (else the first seen), the other copies linked under it.
    dedup: bool = True
    prefer: tuple[str, ...] = ()

    @field_validator("any", "all", "none")
    @classmethod
    def _keywords(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        return check_keywords(words)

    @field_validator("regex")
    @classmethod
    def _compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"bad regular expression {pattern!r}: {e}") from e
        return patterns


class Output(Strict):
    """Where and how feeds are written."""

    dir: str = "output"
    base_url: str = "http://localhost:8080/"
    title: str = "feeds"
    author: str = "feeds"
    max_entries: int = Field(default=50, ge=1, le=10000)
    formats: tuple[Literal["atom", "rss", "json"], ...] = ("atom",)
    all_feed: bool = False  # output/all.atom: every source
    dedup: bool = True  # the all feed shows each story once

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} must be an absolute http(s) URL, e.g. https://example.org/")
        return value if value.endswith("/") else value + "/"


class StoreSettings(Strict):
    path: str = "feeds.db"


class Config(Strict):
    """The whole configuration file."""

    defaults: Defaults = Field(default_factory=Defaults)
    output: Output = Field(default_factory=Output)
    store: StoreSettings = Field(default_factory=StoreSettings)
    sources: tuple[Source, ...] = ()
    topics: tuple[Topic, ...] = ()
    # Set by load_config: the directory relative paths are resolved against.
    base_dir: str = "."

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else Path(self.base_dir) / candidate

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.output.dir)

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store.path)

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    def interval(self, source: Source) -> timedelta:
        return source.interval or self.defaults.interval

    def timezone(self, source: Source) -> ZoneInfo:
        return ZoneInfo(source.timezone or self.defaults.timezone)

    def allow_private(self, source: Source) -> bool:
        if source.allow_private is not None:
            return source.allow_private
        return self.defaults.allow_private


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _format_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Lines:
    """Maps key paths of a YAML document to the line they stand on."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, loc: Sequence[int | str]) -> int | None:
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        line = key_node.start_mark.line + 1
                        child = value_node
                        break
            elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
                  and 0 <= part < len(node.value)):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                return line
            node = child
        return line

    def duplicate_keys(self) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []

        def walk(node: yaml.Node, path: list[int | str]) -> None:
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for key_node, value_node in node.value:
                    key = key_node.value
                    if key in seen:
                        found.append((_format_path([*path, key]), key_node.start_mark.line + 1))
                    seen.add(key)
                    walk(value_node, [*path, key])
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    walk(item, [*path, index])

        if self.root is not None:
            walk(self.root, [])
        return found


def _field_names(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys allowed at ``loc`` (for 'did you mean' suggestions)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        for arg in (*getattr(annotation, "__args__", ()), annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
            for inner in getattr(arg, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    current = inner
                    break
    return [name for name in getattr(current, "model_fields", {}) if name != "base_dir"]


def _yaml_type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number",
             list: "a list", dict: "a mapping", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _problems_from(error: ValidationError, file: str, lines: _Lines) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        path = _format_path(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            hint = did_you_mean(key, _field_names(Config, loc[:-1]))
            message = f"unknown key{hint}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind in ("model_type", "dict_type"):
            # pydantic says "instance of Source"; a user wrote YAML, not Python.
            message = f"expected a mapping of keys, got {_yaml_type(item.get('input'))}"
        elif kind in ("tuple_type", "list_type"):
            message = f"expected a list, got {_yaml_type(item.get('input'))}"
        else:
            message = item["msg"].removeprefix("Value error, ")
            if kind == "string_pattern_mismatch":
                message = ("use letters, digits, '.', '_' or '-' only, "
                           "starting with a letter or digit")
        problems.append(ConfigProblem(file, lines.line(loc), path, message))
    return problems


def _items(data: dict[str, Any], kind: str) -> list[tuple[int, dict[str, Any]]]:
    items = data.get(kind)
    if not isinstance(items, list):
        return []
    return [(index, item) for index, item in enumerate(items) if isinstance(item, dict)]


def _extra_checks(data: dict[str, Any], file: str, lines: _Lines, base_dir: Path
                  ) -> list[ConfigProblem]:
    """Checks across entries. They read the raw data, not the validated model, so that they
    still run when the schema has errors and the user sees every problem at once."""
    problems = []
    for kind in ("sources", "topics"):
        seen: dict[str, int] = {}
        for index, item in _items(data, kind):
            ident = item.get("id")
            if not isinstance(ident, str):
                continue
            if ident in seen:
                problems.append(
                    ConfigProblem(
                        file,
                        lines.line([kind, index, "id"]),
                        f"{kind}[{index}].id",
                        f"duplicate id {ident!r} (also {kind}[{seen[ident]}]); ids must be unique",
                    )
                )
            seen.setdefault(ident, index)
    ids = [s["id"] for _, s in _items(data, "sources") if isinstance(s.get("id"), str)]
    for t_index, topic in _items(data, "topics"):
        for key in ("sources", "exclude_sources", "prefer"):
            names = topic.get(key)
            if not isinstance(names, list):
                continue
            for s_index, sid in enumerate(names):
                if isinstance(sid, str) and sid not in ids:
                    problems.append(
                        ConfigProblem(
                            file,
                            lines.line(["topics", t_index, key, s_index]),
                            f"topics[{t_index}].{key}[{s_index}]",
                            f"unknown source {sid!r}{did_you_mean(sid, ids)}",
                        )
                    )
    for index, source in _items(data, "sources"):
        for key, message in source_conflicts(source):
            loc: list[int | str] = ["sources", index, key] if key else ["sources", index]
            problems.append(ConfigProblem(file, lines.line(loc), _format_path(loc), message))
    for index, source in _items(data, "sources"):
        for key in ("url", "page"):
            try:
                location = check_location(source.get(key))
            except ValueError:
                continue  # absent, or already reported by the schema
            parts = urlsplit(location)
            if parts.scheme in ("http", "https"):
                continue
            if parts.scheme == "file":
                path = Path(parts.path)
            else:
                path = Path(location).expanduser()
                path = path if path.is_absolute() else base_dir / path
            if path.exists():
                continue
            hint = ""
            if not parts.scheme and re.fullmatch(r"[\w-]+(\.[\w-]+)+", location.split("/")[0]):
                hint = f" (did you mean 'https://{location}'?)"
            problems.append(
                ConfigProblem(
                    file,
                    lines.line(["sources", index, key]),
                    f"sources[{index}].{key}",
                    f"no such file {str(path)!r}{hint}",
                )
            )
    return problems


def _syntax_problem(error: yaml.YAMLError, text: str, file: str) -> ConfigProblem:
    """A YAML syntax error with its line and column, and what usually causes it."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return ConfigProblem(file, None, "", f"YAML syntax error: {problem}")
    lines = text.splitlines()
    source_line = lines[mark.line] if mark.line < len(lines) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    hint = ""
    if "\t" in indent or "found character '\\t'" in problem:
        hint = "; indent with spaces, not tabs"
    elif any(phrase in problem for phrase in (
        "expected '-' indicator", "mapping values are not allowed", "expected <block end>",
        "did not find expected key", "could not find expected ':'",
    )):
        hint = ("; check the indentation of this line and the line above (keys of one "
                "mapping line up, with spaces)")
    return ConfigProblem(file, mark.line + 1, "",
                         f"YAML syntax error: {problem} (column {mark.column + 1}){hint}")


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_config(text: str, file: str = "<string>", base_dir: Path | None = None) -> Config:
    """Validate YAML ``text``; raise ConfigError listing every problem with its line."""
    try:
        # One pass of libyaml's composer; the node tree both gives the data and maps key
        # paths to lines (ten times faster than the pure-Python loader at 1,000 sources).
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.constructor.SafeConstructor().construct_document(root) if root else None
    except yaml.YAMLError as e:
        raise ConfigError([_syntax_problem(e, text, file)]) from e
    lines = _Lines(root)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, 1, "", "the file must be a mapping of keys")])
    problems = [
        ConfigProblem(file, line, path, "duplicate key; the later one would silently win")
        for path, line in lines.duplicate_keys()
    ]
    if "base_dir" in data:
        problems.append(ConfigProblem(file, lines.line(["base_dir"]), "base_dir", "unknown key"))
    data = {k: v for k, v in data.items() if k != "base_dir"}
    data["base_dir"] = str(base_dir or Path("."))
    cause: ValidationError | None = None
    config: Config | None = None
    try:
        config = Config.model_validate(data, context={_RAW_CHECKS: True})
    except ValidationError as e:
        cause = e
        problems += _problems_from(e, file, lines)
    problems += _extra_checks(data, file, lines, base_dir or Path("."))
    if problems or config is None:
        # In file order, as an editor shows them.
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems) from cause
    return config


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            [ConfigProblem(str(path), None, "", "config file not found; pass --config PATH")]
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {e}")]) from e
    return parse_config(text, str(path), path.parent)
