from pathlib import Path

import pytest

from digest.weeknote.extract import Weeknote, extract_weeknote

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
    assert item.title == "Lessons learned"
    assert item.blurb == (
        "Three hospitals that replaced pagers with secure messaging share their lessons learned."
    )
    sentence = found["https://health-research.example/evidence/learning-health-systems-what-sticks"]
    assert sentence.blurb.startswith("A new review of learning health systems found")
    assert sentence.blurb.endswith("within weeks.")


def test_demo_dedupe_keeps_the_first_occurrence(demo):
    survey = links(demo)["https://community.example/blog/member-survey-2026-results"]
    assert survey.section == "" and survey.title == "Member survey"
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
    assert only.title == "The first one" and only.canonical_url == "https://blog.example/a"


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


def test_without_an_article_the_block_holding_most_prose_is_read():
    html = page(
        "<div><p>Short.</p></div>"
        '<table><tr><td><h2>News</h2><p>A long paragraph with a <a href="/a">good link</a>.</p>'
        "</td></tr><tr><td><h2>More</h2><p>Another long paragraph that makes this table "
        'hold the week, with <a href="/b">a second link</a>.</p></td></tr></table>'
    )
    note = extract_weeknote(html, URL)
    assert note.problems == ()
    assert [s.heading for s in note.sections] == ["", "News", "More"]
    assert [link.url for link in note.sections[1].links] == ["https://blog.example/a"]


def test_prose_spread_over_the_page_reads_the_whole_page_with_a_problem():
    html = page(
        '<div><p>One paragraph of a page with a <a href="/a">first link</a> in it.</p></div>'
        '<div><p>Another paragraph of the same length, a <a href="/b">second one</a>.</p></div>'
    )
    note = extract_weeknote(html, URL)
    assert note.problems == ("no article body found; read the whole page",)
    assert len(note.sections[0].links) == 2


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
    assert note.sections[0].links[0].title == "First story"


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


def test_another_sites_discussion_is_a_story_this_sites_comments_are_not():
    hrefs = [
        "https://www.reddit.com/r/emacs/comments/1x9/agenda_tips/",
        "https://news.example/post/42#comments",
        "/2026/11/weeknote#comments",
        "/comments/feed/",
    ]
    anchors = "".join(
        f'<li>Item <a href="{href}">link {n}</a>.</li>' for n, href in enumerate(hrefs)
    )
    note = extract_weeknote(page(f"<article><ul>{anchors}</ul></article>"), URL)
    assert [link.url for link in note.sections[0].links] == hrefs[:2]


def test_a_post_that_opens_with_a_section_of_links_has_no_editorial():
    html = page(
        "<article><h2>Reading</h2><ul>"
        '<li><a href="https://a.example/1">Maps of the week</a></li>'
        '<li><a href="https://a.example/2">A data primer</a></li></ul>'
        '<h2>Listening</h2><ul><li><a href="https://b.example/3">A podcast</a></li></ul>'
        "</article>"
    )
    note = extract_weeknote(html, URL)
    assert note.editorial == ""
    assert [(s.heading, len(s.links)) for s in note.sections] == [
        ("", 0),
        ("Reading", 2),
        ("Listening", 1),
    ]


def test_a_table_of_contents_neighbours_feed_links_and_a_date_line_are_furniture():
    html = page(
        '<article><div class="toc"><details open><summary>Table of Contents</summary><ul>'
        '<li><a href="#reading">Reading</a></li><li><a href="#listening">Listening</a></li>'
        "</ul></details></div>"
        "<p>Friday 29 September 2023</p>"
        "<p>A long week of short notes, with most of it spent on the new maps service.</p>"
        '<h2 id="reading">Reading</h2><ul><li><a href="https://a.example/1">Maps</a> for all.</li>'
        '<li>Subscribe with <a href="/atom.xml">the feed</a>.</li></ul>'
        '<h2 id="listening">Listening</h2><p><a href="https://b.example/3">A podcast</a>.</p>'
        '<ul class="links-nextprev"><li>Previous: <a href="/blog/weeknote-11/">Weeknote 11</a>'
        '</li><li>Next: <a href="/blog/weeknote-13/">Weeknote 13</a></li></ul></article>'
    )
    note = extract_weeknote(html, URL)
    assert note.editorial == (
        "A long week of short notes, with most of it spent on the new maps service."
    )
    assert [[link.url for link in s.links] for s in note.sections] == [
        [],
        ["https://a.example/1"],
        ["https://b.example/3"],
    ]


