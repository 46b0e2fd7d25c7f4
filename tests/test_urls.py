"""URL helpers: the fast paths of join_url and canonical_url agree with urllib everywhere."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pytest

from feeds.urls import TRACKING_PARAMS, TRACKING_PREFIXES, canonical_url, join_url, without_tracking

PIECES = ["a", "B", "/", "?", "#", ";", ":", "@", ".", "..", "%2F", " ", "\t", "\n", "\x01",
          "é", "[", "]", "\\", "=", "&", "-", "0", "//", "\u3000", "\x7f", "ｆ", "utm_x=1"]
PREFIXES = ["http://", "https://", "HTTP://", "ftp://", "", "/", "//", "mailto:", "http:",
            "https:/", "http://Example.org", "https://example.org:443", "http://u@h"]
BASES = ["", "http://h.org/d/f.xml", "https://H.org/a?b#c", "ftp://x/", "file:///tmp/x.xml",
         "/tmp/local.xml", "http://127.0.0.1:8080/feed.xml"]


def reference_canonical(url: str) -> str:
    """canonical_url as first written, with urllib alone."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query, doseq=True), ""))


def outcome(function, *args):  # type: ignore[no-untyped-def]
    try:
        return function(*args)
    except ValueError:
        return "ValueError"


def test_fast_paths_agree_with_urllib() -> None:
    """On random URLs of awkward pieces, join_url is urljoin and canonical_url the reference."""
    rng = random.Random(7)
    for _ in range(20000):
        url = rng.choice(PREFIXES) + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
        base = rng.choice(BASES)
        assert outcome(join_url, base, url) == outcome(urljoin, base, url), (base, url)
        assert outcome(canonical_url, url) == outcome(reference_canonical, url), url


def test_common_cases() -> None:
    """Plain absolute URLs pass through; hosts are lowered, fragments and tracking dropped."""
    assert join_url("http://a/b/", "https://site.example/x.html") == "https://site.example/x.html"
    assert join_url("http://a/b/c", "d?e") == "http://a/b/d?e"
    assert canonical_url("https://site.example/news/1.html#top") == "https://site.example/news/1.html"
    assert canonical_url("https://site.example") == "https://site.example/"
    assert canonical_url("HTTP://Example.COM:80/a?utm_source=x&id=3#top") == "http://example.com/a?id=3"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://a.cn/x.html", "https://a.cn/x.html"),
    ("https://a.cn/x.html?utm_source=weixin&utm_medium=social&spm=a1.b2", "https://a.cn/x.html"),
    ("https://a.cn/x?id=3&utm_source=x#part", "https://a.cn/x?id=3#part"),
    ("https://a.cn/x?from=20&fbclid=9", "https://a.cn/x?from=20"),
    ("https://a.cn/x?q=%E4%B8%AD&UTM_Campaign=z", "https://a.cn/x?q=%E4%B8%AD"),
])
def test_links_readers_follow_lose_only_tracking_parameters(url: str, expected: str) -> None:
    """without_tracking drops utm_*/spm/fbclid and keeps every other parameter as written,
    ``from`` (content-selecting on some sites) and the fragment included."""
    assert without_tracking(url) == expected
