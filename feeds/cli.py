"""The `feeds` command. Logging handlers are configured here and nowhere else.

Exit codes: 0 all good; 1 some sources failed; 2 the config is invalid; 3 the store or the
output cannot be used.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from feeds import __version__
from feeds.config import DEFAULT_CONFIG, Config, Source, load_config
from feeds.errors import ConfigError, LockedError, StoreError

if TYPE_CHECKING:
    from feeds.fetch import Fetcher
    from feeds.poll import PollResult
    from feeds.serve import ServerHandle
    from feeds.store import Store

EXIT_SOURCES_FAILED = 1
EXIT_CONFIG = 2
EXIT_STORE = 3

# Rich wraps lines at 80 columns, and cuts table cells short with "…", when its stream is not
# a terminal. Under a pipe or journald a problem, an id or a path must stay on one line, whole,
# so there the width is practically unlimited; a terminal keeps its own width.
UNWRAPPED_WIDTH = 10_000


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that wraps only on a terminal (or when $COLUMNS says)."""
    console = Console(stderr=stderr)
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(stderr=stderr, width=UNWRAPPED_WIDTH, soft_wrap=True)


console = make_console()
err_console = make_console(stderr=True)


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        err_console.print(f"[bold red]config invalid[/] ({len(e.problems)} problem(s)):",
                          highlight=False)
        for problem in e.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)


# Commands import the stages they use when they run: `feeds --help` or `feeds check` need
# neither SQLAlchemy nor requests.


def _store_exit(message: str) -> NoReturn:
    err_console.print(f"[bold red]store error:[/] {message}", highlight=False)
    sys.exit(EXIT_STORE)


def _check_store_path(config: Config) -> None:
    """Exit 3, naming the store, if its SQLite file cannot be where the config puts it.

    Checked before anything else touches that directory (the lock file beside the store, the
    store itself), so the message is about the store, not about a lock or the output.
    """
    if "://" in config.store.path:
        return  # a database URL: the driver says what is wrong when the store opens
    path = config.store_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()),
                       path.parent)
        _store_exit(f"cannot open the store {path}: {blocker} is a file, not a directory; "
                    "point store.path somewhere else")
    except OSError as e:
        _store_exit(f"cannot open the store {path}: {e.strerror or e} ({e.filename or path})")
    if path.is_dir():
        _store_exit(f"cannot open the store {path}: it is a directory; point store.path at a "
                    "file such as feeds.db inside it")


def _open_store(config: Config) -> Store:
    from feeds.store import Store

    _check_store_path(config)
    try:
        return Store.open(config.store_path)
    except StoreError as e:
        _store_exit(str(e))
    except OSError as e:
        _store_exit(f"cannot open the store {config.store_path}: {e}")


def make_fetcher(config: Config, *, polite: bool = False) -> Fetcher:
    """A fetcher with the config's limits; ``polite``: also its per-host ones (per_host,
    host_delay), for commands that fetch from many sources as a poll does."""
    from feeds.fetch import Fetcher, HostLimiter

    limiter = HostLimiter(config.defaults.per_host,
                          config.defaults.host_delay.total_seconds()) if polite else None
    return Fetcher(
        base_dir=Path(config.base_dir),
        timeout=config.defaults.timeout.total_seconds(),
        max_bytes=config.defaults.max_bytes,
        max_redirects=config.defaults.max_redirects,
        limiter=limiter,
    )


@click.group()
@click.version_option(__version__, prog_name="feeds")
@click.option(
    "--config", "-c", "config_path", type=click.Path(path_type=Path),
    default=lambda: os.environ.get("FEEDS_CONFIG", str(DEFAULT_CONFIG)),
    show_default="config/feeds.yaml, or $FEEDS_CONFIG", help="The YAML configuration file.",
)
@click.option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: int) -> None:
    """Turn news sites and existing feeds into clean, valid Atom feeds."""
    ctx.meta[_VERBOSITY] = verbose
    configure_logging(verbose)
    ctx.obj = config_path


_VERBOSITY = "feeds.verbosity"