def test_in_page_links_amid_prose_and_another_sites_neighbours_stay():
    html = page(
        "<article><p>See <a href='#a'>the first part</a> and <a href='#b'>the second</a> of "
        "this long note about how our team spent the week, which was busy.</p>"
        '<p>Next: <a href="https://other.example/next-report">their next report</a></p>'
        "</article>"
    )
    note = extract_weeknote(html, URL)
    assert "the first part" in note.editorial
    assert [link.url for link in note.sections[0].links] == ["https://other.example/next-report"]


def test_latin1_page_with_meta_charset():
    html = page(
        "<article><p>Caf\xe9 culture and \xa35 coffee: "
        "<a href='/c'>na\xefve pricing</a>.</p></article>",
        head='<meta charset="iso-8859-1">',
    ).encode("latin-1")
    note = extract_weeknote(html, URL)
    assert note.editorial == "Café culture and £5 coffee: naïve pricing."
    assert note.sections[0].links[0].title == "Naïve pricing"


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
        "<article><p>We\x92ve a \x93quoted\x94 note \x96 <a href='/q'>caf\xe9 \x85</a>.</p>"
        "</article>",
        head='<meta charset="iso-8859-1">',
    ).encode("latin-1")
    note = extract_weeknote(html, URL)
    assert note.editorial == "We\u2019ve a \u201cquoted\u201d note \u2013 café \u2026."
    assert note.sections[0].links[0].title == "Café \u2026"


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
            "And the webinar recording for it is here",
        ),
        (
            "<li>Our next call is on flow. <a href='/r'>Register</a>.</li>",
            "Our next call is on flow",
        ),
    ],
)
def test_generic_link_text_titles(body, title):
    html = page(f"<article><h2>News</h2><ul>{body}</ul></article>")
    note = extract_weeknote(html, URL)
    found = {link.url: link.title for section in note.sections for link in section.links}
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


def urls(note: Weeknote) -> list[str]:
    return [link.url for section in note.sections for link in section.links]


def article(body: str, head: str = "") -> str:
    """A post with an opening long enough to be the editorial."""
    opening = "<p>An opening paragraph that is long enough to count as the editorial.</p>"
    return page(f"<article>{opening}{body}</article>", head)


@pytest.mark.parametrize(
    "href",
    [
        "https://twitter.com/share?url=a",
        "https://twitter.com/intent/tweet?text=a",
        "https://x.com/intent/post?text=a",
        "https://bsky.app/intent/compose?text=a",
        "https://mastodon.social/share?text=a",
        "https://www.linkedin.com/sharing/share-offsite/?url=a",
        "https://www.facebook.com/sharer/sharer.php?u=a",
        "https://api.whatsapp.com/send?text=a",
        "mailto:?subject=a&body=b",
        "https://bsky.app/profile/jane.bsky.social",
        "https://x.com/janedoe",
        "https://www.linkedin.com/in/janedoe",
        "https://medium.com/@janedoe?source=post_page",
        "https://substack.com/@janedoe",
        "https://blog.example/tag/falls/",
        "https://blog.example/category/weeknotes/",
        "https://blog.example/taxonomy/term/12",
        "https://blog.example/search/label/huddles",
        "https://blog.example/author/jane/",
        "https://blog.example/journal?author=5f1e",
        "https://blog.example/subscribe?",
        "https://blog.example/#/portal/signup",
        "https://blog.example/print/pdf/node/12",
        "https://list.us1.list-manage.com/unsubscribe?u=1&id=2",
        "https://list.us1.list-manage.com/profile?u=1&id=2",
        "https://us1.forward-to-friend.com/forward?u=1",
        "https://www.printfriendly.com/print?url=a",
    ],
)
def test_share_follow_listing_and_list_links_are_furniture(href):
    html = article(
        f'<p>Kept: <a href="https://news.example/a">a story</a>, <a href="{href}">x</a>.</p>'
    )
    assert urls(extract_weeknote(html, URL)) == ["https://news.example/a"]


