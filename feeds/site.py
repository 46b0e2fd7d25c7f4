"""``output/index.html``: the page a person opens to find and subscribe to the feeds.

One static page, readable on a phone: every source and topic feed with its title, description,
last update, entry count, health and subscribe links in each format; ``<link rel="alternate">``
tags so a reader given the site's address finds the feeds; the OPML list. No external assets
and no script; the Content-Security-Policy says so to the browser. Jinja2 autoescapes every
value, because feed titles come from the open web (a title such as
``<script>alert(1)</script>`` must show as text).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined

from feeds.config import Config
from feeds.extract.chinese import convert
from feeds.render import newest
from feeds.store import SourceState

if TYPE_CHECKING:
    from feeds.publish import FeedSpec

log = logging.getLogger(__name__)

# The media type each format is served and advertised with (serve.py uses the same table).
FORMAT_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
FORMAT_LABELS = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}


@dataclass(frozen=True)
class FeedLink:
    fmt: str
    label: str
    href: str  # relative to index.html, so the page works under any host and port
    media_type: str


@dataclass(frozen=True)
class FeedRow:
    """One feed as the index page shows it."""

    kind: str
    ident: str
    title: str
    description: str | None
    updated: datetime | None
    updated_label: str
    entries: int
    healthy: bool
    health: str
    links: tuple[FeedLink, ...]


TEMPLATE = """<!DOCTYPE html>
<html lang="{{ language }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{ title }}</title>
<link rel="icon" href="data:,">
{% for row in rows %}{% for link in row.links %}<link rel="alternate" type="{{ link.media_type }}" \
title="{{ row.title }} ({{ link.label }})" href="{{ link.href }}">
{% endfor %}{% endfor %}{% if health_feed %}<link rel="alternate" type="application/atom+xml" \
title="{{ title }}: source health (Atom)" href="{{ health_feed }}">
{% endif %}<style>
:root { color-scheme: light dark; --muted: #666; --bad: #b00020; --ok: #1b7a3a; }
body { font: 16px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 48rem;
       padding: 0 1rem 2rem; overflow-wrap: anywhere; }
header { border-bottom: 1px solid #8884; margin-bottom: 1rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 0 0 .25rem; }
.feed { border: 1px solid #8884; border-radius: .5rem; padding: .75rem; margin: .75rem 0; }
.desc, .meta { color: var(--muted); margin: .25rem 0; font-size: .95rem; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
.subscribe { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
.subscribe a { border: 1px solid currentColor; border-radius: 1rem; padding: .15rem .75rem;
               text-decoration: none; }
</style>
</head>
<body>
<header>
<h1>{{ title }}</h1>
<p>{{ rows | length }} feeds. <a href="feeds.opml" type="text/x-opml" download>Download all \
as OPML</a> to import them into a feed reader.{% if health_feed %}
Sources that break or recover are announced in the <a href="{{ health_feed }}" \
type="application/atom+xml">health feed</a>.{% endif %}</p>
</header>
{% for heading, group in groups %}{% if group %}
<section>
<h2>{{ heading }}</h2>
{% for row in group %}<article class="feed" id="{{ row.kind or 'feed' }}-{{ row.ident }}">
<h3>{{ row.title }}</h3>
{% if row.description %}<p class="desc">{{ row.description }}</p>
{% endif %}<p class="meta">Updated {% if row.updated %}<time datetime="{{ row.updated.isoformat() \
}}">{{ row.updated_label }}</time>{% else %}never{% endif %} ·
{{ row.entries }} {{ "entry" if row.entries == 1 else "entries" }} ·
<span class="{{ 'ok' if row.healthy else 'bad' }}">{{ row.health }}</span></p>
<p class="subscribe">{% for link in row.links %}<a href="{{ link.href }}" \
type="{{ link.media_type }}">{{ link.label }}</a>{% endfor %}</p>
</article>
{% endfor %}</section>
{% endif %}{% endfor %}
</body>
</html>
"""

_ENVIRONMENT = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_TEMPLATE = _ENVIRONMENT.from_string(TEMPLATE)


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %z") if value else "never"


def source_health(state: SourceState | None, zone: ZoneInfo) -> tuple[bool, str]:
    """(healthy, what to show) for one source, from its stored polling state."""
    if state is None or (state.last_attempt is None and not state.failures):
        return True, "not polled yet"
    if state.gone:
        return False, f"gone (HTTP 410) since {_when(state.last_error_at, zone)}"
    if state.failures:
        since = _when(state.failing_since or state.last_error_at, zone)
        reason = f": {state.last_error}" if state.last_error else ""
        return False, f"failing since {since}{reason}"
    return True, "ok"


def _row(spec: FeedSpec, formats: Sequence[str], zone: ZoneInfo, healthy: bool, health: str
         ) -> FeedRow:
    updated = newest(spec.entries)
    links = tuple(
        FeedLink(fmt, FORMAT_LABELS[fmt], spec.path_for(fmt), FORMAT_TYPES[fmt])
        for fmt in formats
    )
    return FeedRow(
        kind=spec.kind,
        ident=spec.ident,
        title=convert(spec.title, spec.conversion) or spec.ident,
        description=convert(spec.subtitle, spec.conversion) if spec.subtitle else None,
        updated=updated,
        updated_label=_when(updated, zone),
        entries=len(spec.entries),
        healthy=healthy,
        health=health,
        links=links,
    )


def render_index(
    config: Config,
    source_specs: Sequence[FeedSpec],
    topic_specs: Sequence[FeedSpec],
    states: Mapping[str, SourceState],
    formats: Sequence[str],
) -> bytes:
    """The index page; it holds no clock time, so it changes only when a feed or health does."""
    zone = ZoneInfo(config.defaults.timezone)
    sources = []
    for spec in source_specs:
        healthy, health = source_health(states.get(spec.ident), zone)
        sources.append(_row(spec, formats, zone, healthy, health))
    failing = {row.ident for row in sources if not row.healthy}
    topics = []
    for spec in topic_specs:
        topic = next((t for t in config.topics if t.id == spec.ident), None)
        inputs = set(topic.sources) if topic and topic.sources else {r.ident for r in sources}
        broken = sorted(inputs & failing)
        health = "ok" if not broken else f"{len(broken)} source(s) failing: {', '.join(broken)}"
        topics.append(_row(spec, formats, zone, not broken, health))
    rows = [*topics, *sources]
    html = _TEMPLATE.render(
        title=config.output.title,
        # The page's own words are English; feed titles may be in any language.
        language="en",
        rows=rows,
        # Written by the scheduler (feeds.scheduler.HEALTH_FILE) once it runs.
        health_feed="health.atom" if (config.output_dir / "health.atom").is_file() else None,
        groups=[("Topics", topics), ("Sources", sources)],
    )
    return html.encode("utf-8")
