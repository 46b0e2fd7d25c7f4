"""``feeds import-opml``: the feeds of a reader's OPML export become sources in the config.

listparser reads the OPML (any reader's dialect, nested folders included). A feed whose URL is
already configured is skipped and reported; new sources get ids made from their titles
(ASCII slugs, made unique) and are inserted into the YAML text after the last source, so the
user's comments and layout survive. The new text is validated before it replaces the file.
(Export is :func:`feeds.publish.render_opml`.)

Usage::

    report = import_opml(Path("config/feeds.yaml"), Path("reader-export.opml"))
    report.added, report.duplicates, report.invalid
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import listparser
import yaml

from feeds.config import load_config, parse_config
from feeds.errors import ConfigError, ConfigProblem
from feeds.publish import write_atomic

log = logging.getLogger(__name__)

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_ID = 60


@dataclass(frozen=True)
class Imported:
    id: str
    url: str
    title: str | None
    folder: str | None = None


@dataclass(frozen=True)
class Skipped:
    url: str
    title: str | None
    reason: str  # "already configured as 'x'", "twice in the file", "not an http(s) URL"


@dataclass(frozen=True)
class ImportReport:
    added: tuple[Imported, ...] = ()
    duplicates: tuple[Skipped, ...] = ()
    invalid: tuple[Skipped, ...] = field(default=())


def normalize_url(url: str) -> str:
    """The form two URLs are compared in: scheme and host lower-cased, default port and
    fragment dropped, an empty path as "/"."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or
                     (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def slugify(text: str) -> str:
    """An id-safe ASCII slug: "Python Insider!" -> "python-insider"; "" when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:_MAX_ID].strip("-")


def make_id(title: str | None, url: str, taken: set[str]) -> str:
    """A unique source id from the title, else from the URL's host and path (Chinese titles
    leave no ASCII); "-2", "-3" ... when taken."""
    base = slugify(title or "")
    if not base:
        parts = urlsplit(url)
        host = (parts.hostname or "feed").removeprefix("www.")
        base = slugify(f"{host} {parts.path}") or "feed"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate = base[: _MAX_ID - len(suffix)] + suffix
        n += 1
    taken.add(candidate)
    return candidate


def _folder(feed: Any) -> str | None:
    categories = feed.get("categories") or []
    paths = ["/".join(c) for c in categories if c]
    return paths[0] if paths else None


def plan_import(
    opml: bytes | str, existing: Iterable[tuple[str, str]], taken_ids: Iterable[str]
) -> ImportReport:
    """What importing ``opml`` adds and skips, given the configured (id, url) pairs."""
    # Bytes, always: listparser fetches a str that looks like a URL.
    parsed = listparser.parse(opml.encode("utf-8") if isinstance(opml, str) else opml)
    if not parsed.get("feeds") and (parsed.get("bozo") or not parsed.get("version")):
        why = parsed.get("bozo_exception") or "no <opml> subscription list found"
        raise ValueError(f"not an OPML subscription list: {why}")
    known = {normalize_url(url): ident for ident, url in existing}
    taken = set(taken_ids)
    added: list[Imported] = []
    duplicates: list[Skipped] = []
    invalid: list[Skipped] = []
    seen: set[str] = set()
    for feed in parsed.feeds:
        url = (feed.get("url") or "").strip()
        title = (feed.get("title") or "").strip() or None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
            invalid.append(Skipped(url, title, "not an http(s) URL"))
            continue
        key = normalize_url(url)
        if key in known:
            duplicates.append(Skipped(url, title, f"already configured as {known[key]!r}"))
            continue
        if key in seen:
            duplicates.append(Skipped(url, title, "listed twice in the file"))
            continue
        seen.add(key)
        added.append(Imported(make_id(title, url, taken), url, title, _folder(feed)))
    return ImportReport(tuple(added), tuple(duplicates), tuple(invalid))


def _source_yaml(item: Imported, indent: str, origin: str) -> str:
    entry: dict[str, str] = {"id": item.id, "url": item.url}
    if item.title:
        entry["title"] = item.title
    dumped = yaml.safe_dump([entry], allow_unicode=True, sort_keys=False, width=4096)
    lines = dumped.splitlines()
    note = f"from {origin}" + (f", folder {item.folder}" if item.folder else "")
    # A comment ends at the line's end: a folder name with a newline (an OPML file can
    # write one as &#10;) must not go on to write config of its own.
    lines[0] += "  # " + " ".join("".join(c if c.isprintable() else " " for c in note).split())
    return "".join(f"{indent}{line}\n" for line in lines)


def _last_line(node: yaml.Node) -> int:
    """The last line (0-based) holding text of ``node``."""
    if isinstance(node, yaml.ScalarNode):
        end = node.end_mark
        return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            children += [key, value]
    return max((_last_line(child) for child in children), default=node.start_mark.line)


def insert_sources(text: str, items: Sequence[Imported], origin: str) -> str:
    """``text`` with ``items`` appended to its ``sources:`` list, everything else untouched."""
    if not items:
        return text
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sources: tuple[yaml.Node, yaml.Node] | None = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "sources":
                sources = (key, value)
    if sources is None:
        block = "".join(_source_yaml(i, "  ", origin) for i in items)
        return "".join(lines) + "sources:\n" + block
    key, value = sources
    if isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
        indent = " " * value.start_mark.column
        at = _last_line(value) + 1
        block = "".join(_source_yaml(i, indent, origin) for i in items)
        return "".join(lines[:at]) + block + "".join(lines[at:])
    empty = (isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")) or (
        isinstance(value, yaml.SequenceNode) and not value.value
    )
    if not empty:
        raise ValueError("'sources' is not a list in block style; add the sources by hand")
    # `sources:` or `sources: []`: the list starts on the next line.
    line = key.start_mark.line
    head = lines[line]
    if isinstance(value, yaml.SequenceNode):  # drop the "[]"
        start, end = value.start_mark.column, value.end_mark.column
        head = head[:start].rstrip() + head[end:]
        head = head if head.endswith("\n") else head + "\n"
    indent = " " * (key.start_mark.column + 2)
    block = "".join(_source_yaml(i, indent, origin) for i in items)
    return "".join(lines[:line]) + head + block + "".join(lines[line + 1:])


def import_opml(config_path: Path, opml_path: Path, dry_run: bool = False) -> ImportReport:
    """Add the feeds of ``opml_path`` to the config at ``config_path``.

    Raises ConfigError if the config is invalid before or (which would be a bug) after the
    import; the file is then left as it was.
    """
    config = load_config(config_path)
    existing = [(s.id, s.location) for s in config.sources
                if s.location.startswith(("http://", "https://"))]
    report = plan_import(opml_path.read_bytes(), existing, [s.id for s in config.sources])
    if not report.added or dry_run:
        return report
    text = config_path.read_text(encoding="utf-8")
    try:
        new_text = insert_sources(text, report.added, opml_path.name)
    except ValueError as e:
        raise ConfigError([ConfigProblem(str(config_path), None, "sources", str(e))]) from e
    parse_config(new_text, str(config_path), config_path.parent)
    write_atomic(config_path, new_text.encode("utf-8"))
    log.info("added %d sources from %s to %s", len(report.added), opml_path, config_path)
    return report