@pytest.mark.parametrize(
    "href",
    [
        "https://x.com/janedoe/status/1234",
        "https://bsky.app/profile/jane.bsky.social/post/3k",
        "https://www.linkedin.com/posts/janedoe_activity-1",
        "https://www.youtube.com/watch?v=abc",
        "https://partner.example/tag/falls/",  # another site's listing is theirs to link to
        "https://blog.example/commentary/x",
    ],
)
def test_posts_on_networks_and_other_sites_listings_are_kept(href):
    html = article(f'<p>Worth a look: <a href="{href}">the thread on falls</a>.</p>')
    assert urls(extract_weeknote(html, URL)) == [href]


@pytest.mark.parametrize(
    "anchor",
    [
        '<a rel="author" href="/people/jane">Jane</a>',
        '<a rel="tag" href="/topics/falls">falls</a>',
        '<a rel="prev" href="/weeknote-0">An older weeknote</a>',
        '<a href="/w?print=1">Print</a>',
        '<a href="/w.pdf">PDF of this page</a>',
        '<a href="https://news.example/s">Share</a>',
        '<a href="https://news.example/f">Follow</a>',
        '<a href="https://news.example/n">Subscribe now</a>',
        '<a href="/weeknote-2">Next post \u2192</a>',
        '<a href="/weeknote-0">Previous: Weeknote 0</a>',
    ],
)
def test_furniture_by_rel_and_by_link_words(anchor):
    html = article(f'<p>A <a href="https://news.example/a">story</a> and {anchor} here.</p>')
    assert urls(extract_weeknote(html, URL)) == ["https://news.example/a"]


def test_a_link_named_after_a_format_or_network_is_kept_when_it_is_content():
    html = article(
        '<p>The report (<a href="https://news.example/r.pdf">PDF</a>) and the talk on '
        '<a href="https://www.youtube.com/watch?v=1">YouTube</a>.</p>'
    )
    assert len(urls(extract_weeknote(html, URL))) == 2


def test_bylines_without_class_names_leave_the_editorial():
    html = page(
        '<article><h1>Weeknote 3</h1><div class="x1"><div class="y2">'
        '<a href="https://medium.com/@jane?source=post_page">Jane Doe</a> \u00b7 '
        '<span>Follow</span></div><div class="z3"><span>5 min read</span> \u00b7 '
        "<span>Mar 3, 2026</span></div></div>"
        "<p>Hello all, and welcome to this week's notes from the network.</p>"
        '<div class="q"><time datetime="2026-03-03">3 March 2026</time> \u2014 by '
        '<a href="/author/jane/">Jane</a> in <a href="/category/notes/">Notes</a></div>'
        '<h2>News</h2><p>A <a href="https://news.example/a">story</a>.</p></article>'
    )
    note = extract_weeknote(html, URL)
    assert note.editorial == "Hello all, and welcome to this week's notes from the network."
    assert urls(note) == ["https://news.example/a"]


def test_sign_up_cards_and_picture_credits_are_furniture():
    html = article(
        '<div class="card"><h2>Get the weeknote every Friday</h2><p>One email a week.</p>'
        '<form><input type="email"><button>Subscribe</button></form></div>'
        '<figure><img src="a.jpg"><figcaption>Photo by <a href="https://unsplash.com/@c">C</a> '
        'on <a href="https://unsplash.com">Unsplash</a></figcaption></figure>'
        '<h2>News</h2><p>A <a href="https://news.example/a">story</a>.</p>'
    )
    note = extract_weeknote(html, URL)
    assert [s.heading for s in note.sections] == ["", "News"]
    assert urls(note) == ["https://news.example/a"]


def test_a_selector_matching_in_navigation_passes_over_to_the_next_match():
    html = page(
        '<nav><div class="mega"><article><p>Teaser <a href="/teaser">teaser</a>.</p></article>'
        '</div></nav><article><p>The post, with <a href="/post">a story</a>.</p></article>'
    )
    note = extract_weeknote(html, URL, selector="article")
    assert urls(note) == ["https://blog.example/post"]
    assert note.problems == ()


def test_a_selector_matching_only_in_furniture_is_used_with_a_warning():
    html = page(
        '<header><div id="x"><p>Short <a href="/a">one</a>.</p></div></header>'
        '<footer><div id="x"><p>A longer footer text <a href="/b">two</a>.</p></div></footer>'
    )
    note = extract_weeknote(html, URL, selector="#x")
    assert urls(note) == ["https://blog.example/b"]
    assert note.problems[0] == (
        "selector '#x' matched only inside a header, nav, footer or aside; "
        "used its longest match anyway"
    )