def configure_logging(verbose: int) -> None:
    """WARNING, INFO with -v, DEBUG with -vv, on stderr."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
    root.setLevel(logging.WARNING - 10 * min(verbose, 2))
    # APScheduler logs two INFO lines for every job it runs, and the service's publish check
    # runs every 2 s: at -v they would drown the one line per poll. -vv shows them.
    logging.getLogger("apscheduler").setLevel(
        logging.WARNING if verbose < 2 else logging.NOTSET
    )


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    # -v after the subcommand counts as if it stood before it: `feeds run --once -v`.
    if value:
        total = int(ctx.meta.get(_VERBOSITY, 0)) + value
        ctx.meta[_VERBOSITY] = total
        configure_logging(total)


verbose_option = click.option(
    "--verbose", "-v", count=True, expose_value=False, callback=_more_verbose,
    help="More log output (-vv for debug); also accepted before the command.",
)


# Above this many sources, the summary lists only sources with news, errors or moves: a
# table of 1,000 "not modified" rows says nothing and costs more than the cycle's polling.
SUMMARY_ROWS = 50


def _noteworthy(result: PollResult) -> bool:
    return bool(result.failed or result.new or result.updated or result.moved_to)


def _summary(results: list[PollResult], changed: list[Path]) -> None:
    table = Table(title="feeds: one cycle", title_justify="left")
    for column, justify in (("source", "left"), ("status", "left"), ("new", "right"),
                            ("updated", "right"), ("unchanged", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    rows = results if len(results) <= SUMMARY_ROWS else [r for r in results if _noteworthy(r)]
    if len(rows) > SUMMARY_ROWS:
        rows = [r for r in rows if r.failed or r.moved_to]
    for r in rows:
        style = "red" if r.failed else None
        note = r.error or (f"moved to {r.moved_to}; update the config" if r.moved_to else "")
        table.add_row(r.source_id, r.status, str(r.new), str(r.updated), str(r.unchanged),
                      note, style=style)
    if rows:
        console.print(table)
    if len(rows) < len(results):
        console.print(f"({len(results) - len(rows)} sources without errors not listed)",
                      highlight=False)
    failed = sum(1 for r in results if r.failed)
    console.print(
        f"{len(results)} sources, {failed} failed, "
        f"{sum(r.new for r in results)} new, {sum(r.updated for r in results)} updated; "
        f"{len(changed)} output file(s) written",
        highlight=False,
    )


@cli.command()
@verbose_option
@click.option("--once", is_flag=True, help="Run one cycle (fetch, store, publish) and exit.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Sources polled at the same time (default: defaults.workers, 4).")
@click.option("--serve", "serve_too", is_flag=True,
              help="Also serve output/ over HTTP (see `feeds serve`) while the service runs.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="With --serve: port.")
@click.pass_obj
def run(config_path: Path, once: bool, workers: int | None, serve_too: bool, host: str,
        port: int) -> None:
    """Poll the sources and write the feeds (as a service, or --once)."""
    config = _load(config_path)
    if once and serve_too:
        raise click.UsageError("--serve runs with the service; drop --once")
    enabled = [s for s in config.sources if s.enabled]
    _check_store_path(config)
    if once and "://" not in config.store.path and not config.store_path.exists():
        # A new store: the cycle will parse every source. Its worker processes start now,
        # importing while this process imports the rest (feeds.poll.cycle_pool takes them).
        from feeds import worker

        worker.prestart(worker.pool_size(len(enabled)))
    if not once:
        from feeds.scheduler import run_service

        handle = _start_serving(config, host, port) if serve_too else None
        try:
            code = run_service(config_path, config, workers=workers)
        finally:
            if handle is not None:
                handle.stop()
        sys.exit(code)
    from feeds.scheduler import Service, service_lock

    try:
        with service_lock(config):
            try:
                service = Service(config_path, config, workers=workers)
            except StoreError as e:
                _store_exit(str(e))
            try:
                if not err_console.is_terminal:  # no bar to draw: no bar to update
                    results, changed = service.run_once()
                else:
                    from rich.progress import (
                        BarColumn,
                        MofNCompleteColumn,
                        Progress,
                        TextColumn,
                        TimeElapsedColumn,
                    )

                    with Progress(
                        TextColumn("[progress.description]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                        transient=True,
                    ) as progress:
                        task = progress.add_task("polling", total=len(enabled))
                        results, changed = service.run_once(lambda r: progress.advance(task))
            finally:
                service.close()
    except LockedError as e:
        err_console.print(f"[bold red]locked:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)
    except OSError as e:
        err_console.print(f"[bold red]cannot write output:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)
    _summary(results, changed)
    if any(r.failed for r in results):
        sys.exit(EXIT_SOURCES_FAILED)


@cli.command()
@verbose_option
@click.option("--live", is_flag=True,
              help="Also fetch and read every enabled source, and its test_urls, and report "
                   "sources and rules that have rotted.")
@click.pass_obj
def check(config_path: Path, live: bool) -> None:
    """Validate the configuration and list every problem."""
    config = _load(config_path)
    console.print(
        f"{config_path}: ok, {len(config.sources)} sources, {len(config.topics)} topics",
        highlight=False,
    )
    if live:
        _check_live(config)


def _check_live(config: Config) -> None:
    from feeds.sources.page import check_sources, check_test_urls

    fetcher = make_fetcher(config, polite=True)
    now = datetime.now(UTC)
    try:
        sources = check_sources(config, fetcher, now)
        outcomes = check_test_urls(config, fetcher, now)
    finally:
        fetcher.close()
    for checked in sources:
        if checked.ok:
            moved = f"; moved to {checked.moved_to}, update the config" if checked.moved_to \
                else ""
            console.print(f"[green]ok[/] {checked.source_id}: {_items(checked.items)} from "
                          f"{checked.url}{moved}", highlight=False)
        else:
            console.print(f"[bold red]FAILED[/] {checked.source_id}: {checked.url}",
                          highlight=False)
            console.print(f"    {checked.problem}", highlight=False, markup=False)
    failed_sources = sum(1 for o in sources if not o.ok)
    console.print(f"{len(sources)} source(s), {failed_sources} failed", highlight=False)
    for outcome in outcomes:
        mark = "[green]ok[/]" if outcome.ok else "[bold red]FAILED[/]"
        console.print(f"{mark} {outcome.source_id}: {outcome.url}", highlight=False)
        for problem in outcome.problems:
            console.print(f"    {problem}", highlight=False, markup=False)
    failed = sum(1 for o in outcomes if not o.ok)
    if outcomes:
        console.print(f"{len(outcomes)} test URL(s), {failed} failed", highlight=False)
    else:
        console.print("no source lists test_urls", highlight=False)
    if failed or failed_sources:
        sys.exit(EXIT_SOURCES_FAILED)


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _is_location(text: str) -> bool:
    return "://" in text or text.startswith("file:")


def _preview_target(config_path: Path, source_or_url: str) -> tuple[Config, Source]:
    """The config and the source `feeds preview` shows: a configured one, or one made for a
    URL or an existing file. Anything else is a usage error, with the id it likely meant."""
    from feeds.config import did_you_mean

    named = not _is_location(source_or_url) and not Path(source_or_url).exists()
    config = _load(config_path) if config_path.exists() or named else Config()
    try:
        return config, config.source(source_or_url)
    except KeyError:
        pass
    if _is_location(source_or_url):
        return config, Source(id="preview", page=source_or_url)
    if Path(source_or_url).exists():
        # Typed on the command line: relative to where the user is, as for `feeds add`.
        return config, Source(id="preview", page=str(Path(source_or_url).resolve()))
    if (Path(config.base_dir) / source_or_url).exists():
        return config, Source(id="preview", page=source_or_url)
    hint = did_you_mean(source_or_url, [s.id for s in config.sources])
    if not hint and "." in source_or_url and "/" not in source_or_url[:1]:
        hint = f" (a URL starts with its scheme: 'https://{source_or_url}')"
    raise click.BadParameter(f"no source {source_or_url!r}{hint}; nor is it a URL or a file",
                             param_hint="SOURCE_OR_URL")


@cli.command()
@verbose_option
@click.argument("source_or_url")
@click.option("--articles", type=click.IntRange(1, 20), default=1, show_default=True,
              help="How many articles to fetch and show in full.")
@click.pass_obj
def preview(config_path: Path, source_or_url: str, articles: int) -> None:
    """Show what a source (or any URL) would give, without storing anything."""
    from feeds.errors import SourceError
    from feeds.sources.page import article_fields
    from feeds.sources.page import preview as run_preview

    config, source = _preview_target(config_path, source_or_url)
    fetcher = make_fetcher(config)
    try:
        result = run_preview(source, config, fetcher, datetime.now(UTC), articles)
    except SourceError as e:
        err_console.print(f"[bold red]{source.id}:[/] {e.message} ({e.url})", highlight=False)
        sys.exit(EXIT_SOURCES_FAILED)
    finally:
        fetcher.close()
    listing = result.listing
    if listing is None:
        how = "the feed" + (f" ({result.feed_kind})" if result.feed_kind != "feed" else "")
    else:
        how = {"rules": "the source's items: rules", "feed": f"its advertised feed "
               f"{listing.feed_url}", "json-ld": "JSON-LD", "auto": "automatic detection"
               }.get(listing.method, listing.method)
    notes = []
    if result.filtered:
        notes.append(f"{result.filtered} dropped by the source's filter")
    if len(result.items) < result.count:
        notes.append(f"the newest {len(result.items)} listed")
    console.print(f"{source.location}: {_items(result.count)} via {how}"
                  + (f"; {'; '.join(notes)}" if notes else ""), highlight=False)
    if result.items:
        table = Table(show_header=True)
        for column in ("#", "date", "title", "url"):
            table.add_column(column)
        for number, item in enumerate(result.items, 1):
            table.add_row(str(number), item.date.isoformat() if item.date else "-",
                          item.title or "", item.url)
        console.print(table)
    if listing is not None and listing.proposed is not None and source.items is None:
        rules = listing.proposed
        console.print(f"equivalent rules: items: {{each: {rules.each!r}, link: "
                      f"{rules.link!r}" + (f", date: {rules.date!r}" if rules.date else "")
                      + "}", highlight=False, markup=False)
    for skipped in result.errors:
        err_console.print(f"skipped {skipped.url}: {skipped.reason}", highlight=False,
                          markup=False)
    shown = result.articles[:articles]
    for article in shown:
        # A rule spans the console: on an unwrapped (non-terminal) one, a usual line's width.
        rule_width = console.width if console.width < UNWRAPPED_WIDTH else 80
        console.print(Rule(article.title[:60]), width=rule_width)
        for name, value in article_fields(article):
            console.print(f"[bold]{name}:[/] ", end="", highlight=False)
            console.print(value, highlight=False, markup=False)
    if not shown:
        sys.exit(EXIT_SOURCES_FAILED)


@cli.command()
@verbose_option
@click.argument("url")
@click.option("--id", "ident", help="The source id (default: from the URL).")
@click.option("--dry-run", is_flag=True, help="Print the draft; change nothing.")
@click.pass_obj
def add(config_path: Path, url: str, ident: str | None, dry_run: bool) -> None:
    """Write a draft source for URL into the config: its feed, or page rules.

    Refused when the URL, the feed it advertises or the id is configured already."""
    from feeds.config import parse_config
    from feeds.errors import SourceError
    from feeds.sources.page import draft_source, insert_source

    config = _load(config_path)
    if "://" not in url and Path(url).exists():
        # A path typed on the command line is relative to where the user is, not to the
        # config file; the draft stores it absolute.
        url = str(Path(url).resolve())
    fetcher = make_fetcher(config)
    try:
        entry, note = draft_source(url, config, fetcher, datetime.now(UTC), ident)
    except SourceError as e:
        err_console.print(f"[bold red]cannot add {url}:[/] {e.message}", highlight=False)
        sys.exit(EXIT_SOURCES_FAILED)
    finally:
        fetcher.close()
    text = config_path.read_text(encoding="utf-8")
    updated = insert_source(text, entry)
    try:
        parse_config(updated, str(config_path), config_path.parent)
    except ConfigError as e:
        err_console.print("[bold red]the draft does not validate; config left as it was:[/]",
                          highlight=False)
        for problem in e.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        console.print(entry, highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)
    console.print(f"{note}:", highlight=False)
    console.print(entry.rstrip("\n"), highlight=False, markup=False)
    if dry_run:
        return
    temporary = config_path.with_name(config_path.name + ".tmp")
    temporary.write_text(updated, encoding="utf-8")
    os.replace(temporary, config_path)
    added = entry.split("id:", 1)[1].split()[0].strip('"')
    console.print(f"added to {config_path}; check it with `feeds preview {added}`",
                  highlight=False)


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@cli.command()
@verbose_option
@click.pass_obj
def status(config_path: Path) -> None:
    """Show each source's last success, last error, next poll and article count."""
    config = _load(config_path)
    store = _open_store(config)
    try:
        states = store.states()
        counts = store.counts()
    finally:
        store.close()
    table = Table(title=f"feeds status ({config.store_path})", title_justify="left")
    for column in ("source", "articles", "last success", "next due", "failures", "state"):
        table.add_column(column)
    for source in config.sources:
        state = states.get(source.id)
        if not source.enabled:
            note = "disabled"
        elif state is None:
            note = "never polled"
        elif state.gone:
            note = (f"gone (HTTP 410) since {_when(state.last_error_at)}; change its URL to "
                    "try again, or remove it")
        elif state.failures:
            note = f"failing since {_when(state.failing_since)}: {state.last_error}"
            if state.retry_after:
                note += f" (server asked to wait until {_when(state.retry_after)})"
        else:
            note = "ok"
        if state is not None and state.moved_to and not state.gone:
            note += f"; moved to {state.moved_to}, update the config"
        table.add_row(
            source.id,
            str(counts.get(source.id, 0)),
            _when(state.last_success if state else None),
            _when(state.next_due if state else None),
            str(state.failures if state else 0),
            note,
            style="red" if state and (state.failures or state.gone) else None,
        )
    console.print(table)


