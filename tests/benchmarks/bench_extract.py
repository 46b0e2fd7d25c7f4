"""Body extraction on real Chinese news pages: our extract_article vs trafilatura alone.

The labelled set is the zh-news pages in ../shared/pages with a hand-checked reference body
in tests/data/pages_reference/<site>_<page>.txt (the article text a reader should get: no
navigation, share bars, editor credits or related links). The score is character 4-gram F1
of the extracted body text against the reference (whitespace ignored, so line breaking does
not count), averaged over pages; time is the mean wall-clock milliseconds per page.

Run: ``python tests/benchmarks/bench_extract.py``
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import trafilatura

from feeds.encoding import decode_html
from feeds.extract.article import extract_article

HERE = Path(__file__).resolve().parent
REFERENCES = HERE.parent / "data" / "pages_reference"
PAGES = HERE.parents[2] / "shared" / "pages" / "zh-news"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def grams(text: str, n: int = 4) -> Counter[str]:
    compact = re.sub(r"\s+", "", text)
    return Counter(compact[i:i + n] for i in range(max(len(compact) - n + 1, 0)))


def f1(candidate: str, reference: str) -> float:
    """Character n-gram F1 (multiset overlap)."""
    got, want = grams(candidate), grams(reference)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(got.values())
    recall = overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def ours(html: str, url: str) -> str:
    return extract_article(html, url, timezone=SHANGHAI).text


def trafilatura_alone(html: str, url: str) -> str:
    return trafilatura.extract(html) or ""


def main() -> int:
    if not PAGES.exists():
        print(f"{PAGES} is absent: nothing to measure")
        return 0
    cases = []
    for reference in sorted(REFERENCES.glob("*.txt")):
        site, page = reference.stem.split("_", 1)
        html, _ = decode_html((PAGES / site / f"{page}.html").read_bytes())
        cases.append((reference.stem, html, f"https://{site}.example/{page}.html",
                      reference.read_text(encoding="utf-8")))
    extractors: dict[str, Callable[[str, str], str]] = {
        "feeds extract_article": ours, "trafilatura.extract": trafilatura_alone}
    results: dict[str, tuple[list[float], list[float]]] = {}
    for label, extract in extractors.items():
        extract(cases[0][1], cases[0][2])  # warm-up: imports, caches
        scores, times = [], []
        for _, html, url, reference in cases:
            started = time.perf_counter()
            text = extract(html, url)
            times.append((time.perf_counter() - started) * 1000)
            scores.append(f1(text, reference))
        results[label] = (scores, times)
    if "-v" in sys.argv:
        print(f"{'page':24} " + " ".join(f"{label[:22]:>22}" for label in extractors))
        for index, (name, *_rest) in enumerate(cases):
            print(f"{name:24} " + " ".join(f"{results[label][0][index]:22.3f}"
                                             for label in extractors))
    print(f"{len(cases)} zh-news pages with hand-checked reference bodies")
    print(f"{'extractor':24} {'4-gram F1':>10} {'ms/page':>10}")
    for label, (scores, times) in results.items():
        print(f"{label:24} {statistics.mean(scores):10.3f} {statistics.mean(times):10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