def headings(body: str) -> list[str]:
    return [section.heading for section in extract_weeknote(article(body), URL).sections]


def test_sections_are_at_the_shallowest_repeated_level_and_sub_headings_stay_inside():
    body = (
        "<h2>This week</h2>"
        '<h3>News</h3><h4>Local</h4><p>A <a href="https://n.example/1">story</a>.</p>'
        '<h3>Events</h3><h4>Online</h4><p>An <a href="https://n.example/2">event</a>.</p>'
    )
    assert headings(body) == ["", "This week", "News", "Events"]
    note = extract_weeknote(article(body), URL)
    assert note.sections[2].links[0].section == "News"


def test_role_heading_divs_are_headings_at_their_aria_level():
    body = (
        '<div role="heading" aria-level="2">News</div><p><a href="https://n.example/1">A</a></p>'
        '<div role="heading" aria-level="3">Sub</div><p><a href="https://n.example/2">B</a></p>'
        '<div role="heading" aria-level="2">Events</div><p><a href="https://n.example/3">C</a></p>'
    )
    assert headings(body) == ["", "News", "Events"]


def test_details_summaries_and_bold_lines_are_headings():
    body = (
        '<details><summary>News</summary><p>A <a href="https://n.example/1">story</a>.</p>'
        "</details><p><strong>Events</strong><br>"
        'Our <a href="https://n.example/2">summit</a> is on Friday.</p>'
        '<div><b>Reading</b><br>An <a href="https://n.example/3">essay</a>.<br></div>'
        '<p>Mid-sentence <b>bold</b><br>is no heading, nor is <a href="https://n.example/4">'
        "this</a>.</p>"
    )
    assert headings(body) == ["", "News", "Events", "Reading"]


def test_a_heading_inside_a_link_card_is_its_title_not_a_section():
    body = (
        '<h2>News</h2><a href="https://n.example/card"><div><img src="logo.png">'
        "<span>The Publisher</span></div><div><h2>Small tests, big shifts</h2></div>"
        "<div>A year of PDSA cycles, in one long read\u2026</div></a>"
        '<h2>Events</h2><p>The <a href="https://n.example/e">summit</a>.</p>'
    )
    note = extract_weeknote(article(body), URL)
    assert [s.heading for s in note.sections] == ["", "News", "Events"]
    assert note.sections[1].links[0].title == "Small tests, big shifts"


@pytest.mark.parametrize(
    "closing",
    [
        "Share this:",
        "Related posts",
        "Comments (3)",
        "More from Solent Care",
        "Discussion about this post",
    ],
)
def test_a_closing_heading_ends_the_article(closing):
    body = (
        '<h2>News</h2><p>A <a href="https://n.example/1">story</a>.</p>'
        f'<h2>{closing}</h2><p>Also <a href="https://n.example/2">this</a>.</p>'
        '<h2>More news</h2><p>And <a href="https://n.example/3">that</a>.</p>'
    )
    assert urls(extract_weeknote(article(body), URL)) == ["https://n.example/1"]


