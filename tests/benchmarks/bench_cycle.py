"""A polling cycle of `feeds` side by side with the `reader` library, in the same run.

One command (from the project root, in the project's virtualenv)::

    python tests/benchmarks/bench_cycle.py                        # 1,000 x 50 entries, 4 workers
    python tests/benchmarks/bench_cycle.py --scale 100,1000,5000  # plus the scaling table

What it does: it generates ``--feeds`` feeds of ``--entries`` entries (RSS 2.0 and Atom, ~1.2 KB
HTML bodies, one feed in three in Chinese; ~60 MB for the default) into a temporary directory,
serves them from a separate process on 127.0.0.1 with ETag/Last-Modified/304, and runs, each in
its own subprocess:

- ``feeds cold``: the real CLI, ``feeds -c bench.yaml run --once --workers N``, on an empty store:
  fetch, parse, store, and publish every source feed plus 20 topic feeds and the OPML list;
- ``feeds warm``: the same command again, nothing changed on the server;
- ``reader cold``: ``Reader.update_feeds(workers=N)`` on a fresh database (feeds added beforehand,
  untimed);
- ``reader warm``: ``Reader.update_feeds(scheduled=False, workers=N)`` again.

These four run ``--repeat`` times (3 by default), interleaved, each time on a fresh store;
the table shows the run of median wall time of each, and the ratios compare those. One run of
a cycle varies by about 10% on a shared machine, for both tools.

The ``feeds`` package is byte-compiled first, as an installed package is. For each run it
prints the entries stored, wall time, entries per second, CPU time (user + sys
of the whole process tree, from ``wait4``) and peak RSS (summed over every process of the tree,
sampled with psutil every 50 ms), then the ratios feeds / reader. It also reports extraction
throughput over ``../shared/pages`` (``bench_extract.py`` when present) and the topic benchmark
(``bench_topics.py``) when present.

`reader` (PyPI ``reader`` and ``sgmllib3k``) runs under ``--reader-python`` or
``$FEEDS_BENCH_READER_PYTHON`` (default: this interpreter), so it can live in its own virtualenv.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Run:
    """One measured subprocess."""

    name: str
    sources: int
    entries: int
    wall: float
    cpu: float
    peak_rss: int
    returncode: int
    # Each process's own peak RSS, the root first: where the summed peak comes from.
    process_peaks: tuple[int, ...] = ()

    @property
    def rate(self) -> float:
        return self.entries / self.wall if self.wall else 0.0


def measure(name: str, sources: int, cmd: list[str], count: callable, log: Path) -> Run:  # type: ignore[valid-type]
    """Run ``cmd``; wall, CPU of the reaped tree (wait4) and the summed RSS of the live tree."""
    import psutil

    with log.open("ab") as err:
        err.write(f"\n=== {name}: {' '.join(cmd)}\n".encode())
        err.flush()
        started = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
        root = psutil.Process(process.pid)
        peak = 0
        peaks: dict[int, int] = {}
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            total = 0
            try:
                for member in (root, *root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        rss = member.memory_info().rss
                        total += rss
                        peaks[member.pid] = max(peaks.get(member.pid, 0), rss)
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.05)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    peak = max(peak, usage.ru_maxrss * 1024)
    run = Run(name, sources, count(), wall, usage.ru_utime + usage.ru_stime, peak,
              process.returncode, tuple(peaks.values()))
    if run.returncode not in (0, 1):  # 1: some sources failed, still a finished cycle
        print(f"warning: {name} exited with {run.returncode}; see {log}", file=sys.stderr)
    return run


def sql_count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def feeds_config(directory: Path, urls: list[str], topics: int = 20) -> Path:
    """A config with every URL as a source and ``topics`` topics (one per generated subject)."""
    from feedgen_data import SUBJECTS

    lines = [
        # Every generated feed is on one host (127.0.0.1); the politeness defaults (one request
        # per host, 1 s apart) would serialise the cycle. reader has no such limit; on real
        # sources the 1,000 feeds are on as many hosts.
        "defaults: {allow_private: true, interval: 30m, per_host: 16, host_delay: 0}",
        f"output: {{dir: {json.dumps(str(directory / 'output'))}, "
        'base_url: "https://feeds.example.org/"}',
        f"store: {{path: {json.dumps(str(directory / 'feeds.db'))}}}",
        "sources:",
    ]
    lines += [f"  - {{id: s{n:05d}, url: {json.dumps(url)}}}" for n, url in enumerate(urls)]
    lines.append("topics:" if topics else "topics: []")
    for n, (english, hanzi) in enumerate(SUBJECTS[:topics]):
        lines.append(f"  - {{id: t{n:02d}, title: {json.dumps(english)}, "
                     f"any: [{json.dumps(english)}, {json.dumps(hanzi)}]}}")
    path = directory / "bench.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reader_child(db: str, mode: str, urls_file: str, workers: int) -> None:
    """Inside the reader subprocess: add the feeds (setup), or one update cycle."""
    from reader import make_reader

    reader = make_reader(db)
    if mode == "setup":
        for url in Path(urls_file).read_text().split():
            reader.add_feed(url)
    elif mode == "cold":
        reader.update_feeds(workers=workers)
    else:
        reader.update_feeds(scheduled=False, workers=workers)
    reader.close()


def extract_child() -> None:
    """Inside a subprocess: ms per page of feeds.extract.article.extract_article."""
    from zoneinfo import ZoneInfo

    from feeds.encoding import decode_html
    from feeds.extract.article import extract_article

    pages = sorted((SHARED / "pages" / "zh-news").glob("*/*.html"))
    decoded = [decode_html(p.read_bytes())[0] for p in pages]
    zone = ZoneInfo("Asia/Shanghai")
    extract_article(decoded[0], "https://example.org/warmup.html", timezone=zone)
    started = time.perf_counter()
    for n, html in enumerate(decoded):
        extract_article(html, f"https://example.org/{n}.html", timezone=zone)
    elapsed = time.perf_counter() - started
    print(f"extraction: {len(pages)} pages of ../shared/pages/zh-news, "
          f"{elapsed / len(pages) * 1000:.1f} ms per page (feeds.extract.article.extract_article)")


def run_scale(n: int, args: argparse.Namespace, port: int, work: Path, log: Path,
              repeat: int = 1) -> list[Run]:
    """Every run at ``n`` sources, ``repeat`` times, interleaved (feeds cold and warm, then
    reader cold and warm, each time on a fresh store), so that a slow spell of the machine
    falls on both tools."""
    from feedgen_data import feed_name

    urls = [f"http://127.0.0.1:{port}/{feed_name(i)}" for i in range(n)]
    runs: list[Run] = []
    for rep in range(repeat):
        here = work / f"n{n}" / f"run{rep + 1}"
        if not args.skip_feeds:
            fdir = here / "feeds"
            fdir.mkdir(parents=True)
            config = feeds_config(fdir, urls, args.topics)
            cmd = [args.python, "-m", "feeds", "-c", str(config), "run", "--once",
                   "--workers", str(args.workers)]
            if args.profile:
                cmd = [args.python, "-m", "pyinstrument", "-o",
                       str(work / f"profile-{n}-{rep + 1}-%s.txt"), "-m", "feeds", *cmd[3:]]
            for phase in ("cold", "warm"):
                run_cmd = [c.replace("%s", phase) for c in cmd]
                runs.append(measure(f"feeds {phase}", n, run_cmd,
                                    lambda d=fdir: sql_count(d / "feeds.db", "articles"), log))
        if not args.skip_reader:
            rdir = here / "reader"
            rdir.mkdir(parents=True)
            db, urls_file = rdir / "reader.sqlite", rdir / "urls.txt"
            urls_file.write_text("\n".join(urls))
            base = [args.reader_python, str(Path(__file__).resolve()), "--reader-child",
                    str(db)]
            tail = [str(urls_file), str(args.workers)]
            subprocess.run([*base, "setup", *tail], check=True, cwd=ROOT)
            for phase in ("cold", "warm"):
                runs.append(measure(f"reader {phase}", n, [*base, phase, *tail],
                                    lambda d=db: sql_count(d, "entries"), log))
    return runs


def medians(runs: list[Run]) -> list[Run]:
    """Per run name, the run of median wall time (the lower middle one of an even count)."""
    names = list(dict.fromkeys(r.name for r in runs))
    out = []
    for name in names:
        same = sorted((r for r in runs if r.name == name), key=lambda r: r.wall)
        out.append(same[(len(same) - 1) // 2])
    return out


def spread(runs: list[Run]) -> str:
    """Every wall time per run name, in run order."""
    names = list(dict.fromkeys(r.name for r in runs))
    return "\n".join(f"- {name}: " + ", ".join(f"{r.wall:.2f}" for r in runs if r.name == name)
                     + " s" for name in names)


def process_peaks(runs: list[Run]) -> str:
    """Per run, each process's own peak RSS (the cycle's process first)."""
    return "\n".join(f"- {r.name}: " + " + ".join(f"{p / 2**20:.0f}" for p in r.process_peaks)
                     + " MB" for r in runs if r.process_peaks)


def table(runs: list[Run]) -> str:
    rows = ["| run | sources | entries | wall (s) | entries/s | CPU (s) | peak RSS (MB) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        rows.append(f"| {r.name} | {r.sources:,} | {r.entries:,} | {r.wall:.2f} | "
                    f"{r.rate:,.0f} | {r.cpu:.2f} | {r.peak_rss / 2**20:.0f} |")
    return "\n".join(rows)


def ratios(runs: list[Run]) -> str:
    by = {r.name: r for r in runs}
    need = ("feeds cold", "feeds warm", "reader cold", "reader warm")
    if not all(k in by for k in need):
        return ""
    fc, fw, rc, rw = (by[k] for k in need)
    lines = [
        f"- cold entries/s, feeds / reader: {fc.rate / rc.rate:.2f}x (target >= 5x)",
        f"- cold wall, reader / feeds: {rc.wall / fc.wall:.2f}x; "
        f"cold CPU, reader / feeds: {rc.cpu / fc.cpu:.2f}x",
        f"- warm wall, reader / feeds: {rw.wall / fw.wall:.2f}x faster (target >= 2x); "
        f"warm CPU, reader / feeds: {rw.cpu / fw.cpu:.2f}x",
        f"- peak RSS, feeds / reader: cold {fc.peak_rss / rc.peak_rss:.2f}x, "
        f"warm {fw.peak_rss / rw.peak_rss:.2f}x (target <= 2x)",
    ]
    return "\n".join(lines)


def extras(args: argparse.Namespace, log: Path) -> list[str]:
    out: list[str] = []
    bench_extract = HERE / "bench_extract.py"
    if bench_extract.exists():
        cmd = [args.python, str(bench_extract)]
    elif (SHARED / "pages" / "zh-news").is_dir():
        cmd = [args.python, str(Path(__file__).resolve()), "--extract-child"]
    else:
        cmd = []
        out.append("extraction: skipped (../shared/pages is absent)")
    bench_topics = HERE / "bench_topics.py"
    commands = [cmd] if cmd else []
    if bench_topics.exists():
        commands.append([args.python, str(bench_topics), *args.topics_bench.split()])
    else:
        out.append("topics: skipped (tests/benchmarks/bench_topics.py is absent)")
    for command in commands:
        name = Path(command[1]).name
        with log.open("ab") as err:
            try:
                done = subprocess.run(command, stdout=subprocess.PIPE, stderr=err, cwd=ROOT,
                                      text=True, timeout=args.extras_timeout)
            except subprocess.TimeoutExpired:
                out.append(f"{name}: stopped after {args.extras_timeout} s")
                continue
        out.append(done.stdout.strip() if done.returncode == 0 else
                   f"{name}: failed with exit code {done.returncode}; see {log}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000, help="sources in the main run")
    parser.add_argument("--entries", type=int, default=50, help="entries per feed")
    parser.add_argument("--workers", type=int, default=4, help="worker count for both tools")
    parser.add_argument("--topics", type=int, default=20, choices=range(21), metavar="0-20",
                        help="topic feeds feeds publishes (0 shows the cost of topics)")
    parser.add_argument("--scale", default="", help="extra source counts, e.g. 100,1000,5000")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each tool at --feeds sources (interleaved; the table "
                             "shows the median; other scales run once)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with feeds")
    parser.add_argument("--reader-python",
                        default=os.environ.get("FEEDS_BENCH_READER_PYTHON", sys.executable),
                        help="interpreter with reader and sgmllib3k")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument("--skip-feeds", action="store_true")
    parser.add_argument("--skip-extras", action="store_true", help="no extraction/topics")
    parser.add_argument("--profile", action="store_true",
                        help="run feeds under pyinstrument; profiles are kept in the work dir")
    parser.add_argument("--topics-bench", default="--articles 20000 --topics 20",
                        help="arguments for bench_topics.py (its own default is 100,000 x 200)")
    parser.add_argument("--extras-timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the runs as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--reader-child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--extract-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reader_child:
        db, mode, urls_file, workers = args.reader_child
        reader_child(db, mode, urls_file, int(workers))
        return
    if args.extract_child:
        extract_child()
        return
    import feedgen_data

    # Byte-compiled, as pip leaves an installed package (reader's, in site-packages): an
    # editable checkout run with PYTHONDONTWRITEBYTECODE would compile feeds' modules again
    # in every process of every run.
    subprocess.run([args.python, "-m", "compileall", "-q", str(ROOT / "feeds")], check=True,
                   stdout=subprocess.DEVNULL)
    scales = sorted({args.feeds, *(int(s) for s in args.scale.split(",") if s.strip())})
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    log = work / "bench.log"
    server = None
    try:
        data = work / "data"
        started = time.perf_counter()
        size = feedgen_data.generate(data, max(scales), args.entries)
        print(f"generated {max(scales):,} feeds x {args.entries} entries, "
              f"{size / 2**20:.0f} MB, in {time.perf_counter() - started:.1f} s ({work})",
              flush=True)
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, str(HERE / "fixture_server.py"), str(data),
                                   str(port_file)])
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        port = int(port_file.read_text())
        all_runs: dict[int, list[Run]] = {}
        every_run: dict[int, list[Run]] = {}
        for n in scales:
            repeat = args.repeat if n == args.feeds else 1
            every_run[n] = run_scale(n, args, port, work, log, repeat)
            all_runs[n] = medians(every_run[n])
            print(f"\n{n:,} sources x {args.entries} entries, {args.workers} workers:", flush=True)
            print(table(every_run[n]), flush=True)
        main_runs = all_runs[args.feeds]
        repeated = f", median of {args.repeat} interleaved runs" if args.repeat > 1 else ""
        print(f"\n## {args.feeds:,} sources x {args.entries} entries, {args.workers} workers "
              f"({os.cpu_count()} cores, Python {platform.python_version()}{repeated})\n")
        print(table(main_runs))
        print()
        print(ratios(main_runs))
        if args.repeat > 1:
            print(f"\nwall times of the {args.repeat} runs:\n{spread(every_run[args.feeds])}")
        print("\npeak RSS of each process (not at the same moment, so more than the summed "
              f"peak):\n{process_peaks(main_runs)}")
        if len(scales) > 1:
            print("\n## Scaling (every run; wall per 1,000 sources)\n")
            every = [r for n in scales for r in all_runs[n]]
            print(table(every))
            print()
            for name in sorted({r.name for r in every}):
                per = [f"{r.sources:,}: {r.wall / r.sources * 1000:.2f} s"
                       for r in every if r.name == name]
                print(f"- {name}: " + ", ".join(per))
            for n in scales:
                text = ratios(all_runs[n])
                if text:
                    print(f"\nratios at {n:,} sources:\n{text}")
        if not args.skip_extras:
            print()
            for line in extras(args, log):
                print(line)
        if args.json:
            args.json.write_text(json.dumps(
                [asdict(r) | {"rate": r.rate} for n in scales for r in every_run[n]], indent=1))
        if args.profile:
            print(f"\nprofiles: {work}/profile-*.txt")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if args.keep or args.profile:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
