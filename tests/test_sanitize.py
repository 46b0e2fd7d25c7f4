"""The one-pass sanitizer gives what the per-attribute callback gave, and the text helpers agree."""

from __future__ import annotations

import html
import random
import re
from urllib.parse import urljoin

import nh3
import pytest

from feeds import sanitize
from feeds.sanitize import html_to_text, sanitize_html, sanitized_text

BASES = [None, "http://example.org/a/b.html", "https://example.org:8080/x/"]
FRAGMENTS = [
    '<a href=" /x?a=1&amp;b=2 ">x</a>',
    '<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)>',
    '<img src="data:image/png;base64,AAA"><a href="data:text/html,x">y</a>',
    '<a href="http://[::1]/x">v6</a>',
    '<a href="HTTP://Example.org/A">upper</a>',
    '<a href="http://x.org/a/../b">dots</a><a href="../up/./x">rel</a>',
    '<a href="//cdn.example.org/x">protocol-relative</a>',
    '<a href="?q=1#f">query</a><a href="#top">fragment</a>',
    '<a href="http://x.org/p;params?x">params</a><a href="/p?">empty query</a>',
    '<a href="mailto:a@b.org">mail</a><a href="ftp://x.org/">ftp</a>',
    '<img src="a b.png" title="a>b" alt=\'say "hi"\'>',
    '<a href="x&quot;y">quote</a><blockquote cite="../c">c</blockquote>',
    '<p>one<br>two</p><script>bad()</script><style>p{}</style><ruby>漢<rt>kan</rt></ruby>',
    '<a href="/news/1/x.html?utm_source=feed">root-relative</a><img src="/img/1.jpg">',
]


def callback_sanitize(fragment: str, base: str | None) -> str:
    """The sanitizer as it was: nh3 with a Python attribute filter."""
    return nh3.clean(fragment, tags=sanitize.TAGS, clean_content_tags=sanitize.CLEAN_CONTENT_TAGS,
                     attributes=sanitize.ATTRIBUTES,
                     attribute_filter=sanitize._absolute(base),
                     url_schemes=sanitize.URL_SCHEMES, link_rel="noopener noreferrer",
                     strip_comments=True).strip()


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_one_pass_sanitizer_matches_callback(fragment: str, base: str | None) -> None:
    """URLs resolved after nh3 give the same HTML as resolving them in nh3's callback."""
    assert sanitize_html(fragment, base) == callback_sanitize(fragment, base)


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_sanitized_text_matches_html_to_text(fragment: str) -> None:
    """Text of sanitized HTML without a second nh3 pass equals html_to_text's."""
    cleaned = sanitize_html(fragment, "http://example.org/")
    assert sanitized_text(cleaned) == html_to_text(cleaned)


@pytest.mark.parametrize("value", ["/a/b.html", "/a/b?x=1&y=2", "/a/./b", "/a/../b", "/a?",
                                   "/a#f", "//host/x", "/a;p", "/a b", "/é"])
@pytest.mark.parametrize("base", ["http://example.org/a/b.html", "https://h.org:81",
                                  "http://u:p@h.org/a", "ftp://h.org/a/", "http://h.org#f",
                                  "http://h.org?q", "HTTP://h.org/a", "http://h.org\\a/b",
                                  "http://h.org\t/a", "http://[::1]/a"])
def test_join_matches_urljoin(value: str, base: str) -> None:
    """The shortcut for root-relative URLs gives exactly what urljoin gives."""
    assert sanitize._join(base, value, sanitize._origin(base)) == urljoin(base, value)


def test_fold_matches_the_regex_pair() -> None:
    """Whitespace folding without the per-character regexes gives their result on any text."""
    space = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
    newlines = re.compile(r"\s*\n\s*")
    pieces = ["a", "漢", " ", "  ", "\n", "\n\n", "\t", "\r", "\r\n", "\f", "\v", "\u00a0",
              "\u3000", "\u2028", "\x1c", "\x85", "\u2003", " \n "]
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert sanitize._fold(text) == newlines.sub("\n", space.sub(" ", text)).strip(), text


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_html_to_text_matches_a_fresh_nh3_pass(fragment: str) -> None:
    """The reused text cleaner strips what nh3.clean with the same options strips."""
    marked = re.sub(r"(?i)<(br|/p|/div|/li|/h\d|/tr|/figure|/figcaption)\b[^>]*>", "\n", fragment)
    reference = nh3.clean(marked, tags=set(), clean_content_tags=sanitize.CLEAN_CONTENT_TAGS)
    assert html_to_text(fragment) == sanitize._fold(html.unescape(reference))