@pytest.mark.parametrize(
    ("reference", "note"),
    [
        (  # Substack
            '<a class="footnote-anchor" id="footnote-anchor-1" href="#footnote-1">1</a>',
            '<div class="footnote"><a id="footnote-1" href="#footnote-anchor-1">1</a>'
            '<div class="footnote-content"><p>See <a href="https://n.example/fn">the survey'
            "</a>.</p></div></div>",
        ),
        (  # WordPress footnotes block
            '<sup class="fn"><a href="#f1" id="f1-link">1</a></sup>',
            '<ol class="wp-block-footnotes"><li id="f1">See <a href="https://n.example/fn">the '
            'survey</a>. <a href="#f1-link">\u21a9\ufe0e</a></li></ol>',
        ),
        (  # Markdown
            '<sup id="fnref:1"><a href="#fn:1" class="footnote-ref">[1]</a></sup>',
            '<h2>Notes</h2><div class="footnotes"><ol><li id="fn:1"><p>See '
            '<a href="https://n.example/fn">the survey</a>. <a href="#fnref:1">\u21a9</a></p>'
            "</li></ol></div>",
        ),
    ],
)
def test_a_footnotes_link_belongs_to_the_section_citing_it(reference, note):
    body = (
        f'<h2>Staff</h2><p>One in three staff were abused{reference}. See <a href="https://'
        'n.example/a">the training</a>.</p><h2>Events</h2><p>The <a href="https://n.example/'
        f'e">summit</a>.</p>{note}'
    )
    weeknote = extract_weeknote(article(body), URL)
    found = [(link.section, link.url) for s in weeknote.sections for link in s.links]
    assert found == [
        ("Staff", "https://n.example/a"),
        ("Staff", "https://n.example/fn"),
        ("Events", "https://n.example/e"),
    ]
    assert [s.heading for s in weeknote.sections] == ["", "Staff", "Events"]


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("toolkit for reception teams.", "Toolkit for reception teams"),
        ("\u201cmaking data fun\u201d \u2014", "\u201cMaking data fun\u201d"),
        ("iPhone tips;", "iPhone tips"),
        ("eConsult review:", "eConsult review"),
        ("£2.4m fund", "£2.4m fund"),
    ],
)
def test_titles_are_sentence_cased_and_trimmed(text, title):
    html = article(f'<p>Read the <a href="https://n.example/a">{text}</a> now.</p>')
    (link,) = extract_weeknote(html, URL).sections[0].links
    assert link.title == title
    assert link.link_text == text  # as the page has it, for judging whether it is a fragment


def test_a_generic_link_keeps_its_words_in_its_sentence():
    html = article(
        "<ul><li>A study of 14 services found video worked well. See "
        '<a href="https://n.example/r">this report</a> for the detail on who is offered it.</li>'
        "</ul>"
    )
    (link,) = extract_weeknote(html, URL).sections[0].links
    assert link.title == "See this report for the detail on who is offered it"


def test_redirect_wrappers_are_unwrapped_before_dedupe():
    wrapped = "https://medium.com/r/?url=https%3A%2F%2Fnews.example%2Fa"
    google = "https://www.google.com/url?q=https://news.example/b&sa=D"
    html = article(
        f'<p>A <a href="{wrapped}">story</a>, the <a href="https://news.example/a">same</a>, '
        f'and <a href="{google}">another</a>.</p>'
    )
    assert urls(extract_weeknote(html, URL)) == ["https://news.example/a", "https://news.example/b"]


def test_the_content_type_charset_decodes_bytes():
    html = article("<p>Caf\xe9 <a href='/c'>na\xefve pricing</a>.</p>").encode("windows-1252")
    note = extract_weeknote(html, URL, content_type="text/html; charset=windows-1252")
    assert note.sections[0].links[0].title == "Naïve pricing"


def test_a_documents_title_line_table_of_contents_and_icon_are_not_the_editorial():
    html = page(
        "<head><title>Weeknote 7: spring</title></head><body>"
        '<div class="doc"><p class="t">Weeknote 7: spring</p>'
        "<p>Friday 6 March 2026 \u00b7 compiled by Sam Hussain</p>"
        '<p><a href="#h.1">News</a> 1</p><p><a href="#h.2">Events</a> 2</p>'
        "<p>\U0001f4dd Hello all, and welcome to the seventh weeknote of the year.</p>"
        '<h2 id="h.1">News</h2><p>A <a href="https://n.example/1">story</a> this week.</p>'
        '<h2 id="h.2">Events</h2><p>An <a href="https://n.example/2">event</a> next week.</p>'
        "</div></body>"
    )
    note = extract_weeknote(html, URL)
    assert note.title == "Weeknote 7: spring"
    assert note.editorial == "Hello all, and welcome to the seventh weeknote of the year."


def test_the_title_is_the_heading_the_page_title_quotes():
    html = page(
        '<header><h1><a href="/">The Blog</a></h1></header><div class="post">'
        "<h3>Weeknote 17: huddles</h3><div class='post-body'><p>Hello, a long enough opening.</p>"
        "</div></div>",
        head="<title>The Blog: Weeknote 17: huddles</title>",
    )
    assert extract_weeknote(html, URL).title == "Weeknote 17: huddles"


def test_five_thousand_links_in_one_sentence():
    links = ", ".join(f'<a href="https://n.example/{i}">here</a>' for i in range(5000))
    html = article(f"<h2>All</h2><p>This week we read {links} and more.</p>")
    note = extract_weeknote(html, URL)
    assert sum(len(section.links) for section in note.sections) == 5000
