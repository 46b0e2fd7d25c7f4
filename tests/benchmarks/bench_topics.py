"""Benchmark: topic matching and dedup over 100,000 stored articles and 200 topics.

    python tests/benchmarks/bench_topics.py [--articles 100000] [--topics 200] [--keep DIR]

Builds a SQLite store of synthetic Chinese and English news (a third in Traditional script,
one in twenty a near copy of another), then times, with the peak memory (tracemalloc) of each:

1. indexing: folding and sketching every article (once per article, at the first cycle),
2. full re-evaluation: 200 new topic rules over every stored article, then every topic feed's
   entries (selection and dedup), as when the whole topic configuration changed,
3. incremental update: 1,000 new articles indexed and evaluated, and every topic feed again.
"""

from __future__ import annotations

import argparse
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

from feeds.config import parse_config
from feeds.extract.chinese import convert
from feeds.model import Article
from feeds.store import Store
from feeds.topics import Index

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


def measure(label: str, func: Callable[[], T]) -> T:
    tracemalloc.start()
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<44} {elapsed:8.2f} s   peak {peak / 2**20:7.1f} MiB (max RSS {rss:.0f} MiB)")
    return result


def timed(label: str, func: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = func()
    print(f"{label:<44} {time.perf_counter() - started:8.2f} s   (untraced)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="build the store in DIR and keep it")
    args = parser.parse_args(argv)
    rng = random.Random(42)
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench_topics."))
    directory.mkdir(parents=True, exist_ok=True)
    sources = [f"src{i}" for i in range(50)]
    source_yaml = "\n".join(f"  - {{id: {s}, url: 'https://{s}.example.cn/feed'}}" for s in sources)
    config = parse_config(
        f"store: {{path: db.sqlite}}\noutput: {{max_entries: 50, all_feed: true}}\n"
        f"sources:\n{source_yaml}\ntopics:\n{make_topics(rng, args.topics, sources)}\n",
        "bench.yaml", directory,
    )
    store = Store.open(directory / "db.sqlite")
    started = time.perf_counter()
    articles = [make_article(rng, n) for n in range(args.articles + args.new)]
    # One story in twenty is a near copy of another (another source, the other script).
    for n in range(0, args.articles, 20):
        a = articles[n + 1]
        copy = articles[n]
        articles[n] = Article(key=copy.key, url=copy.url, canonical_url=None,
                              title=convert(a.title, "s2t"),
                              text="中國臺灣網移動版 字號 " + convert(a.text or "", "s2t"),
                              published=a.published, language=a.language)
    old, new = articles[args.new :], articles[: args.new]
    for i, source in enumerate(sources):
        store.upsert(source, old[i :: len(sources)], NOW)
    print(f"store of {len(old)} articles from {len(sources)} sources, {args.topics} topics: "
          f"built in {time.perf_counter() - started:.1f} s ({directory})")

    index = Index(config, store)
    from feeds.topics import refresh_index

    measure("1. index (fold + sketch) every article", lambda: refresh_index(store))

    def feeds() -> int:
        total = sum(len(index.topic_entries(t, NOW)) for t in config.topics)
        return total + len(index.all_entries())

    def full() -> int:
        index.update()
        return feeds()

    timed("2. full re-evaluation: match + feeds", full)
    # Again with tracing, on fresh rule hashes (a new topic config) for the memory peak.
    for t in config.topics:
        index.topic_rules[t.id] = index.topic_rules[t.id].__class__(
            **{**index.topic_rules[t.id].__dict__, "language": None}
            if index.topic_rules[t.id].language else
            {**index.topic_rules[t.id].__dict__, "exclude_sources": ("none",)})
    measure("2. full re-evaluation: match + feeds", full)
    from feeds import topics

    topics._ENTRIES.clear()  # the per-process cache would answer without computing
    timed("   of which the feeds alone (select + dedup)", feeds)

    def incremental() -> int:
        for i, source in enumerate(sources):
            store.upsert(source, new[i :: len(sources)], NOW + timedelta(hours=1))
        counts = index.update()
        assert max(counts.values()) <= len(new), counts
        return feeds()

    measure(f"3. incremental: {len(new)} new articles + feeds", incremental)
    timed("4. a cycle with nothing new (update + cached feeds)", full)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
