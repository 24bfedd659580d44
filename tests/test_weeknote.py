from pathlib import Path

import pytest

from digest.weeknote import Weeknote, extract_weeknote

ROOT = Path(__file__).parent.parent
DEMO_URL = "https://community.example/blog/weeknote-47"
URL = "https://blog.example/weeknote-1"
THEMES = [
    "Rapid learning and improvement",
    "Video consultations",
    "Digital tools",
    "Staff health and wellbeing",
    "Health inequalities",
    "Events and opportunities",
]


@pytest.fixture(scope="module")
def demo() -> Weeknote:
    return extract_weeknote((ROOT / "examples/demo/weeknote.html").read_bytes(), DEMO_URL)


def links(note: Weeknote) -> dict:
    return {link.url: link for section in note.sections for link in section.links}


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def test_demo_title_and_editorial_come_first(demo):
    assert demo.title.startswith("Weeknote 47: winter pressures")
    assert demo.sections[0].heading == ""
    assert demo.editorial.startswith("It\u2019s been a week of frosty car parks")
    assert "What's going on" not in demo.editorial and "Hannah Corrigan" not in demo.editorial
    assert len(demo.editorial) <= 600 and demo.editorial.endswith(".")
    editorial_urls = [link.url for link in demo.sections[0].links]
    assert (
        editorial_urls[0]
        == "https://improvement-network.example/news/winter-same-day-emergency-care"
    )
    assert demo.problems == ()


def test_demo_themed_sections_in_order(demo):
    assert [section.heading for section in demo.sections[1:]] == THEMES
    digital = demo.sections[3]
    assert digital.links[0].title == "£2.4m digital social care fund"
    assert all(link.section == "Digital tools" for link in digital.links)
    positions = [link.position for section in demo.sections for link in section.links]
    assert positions == list(range(26))


@pytest.mark.parametrize(
    "url",
    [
        "https://community.example/cookies",  # cookie banner and footer
        "https://community.example/about",  # header nav
        "https://community.example/blog/weeknotes",  # breadcrumb nav
        "https://community.example/people/hannah-corrigan",  # byline in the post header
        "https://community.example/blog/tags/winter",  # post footer
        "https://community.example/blog/weeknote-46",  # related posts
        "https://community.example/login?next=/blog/weeknote-47%23comments",  # comments
        "https://community.example/privacy",  # site footer
    ],
)
def test_demo_skips_site_furniture(demo, url):
    assert url not in links(demo)


def test_demo_drops_share_mail_and_anchor_links(demo):
    urls = list(links(demo))
    assert not [u for u in urls if "intent" in u or "linkedin" in u or "#" in u]
    assert not [u for u in urls if not u.startswith("https://")]
    assert "mailto" not in " ".join(urls)


def test_demo_generic_link_texts_get_real_titles(demo):
    found = links(demo)
    read_more = found[
        "https://improvement-network.example/news/ward-learning-system-discharge-delays"
    ]
    assert read_more.title.startswith("Six medical wards at Northfield General")
    here = found["https://care-quality.example/news/care-home-falls-collaborative"]
    assert here.title == (
        "Care homes in Eastbrook halved night-time falls causing injury by testing small changes"
    )
    report = found["https://health-research.example/evidence/social-prescribing-loneliness"]
    assert report.title == "What does the evidence say about social prescribing for loneliness?"
    titles = {link.title.lower() for link in found.values()}
    assert not titles & {"read more", "here", "this report", "book", "find out in"}


def test_demo_blurbs_are_the_list_item_or_sentence(demo):
    found = links(demo)
    item = found["https://digital-care.example/news/replacing-pagers-lessons"]
    assert item.title == "lessons learned"
    assert item.blurb == (
        "Three hospitals that replaced pagers with secure messaging share their lessons learned."
    )
    sentence = found["https://health-research.example/evidence/learning-health-systems-what-sticks"]
    assert sentence.blurb.startswith("A new review of learning health systems found")
    assert sentence.blurb.endswith("within weeks.")


