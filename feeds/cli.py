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

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from feeds import __version__
from feeds.config import DEFAULT_CONFIG, Config, load_config
from feeds.errors import ConfigError, StoreError
from feeds.fetch import Fetcher
from feeds.poll import PollResult, run_cycle
from feeds.publish import publish_all
from feeds.store import Store

EXIT_SOURCES_FAILED = 1
EXIT_CONFIG = 2
EXIT_STORE = 3

console = Console(stderr=False)
err_console = Console(stderr=True)


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        err_console.print(f"[bold red]config invalid[/] ({len(e.problems)} problem(s)):",
                          highlight=False)
        for problem in e.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)


def _open_store(config: Config) -> Store:
    try:
        return Store.open(config.store_path)
    except StoreError as e:
        err_console.print(f"[bold red]store error:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)


def make_fetcher(config: Config) -> Fetcher:
    return Fetcher(
        base_dir=Path(config.base_dir),
        timeout=config.defaults.timeout.total_seconds(),
        max_bytes=config.defaults.max_bytes,
        max_redirects=config.defaults.max_redirects,
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
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    ctx.obj = config_path


def _summary(results: list[PollResult], changed: list[Path]) -> None:
    table = Table(title="feeds: one cycle", title_justify="left")
    for column, justify in (("source", "left"), ("status", "left"), ("new", "right"),
                            ("updated", "right"), ("unchanged", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in results:
        style = "red" if r.failed else None
        note = r.error or (f"moved to {r.moved_to}; update the config" if r.moved_to else "")
        table.add_row(r.source_id, r.status, str(r.new), str(r.updated), str(r.unchanged),
                      note, style=style)
    console.print(table)
    failed = sum(1 for r in results if r.failed)
    console.print(
        f"{len(results)} sources, {failed} failed, "
        f"{sum(r.new for r in results)} new, {sum(r.updated for r in results)} updated; "
        f"{len(changed)} output file(s) written",
        highlight=False,
    )


@cli.command()
@click.option("--once", is_flag=True, help="Run one cycle (fetch, store, publish) and exit.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Sources polled at the same time (default: defaults.workers, 4).")
@click.pass_obj
def run(config_path: Path, once: bool, workers: int | None) -> None:
    """Poll the sources and write the feeds (as a service, or --once)."""
    config = _load(config_path)
    if not once:
        from feeds.scheduler import run_service

        sys.exit(run_service(config_path, config, workers=workers))
    store = _open_store(config)
    fetcher = make_fetcher(config)
    now = datetime.now(UTC)
    enabled = [s for s in config.sources if s.enabled]
    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True,
            disable=not err_console.is_terminal,
        ) as progress:
            task = progress.add_task("polling", total=len(enabled))
            results = run_cycle(
                config, store, fetcher, now, workers=workers or config.defaults.workers,
                on_result=lambda r: progress.advance(task),
            )
        changed = publish_all(config, store, now)
    except OSError as e:
        err_console.print(f"[bold red]cannot write output:[/] {e}", highlight=False)
        sys.exit(EXIT_STORE)
    finally:
        fetcher.close()
        store.close()
    _summary(results, changed)
    if any(r.failed for r in results):
        sys.exit(EXIT_SOURCES_FAILED)


@cli.command()
@click.pass_obj
def check(config_path: Path) -> None:
    """Validate the configuration and list every problem."""
    config = _load(config_path)
    console.print(
        f"{config_path}: ok, {len(config.sources)} sources, {len(config.topics)} topics",
        highlight=False,
    )


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@cli.command()
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
            note = f"gone (HTTP 410) since {_when(state.last_error_at)}; remove it from the config"
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


def main() -> None:
    cli(prog_name="feeds")
