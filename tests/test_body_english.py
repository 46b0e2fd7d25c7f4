"""Article bodies of English (and mixed) news pages: sign-up boxes, donation asks, app and
social prompts, related links, ads, cookie notices, share and comment furniture and author
bios are dropped; prose that merely mentions those words stays; the summary comes from the
paragraphs, not from a picture's caption or credit."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from feeds.extract.article import Extracted, extract_article

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 27, tzinfo=UTC)
URL = "https://news.example.com/articles/council-approves-housing-plan"
TITLE = "Council approves new housing plan"
PROSE = [
    "Councillors voted 31 to 12 in favour of the scheme, which will create 4,000 homes on "
    "former industrial land to the east of the city centre over the next decade.",
    "Officials said the plan, which had been under discussion for more than two years, would "
    "be rolled out in phases starting next spring, with the first changes visible within weeks.",
    "Critics argued that the proposal did not go far enough, pointing to figures showing that "
    "waiting lists had doubled since 2019 and that rural areas had been hit hardest.",
    "Independent experts welcomed the decision but cautioned that its success would depend on "
    "whether enough builders could be recruited to deliver the homes on schedule.",
]
FIRST = PROSE[0][:60]
LAST = PROSE[-1][:60]


def page(body: str, *, lang: str = "en", title: str = TITLE,
         byline: str = "<div class='byline'>By Sam Patel</div>") -> str:
    return (f"<html lang='{lang}'><head><meta charset='utf-8'><title>{title} | Chronicle"
            f"</title></head><body><header><nav><a href='/'>Home</a> <a href='/news/'>News</a>"
            f"</nav></header><main><article><h1>{title}</h1>{byline}"
            f"<div class='article-body'>{body}</div></article></main>"
            f"<footer><p>&copy; 2026 Chronicle</p></footer></body></html>")


def paragraphs(*middle: str) -> str:
    """The prose with ``middle`` blocks after the second paragraph."""
    ps = [f"<p>{p}</p>" for p in PROSE]
    return "".join(ps[:2]) + "".join(middle) + "".join(ps[2:])


def extract(html: str) -> Extracted:
    return extract_article(html, URL, timezone=LONDON, now=NOW)


def assert_prose_kept(extracted: Extracted) -> None:
    for paragraph in PROSE:
        assert paragraph in extracted.text


NEWSLETTER = ("<aside class='newsletter-signup'><h3>Get our morning briefing</h3>"
              "<p>Sign up for our free newsletter and get the day's most important stories "
              "delivered to your inbox every morning.</p><form><input type='email'>"
              "<button>Subscribe</button></form><p class='small'>You can unsubscribe at any "
              "time. See our privacy notice.</p></aside>")


def test_a_newsletter_sign_up_box_is_dropped() -> None:
    """A newsletter aside inside the article body leaves no heading, pitch or opt-out line."""
    extracted = extract(page(paragraphs(NEWSLETTER)))
    assert_prose_kept(extracted)
    for words in ("morning briefing", "Sign up", "unsubscribe", "privacy notice"):
        assert words not in extracted.text
        assert words not in extracted.content_html


@pytest.mark.parametrize("block", [
    "<p>Sign up to our daily newsletter for the latest news, straight to your inbox.</p>",
    "<p><strong>Subscribe</strong> to the Chronicle for unlimited access.</p>",
    "<div>Support our journalism. <a href='/donate'>Donate now</a></div>",
    "<p>If you value our reporting, please consider making a contribution today.</p>",
    "<p>Download our app for breaking news alerts.</p>",
    "<p>Follow us on <a href='/tw'>Twitter</a>, <a href='/fb'>Facebook</a> and Instagram.</p>",
    "<p>Read more: <a href='/a/1'>Housing waiting lists at a record high</a></p>",
    "<p><strong>Related:</strong> <a href='/a/2'>What the new plan means for renters</a></p>",
    "<h3>Related stories</h3><ul><li><a href='/a/3'>Rents rise again</a></li>"
    "<li><a href='/a/4'>Builders short of staff</a></li></ul>",
    "<div>Advertisement</div>",
    "<p>Story continues below advertisement</p>",
    "<p>We use cookies to improve your experience. By continuing to browse you agree to our "
    "use of cookies.</p>",
    "<div>Share this article</div>",
    "<h2>23 Comments</h2>",
    "<p>下载新京报客户端，阅读更多精彩内容</p>",
    "<p>关注我们：<a href='/wb'>微博</a> <a href='/wx'>微信</a></p>",
    "<p>点击订阅我们的每日早报，每天早上八点准时送达。</p>",
], ids=["sign-up", "subscribe", "support", "contribution", "app", "follow", "read-more",
        "related", "related-list", "advertisement", "continues-below", "cookies", "share",
        "comments", "客户端", "关注我们", "订阅"])
def test_a_short_standalone_promo_block_is_dropped(block: str) -> None:
    """A short standalone sign-up, donation, app, social, related, ad, cookie, share or
    comments block (English or Chinese) is not part of the body."""
    extracted = extract(page(paragraphs(block)))
    assert_prose_kept(extracted)
    marker = extract(page(paragraphs())).text
    assert extracted.text == marker


@pytest.mark.parametrize("css", [
    "newsletter", "subscribe-box", "promo", "signup-form", "donate", "social-links",
    "share-bar", "related-articles", "comments-area", "author-bio",
])
def test_a_block_whose_class_names_furniture_is_dropped(css: str) -> None:
    """A block whose class says newsletter/subscribe/promo/signup/donate/social/share/related/
    comments/author-bio goes, whatever its wording."""
    block = (f"<div class='{css}'><h3>Before you go</h3><p>Quick note from the team about "
             f"what is coming up this week.</p></div>")
    extracted = extract(page(paragraphs(block)))
    assert_prose_kept(extracted)
    assert "Before you go" not in extracted.text
    assert "Quick note" not in extracted.text


def test_an_author_bio_box_at_the_end_is_dropped() -> None:
    """An aside at the end saying who the reporter is (``Jane Doe is a reporter covering…``)
    is not part of the story."""
    bio = ("<aside><p><strong>Jane Doe</strong> is a reporter covering housing and local "
           "government for the Chronicle. <a href='/u/jane'>More by Jane</a></p></aside>")
    extracted = extract(page(paragraphs() + bio))
    assert_prose_kept(extracted)
    assert "is a reporter covering" not in extracted.text


def test_prose_that_mentions_the_words_stays() -> None:
    """Paragraphs of the story that mention newsletters, subscriptions, ads, cookies, apps,
    comments or a reporter are kept, as are an article-body wrapper and a pull-quote aside."""
    mentions = [
        "The council said residents could sign up for email updates about the scheme, and "
        "that more than 2,000 people had subscribed to its planning newsletter since March.",
        "Read more about the history of the site in the local archive, which holds maps of "
        "the old factories that once stood there.",
        "Advertisement boards around the site will be replaced by public art, and the council "
        "will download survey data from its app to decide where the first ones go.",
        "Jane Doe, a reporter covering the meeting for a local radio station, said the mood "
        "in the chamber was tense.",
        "Signing up for the scheme is free, and residents can register by email or at the "
        "town hall until the end of January.",
        "Join us on Saturday for the opening of the new community garden.",
        "她表示，订阅用户的数量在过去一年里增长了三成，关注我们的读者也越来越多。",
    ]
    points = ("<h3>More from the minister</h3><ul><li>Funding will be reviewed every year."
              "</li><li>A <a href='/report'>report</a> will follow in the spring.</li></ul>")
    quote = ("<aside class='pull-quote'><p>We have listened carefully to the concerns that "
             "were raised during the consultation.</p></aside>")
    extracted = extract(page(paragraphs(*(f"<p>{m}</p>" for m in mentions), quote, points)))
    assert_prose_kept(extracted)
    for sentence in mentions:
        assert sentence in extracted.text
    assert "More from the minister" in extracted.text
    assert "Funding will be reviewed every year." in extracted.text
    assert "We have listened carefully" in extracted.text


LEAD_FIGURE = ("<figure class='lead-image'><img src='/img/lead.jpg' alt='Protesters'>"
               "<figcaption>Protesters gathered outside the town hall on Monday "
               "<span class='credit'>Photo: Reuters/A. Photographer</span></figcaption></figure>")


def test_the_summary_skips_the_lead_pictures_caption() -> None:
    """The summary opens with the first paragraph, not the lead picture's caption and credit;
    the caption stays in the body."""
    extracted = extract(page(LEAD_FIGURE + paragraphs()))
    assert extracted.summary is not None
    assert extracted.summary.startswith(FIRST)
    assert "Reuters" not in extracted.summary
    assert "Protesters gathered" in extracted.content_html


def test_the_summary_skips_a_standalone_credit_line() -> None:
    """A credit line on its own (``Photo: Reuters``) before the prose is not the summary's
    start."""
    extracted = extract(page("<p><img src='/img/lead.jpg'></p><p>Photo: Reuters</p>"
                             + paragraphs()))
    assert extracted.summary is not None
    assert extracted.summary.startswith(FIRST)


ZH_PROSE = [
    "11月20日，某某市2026年重点项目集中开工仪式在高新区举行，本次集中开工项目共86个，总投资"
    "约420亿元，涵盖先进制造、新能源、城市更新和民生保障等多个领域。",
    "市委书记在仪式上指出，要坚持项目为王，强化要素保障，优化营商环境，推动项目早开工、早建设、"
    "早投产、早见效，为全市经济高质量发展提供有力支撑。",
    "据介绍，今年以来全市固定资产投资保持较快增长，重大项目建设提速增效，产业结构不断优化。",
]


def test_the_summary_of_a_chinese_page_skips_the_picture_caption() -> None:
    """On a government page whose picture sits in a paragraph with its caption after it
    (``图为…现场（图片来源：…）``), the summary opens with the first paragraph of prose."""
    body = ("<p style='text-align:center'><img src='/img/W0201.jpg'></p>"
            "<p style='text-align:center'>图为集中开工仪式现场（图片来源：某某日报）</p>"
            + "".join(f"<p>　　{p}</p>" for p in ZH_PROSE))
    html = page(body, lang="zh-CN", title="我市重点项目集中开工")
    extracted = extract_article(html, "http://www.example.gov.cn/art/2026/11/20/art_1.html",
                                timezone=ZoneInfo("Asia/Shanghai"), now=NOW)
    assert extracted.summary is not None
    assert extracted.summary.startswith(ZH_PROSE[0][:30])
    assert "图片来源" not in extracted.summary


def test_a_page_with_only_a_picture_takes_its_caption_as_summary() -> None:
    """With no paragraph text, the summary falls back to the caption."""
    body = ("<figure><img src='/img/1.jpg'><figcaption>Crowds line the route of the parade "
            "through the old town on Saturday</figcaption></figure>")
    extracted = extract(page(body, byline=""))
    assert extracted.summary is not None
    assert extracted.summary.startswith("Crowds line the route")