def test_demo_dedupe_keeps_the_first_occurrence(demo):
    survey = links(demo)["https://community.example/blog/member-survey-2026-results"]
    assert survey.section == "" and survey.title == "member survey"
    canonicals = [link.canonical_url for section in demo.sections for link in section.links]
    assert len(canonicals) == len(set(canonicals))


def test_duplicates_and_self_links():
    html = page(
        "<article><h2>Reading</h2>"
        '<p>First <a href="/a?utm_source=x">the first one</a>.</p>'
        '<p>Again <a href="/a">the second one</a>.</p>'
        f'<p>Back to <a href="{URL}/">this very page</a> and <a href="#top">top</a>.</p>'
        "</article>"
    )
    note = extract_weeknote(html, URL)
    (only,) = [link for section in note.sections for link in section.links]
    assert only.title == "the first one" and only.canonical_url == "https://blog.example/a"


def test_base_href_resolves_relative_links():
    html = page(
        "<article><p>Some text long enough to be an editorial, with a "
        '<a href="reports/one">first report</a>.</p></article>',
        head='<base href="https://cdn.example/weeknotes/">',
    )
    (link,) = extract_weeknote(html, URL).sections[0].links
    assert link.url == "https://cdn.example/weeknotes/reports/one"


def test_no_body_found_is_a_problem_not_an_error():
    note = extract_weeknote(b"<html><body><nav><a href='/x'>x</a></nav></body></html>", URL)
    assert note.sections == ()
    assert "no article body found" in note.problems


def test_densest_block_is_the_last_resort():
    html = page(
        "<div><p>Short.</p></div>"
        '<div class="x"><p>A long paragraph about the week with a <a href="/a">good link</a>.</p>'
        "<p>Another long paragraph that makes this block the densest on the page.</p></div>"
    )
    note = extract_weeknote(html, URL)
    assert "no article body found; used the densest block" in note.problems
    assert note.sections[0].links[0].url == "https://blog.example/a"


def test_selector_wins_and_a_bad_selector_falls_back():
    html = page(
        '<article><p>Article text with <a href="/in-article">a link</a>.</p></article>'
        '<div id="real"><p>Chosen text with <a href="/chosen">another link</a>.</p></div>'
    )
    chosen = extract_weeknote(html, URL, selector="#real")
    assert [link.url for link in chosen.sections[0].links] == ["https://blog.example/chosen"]
    fallback = extract_weeknote(html, URL, selector="#missing")
    assert [link.url for link in fallback.sections[0].links] == ["https://blog.example/in-article"]
    assert fallback.problems[0].startswith("selector '#missing' matched nothing")
    assert extract_weeknote(html, URL, selector="[[[").sections  # invalid CSS: no crash


def test_no_headings_means_everything_is_the_editorial():
    html = page(
        "<article><p>This week has been a busy one for everybody involved.</p>"
        '<ul><li>A <a href="/one">first story</a> worth reading.</li></ul></article>'
    )
    note = extract_weeknote(html, URL)
    assert len(note.sections) == 1 and note.sections[0].heading == ""
    assert (
        note.editorial
        == "This week has been a busy one for everybody involved. A first story worth reading."
    )
    assert note.sections[0].links[0].title == "first story"


def test_text_before_the_first_heading_is_the_editorial():
    html = page(
        "<article><p>An opening paragraph long enough to count as an editorial.</p>"
        '<h2>News</h2><p>See <a href="/n">the news item</a>.</p></article>'
    )
    note = extract_weeknote(html, URL)
    assert [s.heading for s in note.sections] == ["", "News"]
    assert note.editorial == "An opening paragraph long enough to count as an editorial."