def _start_serving(config: Config, host: str, port: int) -> ServerHandle:
    from feeds.serve import start_server

    _check_store_path(config)
    try:
        handle = start_server(config, host, port)
    except StoreError as e:
        _store_exit(str(e))
    except OSError as e:
        err_console.print(f"[bold red]cannot serve:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)
    err_console.print(f"serving {config.output_dir} on {handle.url}", highlight=False)
    return handle


@cli.command()
@verbose_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the server to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port to listen on.")
@click.pass_obj
def serve(config_path: Path, host: str, port: int) -> None:
    """Serve output/ over HTTP, with /healthz and /metrics, until Ctrl-C."""
    from feeds.serve import serve_forever

    config = _load(config_path)
    _check_store_path(config)
    err_console.print(f"serving {config.output_dir} on http://{host}:{port}/", highlight=False)
    try:
        serve_forever(config, host, port)
    except StoreError as e:
        _store_exit(str(e))
    except OSError as e:
        err_console.print(f"[bold red]cannot serve:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)


@cli.command("import-opml")
@verbose_option
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@click.pass_obj
def import_opml_command(config_path: Path, opml_file: Path, dry_run: bool) -> None:
    """Add the feeds of a reader's OPML export to the config as sources."""
    from feeds.opml import import_opml

    _load(config_path)  # a broken config is reported as such, before anything else
    try:
        report = import_opml(config_path, opml_file, dry_run=dry_run)
    except ConfigError as e:
        err_console.print("[bold red]import would make the config invalid:[/]", highlight=False)
        for problem in e.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)
    except ValueError as e:
        err_console.print(f"[bold red]{opml_file}:[/] {e}", highlight=False)
        sys.exit(EXIT_CONFIG)
    verb = "would add" if dry_run else "added"
    for item in report.added:
        console.print(f"{verb} {item.id}: {item.url}", highlight=False, markup=False,
                      soft_wrap=True)
    for skipped in (*report.duplicates, *report.invalid):
        console.print(f"skipped {skipped.url}: {skipped.reason}", highlight=False,
                      markup=False, soft_wrap=True)
    console.print(
        f"{len(report.added)} {verb}, {len(report.duplicates)} duplicate(s) skipped, "
        f"{len(report.invalid)} invalid skipped" + ("" if dry_run else f"; {config_path}"),
        highlight=False, markup=False, soft_wrap=True,
    )


def main() -> None:
    """The ``feeds`` program: the command, then a quick exit."""
    code: int | str | None = 0
    try:
        cli(prog_name="feeds")
    except SystemExit as e:
        code = e.code
    # The command has closed its store and files. What is left is tearing down every module
    # and object of a process that loaded SQLAlchemy, pydantic and lxml (~0.1 s, a tenth of
    # a cycle with nothing new), so the process ends here, its output flushed.
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
