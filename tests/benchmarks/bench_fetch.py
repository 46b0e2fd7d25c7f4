"""Per-request cost of a warm conditional GET: Fetcher vs plain requests vs urllib3.

One command (from the project root, in the project's virtualenv)::

    python tests/benchmarks/bench_fetch.py                # 1,000 feeds, 4 threads, best of 3
    python tests/benchmarks/bench_fetch.py --data DIR     # serve an existing feed directory

It serves ``--feeds`` small generated feeds (or ``--data``) from ``fixture_server.py`` in a
separate process on 127.0.0.1, fetches each once to learn its ETag and Last-Modified, then for
each client sends every feed one conditional GET (all answered 304) from ``--threads`` threads
and prints CPU (this process only, so the server is not counted) and wall time per request:

- ``Fetcher.get``: the project's fetcher, with every guard it applies to a poll;
- ``requests.Session.get``: a plain session, headers passed per call;
- ``urllib3 PoolManager``: the connection pool requests itself sits on, the floor.

It also prints the time and resident memory added by ``import feeds.fetch`` in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from feedgen_data import feed_name, generate  # noqa: E402

IMPORT_PROBE = """
import sys, time
def rss():  # current resident set in KB (ru_maxrss would carry the parent's peak over exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
base = rss()
t = time.perf_counter()
import feeds.fetch
took = time.perf_counter() - t
after = rss()
heavy = sorted(m for m in ("protego", "email.utils", "hashlib", "urllib.request", "http.cookiejar",
                           "requests", "urllib3", "idna", "charset_normalizer") if m in sys.modules)
print(f"{took * 1000:.1f} {(after - base) / 1024:.1f} {after / 1024:.1f} {','.join(heavy)}")
"""


def run(label: str, call: Callable[[str], int], urls: list[str], threads: int,
        rounds: int) -> None:
    best_cpu = best_wall = float("inf")
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            codes = set(pool.map(call, urls))
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        if codes != {304}:
            raise SystemExit(f"{label}: expected only 304, got {sorted(codes)}")
        best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
    n = len(urls)
    print(f"{label:<26} {best_cpu / n * 1000:6.3f} ms CPU  {best_wall / n * 1000:6.3f} ms wall"
          " per request")


def import_cost() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    print(f"import feeds.fetch: {out[0]} ms, +{out[1]} MB RSS ({out[2]} MB in all); "
          f"loaded: {out[3] if len(out) > 3 else '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, help="serve these feeds instead of generating")
    args = parser.parse_args()

    import requests
    import requests.adapters
    import urllib3

    from feeds.fetch import Fetcher

    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        work = Path(tmp)
        data = args.data
        if data is None:
            data = work / "data"
            generate(data, args.feeds, 2)
            names = [feed_name(i) for i in range(args.feeds)]
        else:
            names = sorted(p.name for p in data.iterdir())[: args.feeds]
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, str(HERE / "fixture_server.py"), str(data),
                                   str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.02)
            port = int(port_file.read_text())
            urls = [f"http://127.0.0.1:{port}/{name}" for name in names]
            validators: dict[str, tuple[str, str]] = {}
            with requests.Session() as session:
                for url in urls:
                    r = session.get(url)
                    validators[url] = (r.headers["ETag"], r.headers["Last-Modified"])

            fetcher = Fetcher(timeout=10.0)

            def through_fetcher(url: str) -> int:
                etag, stamp = validators[url]
                return fetcher.get(url, source_id="bench", etag=etag, last_modified=stamp,
                                   allow_private=True).status

            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=64, pool_maxsize=64)
            session.mount("http://", adapter)

            def through_requests(url: str) -> int:
                etag, stamp = validators[url]
                return session.get(url, headers={"If-None-Match": etag,
                                                 "If-Modified-Since": stamp},
                                   timeout=10.0).status_code

            manager = urllib3.PoolManager(maxsize=64)

            def through_urllib3(url: str) -> int:
                etag, stamp = validators[url]
                return manager.request("GET", url, headers={"If-None-Match": etag,
                                                            "If-Modified-Since": stamp}).status

            print(f"{len(urls)} conditional GETs (all 304) at {args.threads} threads, "
                  f"best of {args.rounds}")
            run("Fetcher.get", through_fetcher, urls, args.threads, args.rounds)
            run("requests.Session.get", through_requests, urls, args.threads, args.rounds)
            run("urllib3 PoolManager", through_urllib3, urls, args.threads, args.rounds)
            fetcher.close()
            session.close()
            manager.clear()
        finally:
            server.terminate()
            server.wait()
    import_cost()


if __name__ == "__main__":
    main()