def test_empty_section_is_kept_and_reported():
    html = page(
        '<article><h2>Intro</h2><p>Opening words with <a href="/a">a link</a>.</p>'
        "<h3>Quiet week</h3><p>Nothing to report.</p>"
        '<p><b>Events</b></p><p>A <a href="mailto:x@example.org">mail</a> only.</p></article>'
    )
    note = extract_weeknote(html, URL)
    assert [(s.heading, s.links) for s in note.sections[1:]] == [("Quiet week", ()), ("Events", ())]
    assert note.problems == ("section 'Quiet week' has no links", "section 'Events' has no links")


def test_login_comment_and_share_urls_are_dropped():
    hrefs = [
        "/wp-login.php",
        "/signin",
        "/post/comment/new",
        "/post#respond",
        "/post?replytocom=4",
        "https://x.com/intent/post?url=a",
        "https://www.facebook.com/sharer/sharer.php?u=a",
        "https://wa.me/?text=a",
        "https://www.reddit.com/submit?url=a",
        "tel:+441234",
        "javascript:void(0)",
        "ftp://files.example/a",
    ]
    anchors = "".join(
        f'<li>Item <a href="{href}">link {i}</a>.</li>' for i, href in enumerate(hrefs)
    )
    html = page(
        f'<article><ul>{anchors}<li><a href="/commentary/x">Commentary</a></li></ul></article>'
    )
    note = extract_weeknote(html, URL)
    assert [link.url for link in note.sections[0].links] == ["https://blog.example/commentary/x"]


def test_latin1_page_with_meta_charset():
    html = page(
        "<article><p>Caf\xe9 culture and \xa35 coffee: "
        "<a href='/c'>na\xefve pricing</a>.</p></article>",
        head='<meta charset="iso-8859-1">',
    ).encode("latin-1")
    note = extract_weeknote(html, URL)
    assert note.editorial == "Café culture and £5 coffee: naïve pricing."
    assert note.sections[0].links[0].title == "naïve pricing"


def test_huge_page_is_capped():
    item = '<li>Story <a href="/n/{}">number {}</a> of the week.</li>'
    body = "".join(item.format(i, i) for i in range(320_000))
    html = page(f"<article><h2>All</h2><ul>{body}</ul></article>").encode()
    assert len(html) > 20_000_000
    note = extract_weeknote(html, URL, max_bytes=1_000_000)
    assert note.problems[0] == "page capped at 1,000,000 bytes; the rest was not read"
    count = sum(len(section.links) for section in note.sections)
    assert 10_000 < count < 30_000


def test_cap_does_not_split_a_utf8_character():
    html = page("<article><p>Naïve café society, briefly noted here.</p></article>").encode()
    cut = html.index("é".encode()) + 1  # inside the two bytes of é
    note = extract_weeknote(html, URL, max_bytes=cut)
    assert note.editorial == "Naïve caf"


def test_deeply_nested_broken_markup():
    html = "<div>" * 5000 + "<p>Deep in the page, a <a href='/deep'>deep story</a>.</p>"
    note = extract_weeknote(html, URL)
    assert [link.url for link in note.sections[0].links] == ["https://blog.example/deep"]
    assert extract_weeknote("<div>" * 5000, URL).problems == ("no article body found",)


@pytest.mark.parametrize("html", ["", b"", b"\xff\xfe\x00", "<a href='/x'>", "<<<>>>", "<p>"])
def test_junk_never_raises(html):
    assert isinstance(extract_weeknote(html, URL), Weeknote)


def test_latin1_label_is_read_as_windows_1252():
    html = page(
        "<article><p>We\x92ve a \x93quoted\x94 note\x81 \x96 <a href='/q'>caf\xe9 \x85</a>.</p>"
        "</article>",
        head='<meta charset="iso-8859-1">',
    ).encode("latin-1")
    note = extract_weeknote(html, URL)
    assert note.editorial == "We\u2019ve a \u201cquoted\u201d note\ufffd \u2013 café \u2026."
    assert note.sections[0].links[0].title == "café \u2026"


