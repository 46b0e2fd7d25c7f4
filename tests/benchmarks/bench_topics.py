"""Benchmark: topic matching and dedup over 100,000 stored articles and 200 topics.

    python tests/benchmarks/bench_topics.py [--articles 100000] [--topics 200] [--keep DIR]
                                            [--processes N] [--trace]

Builds a SQLite store of synthetic Chinese and English news (a third in Traditional script,
one in twenty a near copy of another) in a child process, then times each step and prints the
process's peak RSS after it (the articles were generated in the child, so the parent's peak is
the index's own). ``--trace`` adds tracemalloc's peak of each step (and slows it down).

0. a cycle with no topic and no filter: what the index costs then (nothing),
1. first indexing: folding every article (once per article version; no sketches),
2. full re-evaluation: 200 new topic rules over every stored article (one pass, bitsets), then
   every topic feed's and the all feed's entries (newest matches, sketches made on demand,
   dedup), as when the whole topic configuration changed; then again with other new rules,
3. incremental update: 1,000 new articles folded and evaluated, and every feed again,
4. a cycle with nothing new, in the same process (cached) and as a new process would run it.

With ``--keep DIR`` an existing store in DIR is reused (its index dropped first).
``--processes N`` gives the index N worker processes (folding, the match pass), as a cycle
has (default: feeds.worker.PARSE_PROCESSES; 0 for none). Peak memory is this process's plus
each worker's. A summary at the end gives the totals the issue asks for.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from feeds import poll, topics
from feeds.config import Config, parse_config
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.store import Store, articles_table
from feeds.topics import Index, refresh_index
from feeds.worker import PARSE_PROCESSES

T = TypeVar("T")
NOW = datetime(2024, 6, 7, tzinfo=UTC)

CITIES = ["青岛", "济南", "烟台", "潍坊", "上海", "北京", "广州", "深圳", "杭州", "成都", "武汉",
          "厦门", "福州", "南京", "西安", "重庆", "天津", "苏州", "长沙", "郑州", "台北", "高雄",
          "台中", "香港", "澳门", "大连", "沈阳", "哈尔滨", "昆明", "贵阳"]
SUBJECTS = ["地铁", "啤酒节", "港口", "高铁", "机场", "大学", "医院", "博物馆", "茶叶", "旅游",
            "新能源汽车", "充电桩", "无人机", "芯片", "航运", "海洋", "农业", "教育", "文旅",
            "体育"]
VERBS = ["召开", "发布", "启动", "完成", "举办", "推进", "开通", "签约", "通过", "迎来"]
SENTENCES = [
    "{c}市{s}项目日前顺利通过验收，标志着该工程具备了投入使用的基本条件。",
    "据介绍，{c}今年以来累计完成投资{n}亿元，同比增长{p}%。",
    "{c}市有关负责人表示，下一步将继续加大投入，确保各项措施落地见效。",
    "记者从{c}市{s}局获悉，截至{m}月底，全市{s}相关企业已超过{n}家。",
    "活动现场吸引了大批市民游客驻足观看，不少人专程从外地赶来。",
    "会议强调，要坚持人民至上、生命至上，全面排查整治安全隐患。",
    "业内人士认为，随着技术成熟和监管体系完善，{s}产业将迎来新的发展机遇。",
    "为方便市民出行，{c}还上线了统一的服务平台，可实时查询相关信息。",
    "两岸同胞在{c}共同参加{s}交流活动，进一步增进了彼此的了解和情谊。",
    "气象部门提醒，近期{c}早晚温差较大，市民出行请注意防范。",
]
ENGLISH = [
    "The {s} project in {c} passed its final inspection on {m} June.",
    "Officials said investment reached {n} million yuan, up {p} percent from a year earlier.",
    "Python {m}.{n} is now available with a new interpreter and a faster startup.",
    "Taiwanese tea growers met buyers from the mainland at a fair in {c}.",
    "Shipping through the port of {c} grew {p} percent in the first half of the year.",
]
EN_CITIES = ["Qingdao", "Shanghai", "Beijing", "Taiwan", "Xiamen", "Shenzhen", "Hong Kong"]
EN_SUBJECTS = ["metro", "port", "release", "tea", "drone", "chip", "festival"]


def load_sentences() -> list[str]:
    """Sentences of the hand-written stories of the dedup set, as a pool of realistic text."""
    import re

    import yaml

    path = Path(__file__).resolve().parents[1] / "data" / "dedup" / "pairs.yaml"
    stories = yaml.safe_load(path.read_text(encoding="utf-8"))["stories"]
    pool = {p for s in stories for p in re.split(r"(?<=[。！？])", s["text"]) if len(p) > 12}
    return sorted(pool)


POOL = load_sentences()


def make_article(rng: random.Random, n: int) -> Article:
    english = rng.random() < 0.15
    if english:
        c, s = rng.choice(EN_CITIES), rng.choice(EN_SUBJECTS)
        body = " ".join(rng.choice(ENGLISH).format(c=c, s=s, n=rng.randint(2, 900),
                                                   p=rng.randint(1, 40), m=rng.randint(1, 12))
                        for _ in range(rng.randint(3, 7)))
        title = f"{c} {s} news {n}"
    else:
        c, s = rng.choice(CITIES), rng.choice(SUBJECTS)
        def sentence() -> str:
            if rng.random() < 0.7:
                return rng.choice(POOL)
            return rng.choice(SENTENCES).format(
                c=rng.choice([c, c, rng.choice(CITIES)]), s=s, n=rng.randint(2, 900),
                p=rng.randint(1, 40), m=rng.randint(1, 12))

        body = "".join(sentence() for _ in range(rng.randint(4, 9)))
        title = f"{c}{rng.choice(VERBS)}{s}工作 第{n}期"
        if rng.random() < 0.33:
            title, body = convert(title, "s2t"), convert(body, "s2t")
    return Article(
        key=f"k{n}", url=f"https://news{n % 97}.example.cn/a/{n}.html", canonical_url=None,
        title=title, text=body, content_html=f"<p>{body}</p>", summary=body[:60],
        language="en" if english else "zh",
        published=NOW - timedelta(minutes=n),
    )


def make_topics(rng: random.Random, count: int, sources: list[str]) -> str:
    lines = []
    for t in range(count):
        kind = t % 10
        words = rng.sample(CITIES, 2) + rng.sample(SUBJECTS, 1)
        rule = f"any: [{', '.join(words)}]"
        if kind == 1:
            rule = f"all: [{rng.choice(CITIES)}, {rng.choice(SUBJECTS)}]"
        elif kind == 2:
            rule = f"any: [{rng.choice(EN_CITIES)}, {rng.choice(EN_SUBJECTS)}]"
        elif kind == 3:
            rule += f", none: [{rng.choice(SUBJECTS)}]"
        elif kind == 4:
            rule = f"regex: ['{rng.choice(CITIES)}.{{0,6}}{rng.choice(SUBJECTS)}']"
        elif kind == 5:
            rule += f", sources: [{rng.choice(sources)}, {rng.choice(sources)}]"
        elif kind == 6:
            rule += ", fields: [title]"
        elif kind == 7:
            rule = f"any: ['{rng.choice(EN_CITIES)}*'], language: en"
        lines.append(f"  - {{id: t{t}, {rule}}}")
    return "\n".join(lines)


WORKERS: poll.ParsePool | None = None
TIMES: dict[str, float] = {}


def peak_parts() -> tuple[float, list[float]]:
    """Peak RSS in MiB of this process, and of each worker process (VmHWM)."""
    workers = []
    for worker in WORKERS._started if WORKERS is not None else []:
        try:
            status = Path(f"/proc/{worker.process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                workers.append(int(line.split()[1]) / 1024)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, workers


def peak_rss() -> float:
    """Peak RSS in MiB of this process plus that of each worker process."""
    own, workers = peak_parts()
    return own + sum(workers)


def measure(label: str, func: Callable[[], T], trace: bool = False) -> T:
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    extra = ""
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        extra = f"   traced peak {peak / 2**20:6.1f} MiB"
    TIMES[label] = elapsed
    rss = peak_rss()
    print(f"{label:<58} {elapsed:7.2f} s   peak RSS {rss:5.0f} MiB{extra}", flush=True)
    return result


def build_store(directory: Path, articles: int, new: int, sources: list[str]) -> None:
    """Generate and store the articles (run in a child process, so the parent's memory peak
    is the index's). The ``new`` newest are left out, for the incremental step."""
    rng = random.Random(7)
    store = Store.open(directory / "db.sqlite")
    started = time.perf_counter()
    generated = [make_article(rng, n) for n in range(articles + new)]
    # One story in twenty is a near copy of another (another source, the other script).
    for n in range(0, articles, 20):
        a = generated[n + 1]
        copy = generated[n]
        generated[n] = Article(key=copy.key, url=copy.url, canonical_url=None,
                               title=convert(a.title, "s2t"),
                               text="中國臺灣網移動版 字號 " + convert(a.text or "", "s2t"),
                               published=a.published, language=a.language)
    old = generated[new:]
    for i, source in enumerate(sources):
        store.upsert(source, old[i :: len(sources)], NOW)
    store.close()
    print(f"store of {len(old)} articles from {len(sources)} sources built in "
          f"{time.perf_counter() - started:.1f} s", flush=True)


def new_articles(articles: int, new: int) -> list[Article]:
    rng = random.Random(7)
    return [make_article(rng, n) for n in range(new)]


def make_config(directory: Path, sources: list[str], topics_yaml: str, all_feed: bool = True
                ) -> Config:
    source_yaml = "\n".join(f"  - {{id: {s}, url: 'https://{s}.example.cn/feed'}}"
                            for s in sources)
    return parse_config(
        "store: {path: db.sqlite}\n"
        f"output: {{max_entries: 50, all_feed: {str(all_feed).lower()}}}\n"
        f"sources:\n{source_yaml}\n" + (f"topics:\n{topics_yaml}\n" if topics_yaml else ""),
        "bench.yaml", directory,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="build the store in DIR and keep it")
    parser.add_argument("--trace", action="store_true", help="also measure with tracemalloc")
    parser.add_argument("--processes", type=int, default=PARSE_PROCESSES,
                        help="worker processes of the index (default: as a cycle has)")
    args = parser.parse_args(argv)
    global WORKERS
    WORKERS = poll.ParsePool(args.processes) if args.processes > 0 else None
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench_topics."))
    directory.mkdir(parents=True, exist_ok=True)
    sources = [f"src{i}" for i in range(50)]
    new = new_articles(args.articles, args.new)
    if (directory / "db.sqlite").exists():
        store = Store.open(directory / "db.sqlite")
        with store.engine.begin() as conn:
            for name in ("topic_text", "topic_state", "topic_meta", "topic_feed",
                         topics.article_sketch.name):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
            conn.execute(articles_table.delete().where(
                articles_table.c.key.in_([a.key for a in new])))
        store.close()
        print(f"reusing the store in {directory}")
    else:
        child = multiprocessing.get_context("fork").Process(
            target=build_store, args=(directory, args.articles, args.new, sources))
        child.start()
        child.join()
        if child.exitcode:
            return 1
    print(f"{args.topics} topics, {args.processes} worker processes, store in {directory}",
          flush=True)
    store = Store.open(directory / "db.sqlite")
    trace = args.trace
    rng = random.Random(42)

    bare = Index(make_config(directory, sources, "", all_feed=False), store, WORKERS)
    measure("0. a cycle with no topic and no filter (update)", bare.update, trace)

    config = make_config(directory, sources, make_topics(rng, args.topics, sources))
    index = Index(config, store, WORKERS)
    fields = index.ruleset.fields
    fold_many = WORKERS.fold if WORKERS is not None else None
    measure(f"1. first indexing: fold {args.articles} articles",
            lambda: refresh_index(store, fields, fold_many, args.processes), trace)

    def feeds(ix: Index, cfg: Config) -> int:
        total = sum(len(ix.topic_entries(t, NOW)) for t in cfg.topics)
        return total + len(ix.all_entries())

    measure("2. full re-evaluation: match (one pass, bitsets)", index.update, trace)
    measure("   then every feed (newest matches, sketches, dedup)",
            lambda: feeds(index, config), trace)
    other = make_config(directory, sources, make_topics(random.Random(43), args.topics, sources))
    index2 = Index(other, store, WORKERS)
    measure("2b. other new rules: match", index2.update, trace)
    measure("   then every feed (sketches partly kept)", lambda: feeds(index2, other), trace)

    def incremental() -> dict[str, int]:
        for i, source in enumerate(sources):
            store.upsert(source, new[i :: len(sources)], NOW + timedelta(hours=1))
        counts = index.update()
        assert max(counts.values()) <= len(new), counts
        return counts

    measure(f"3. incremental: {len(new)} new articles: store them", lambda: None)
    measure(f"   incremental: fold + match {len(new)} new articles", incremental, trace)
    before = index.compared
    measure("   then every feed", lambda: feeds(index, config), trace)
    print(f"   ({index.merges} feeds resumed from kept stories, "
          f"{index.compared - before} candidates compared)", flush=True)

    def again() -> int:
        index.update()
        return feeds(index, config)

    measure("4. nothing new, same process: update + feeds", again, trace)

    def fresh() -> int:
        topics._ENTRIES.clear()
        ix = Index(config, store, WORKERS)
        ix.update()
        return feeds(ix, config)

    measure("   nothing new, a new process: update + feeds", fresh, trace)
    store.close()
    full = TIMES["2. full re-evaluation: match (one pass, bitsets)"] + TIMES[
        "   then every feed (newest matches, sketches, dedup)"]
    inc = TIMES[f"   incremental: fold + match {len(new)} new articles"] + TIMES[
        "   then every feed"]
    print(f"\nSUMMARY ({args.processes} worker processes)\n"
          f"  full re-evaluation (rules changed: match + every feed) {full:6.2f} s\n"
          f"  incremental ({len(new)} new: fold + match + every feed)   {inc:6.2f} s\n"
          f"  nothing new: same process {TIMES['4. nothing new, same process: update + feeds']:.2f}"
          f" s, new process {TIMES['   nothing new, a new process: update + feeds']:.2f} s\n"
          f"  peak memory (this process + workers) {peak_rss():6.0f} MiB  (this process "
          f"{peak_parts()[0]:.0f}, workers {', '.join(f'{w:.0f}' for w in peak_parts()[1])})",
          flush=True)
    if WORKERS is not None:
        WORKERS.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