def test_wordpress_tag_classes_are_not_widgets():
    html = page(
        '<article class="post tag-social-prescribing category-follow-ups">'
        '<p>An opening paragraph that is long enough, with <a href="/a">a story</a>.</p>'
        '<div class="sharedaddy"><a href="/share">Share</a></div></article>'
    )
    links = extract_weeknote(html, URL).sections[0].links
    assert [link.url for link in links] == ["https://blog.example/a"]


def test_pictures_and_junk_hosts_are_not_links():
    hrefs = [
        "/uploads/chart.png",
        "/img/a.JPEG?w=300",
        "https://exa mple.example/",
        "http://a\x01b/",
    ]
    anchors = "".join(f'<li>Item <a href="{href}"><img src="x.png"></a>.</li>' for href in hrefs)
    html = page(
        f'<article><ul>{anchors}<li>Our <a href="/winter.png">winter infographic</a>.</li>'
        '<li><a href="/report.pdf">Report</a></li></ul></article>'
    )
    links = extract_weeknote(html, URL).sections[0].links
    assert [link.url for link in links] == [
        "https://blog.example/winter.png",
        "https://blog.example/report.pdf",
    ]


@pytest.mark.parametrize(
    ("body", "title"),
    [
        # The sentence says enough: read with the link's words in place, not with a hole.
        (
            "<p>A study came out. See <a href='/r'>this report</a> for who is offered video.</p>",
            "See this report for who is offered video",
        ),
        # Too little: a list item's first sentence, a paragraph's sentence before.
        (
            "<li>Wards cut delays. Times improved. <a href='/r'>Read more</a>.</li>",
            "Wards cut delays",
        ),
        ("<p>Wards cut delays. Times improved. <a href='/r'>Read more</a>.</p>", "Times improved"),
        # A bare URL is left out of the sentence around it.
        (
            "<li>Slides from the spread session: <a href='/r'>https://x.example/s</a></li>",
            "Slides from the spread session",
        ),
        # Other links in the sentence: the clause around this one, if it says enough.
        (
            "<p>The <a href='/a'>guide</a> is out, and the webinar recording for it is "
            "<a href='/r'>here</a>.</p>",
            "and the webinar recording for it is here",
        ),
        (
            "<li>Our next call is on flow. <a href='/r'>Register</a>.</li>",
            "Our next call is on flow",
        ),
    ],
)
def test_generic_link_text_titles(body, title):
    html = page(f"<article><h2>News</h2><ul>{body}</ul></article>")
    found = {link.url: link.title for link in extract_weeknote(html, URL).sections[0].links}
    assert found["https://blog.example/r"] == title


@pytest.mark.parametrize("href", ["http://[::1", "https://", "https://exa mple/", "mailto:x@y"])
def test_broken_base_and_canonical_fall_back_to_the_page_url(href):
    html = page(
        '<article><p>Long enough opening text, with <a href="/a">a story</a>.</p></article>',
        head=f'<base href="{href}"><link rel="canonical" href="{href}">',
    )
    (link,) = extract_weeknote(html, URL).sections[0].links
    assert link.url == "https://blog.example/a"


def test_an_overlong_link_is_left_out_with_a_problem():
    long_link = "https://reports.example/a?" + "x" * 100_000
    page = (
        "<article><h1>Weeknote</h1><p>Hello.</p><h2>Reports</h2><ul>"
        f"<li><a href='{long_link}'>A report with a long address</a></li>"
        "<li><a href='https://reports.example/b'>A report with a short one</a></li></ul></article>"
    )
    weeknote = extract_weeknote(page, "https://community.example/weeknote")
    assert [link.url for s in weeknote.sections for link in s.links] == [
        "https://reports.example/b"
    ]
    assert "1 links longer than 2,048 characters left out" in weeknote.problems
