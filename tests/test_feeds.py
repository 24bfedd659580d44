import time
from datetime import timedelta

import pytest

from digest.core.errors import FeedError
from digest.core.text import excerpt, fold, html_to_text
from digest.core.urls import canonical_url
from digest.sources.feeds import neutralise_dtd, parse_feed, parse_feed_safely
from tests.samples import NOW, atom, rdf, rss

URL = "https://partner.example/feed.xml"


def parse(body: bytes, content_type: str | None = "application/rss+xml"):
    return parse_feed(body, URL, "src", content_type, NOW)


def test_rss2_items_have_every_field():
    feed = parse(rss(2))
    assert feed.title == "Partner news" and feed.note is None
    first = feed.items[0]
    assert first.title == "Story 0"
    assert first.link == "https://partner.example/news/0"
    assert first.canonical_url == "https://partner.example/news/0"
    assert first.summary == "Summary of story 0."
    assert first.published == NOW - timedelta(hours=1)
    assert first.categories == ("Health inequalities",)
    assert first.guid == "story-0"
    assert len({item.id for item in feed.items}) == 2


def test_atom_and_rss1():
    entries = parse(atom(3), "application/atom+xml").items
    assert [e.title for e in entries] == ["Paper 0", "Paper 1", "Paper 2"]
    assert entries[1].published == NOW - timedelta(days=1)
    assert entries[0].categories == ("Rapid learning",)
    items = parse(rdf(2), "application/rdf+xml").items
    assert [i.link for i in items] == ["https://care.example/news/0", "https://care.example/news/1"]
    assert items[1].published.day == 21


def test_stable_id_prefers_guid_then_link_then_content():
    with_guid = parse(rss(1)).items[0]
    again = parse(rss(1).replace(b"Story 0", b"Story zero")).items[0]
    assert with_guid.id == again.id  # a retitled item keeps its identity
    no_guid = rss(1).replace(b'<guid isPermaLink="false">story-0</guid>', b"")
    assert parse(no_guid).items[0].id != with_guid.id
    assert parse(no_guid).items[0].id == parse(no_guid.replace(b"Story 0", b"X")).items[0].id


def test_titles_are_plain_single_lines():
    body = rss(1).replace(
        b"<title>Story 0</title>",
        b"<title>Line one\r\nline\x0b two &lt;b&gt;bold&lt;/b&gt;\xe2\x80\xa8end</title>",
    )
    title = parse(body).items[0].title
    assert title == "Line one line two bold end"


def test_relative_links_resolve_against_the_channel_link():
    body = rss(1).replace(b"<link>https://partner.example/news/0</link>", b"<link>/news/rel</link>")
    assert parse(body).items[0].link == "https://partner.example/news/rel"


def test_dates_future_unparseable_and_missing():
    future = (NOW + timedelta(days=30)).strftime("%a, %d %b %Y %H:%M:%S +0000").encode()
    body = rss(3)
    dates = [line for line in body.split(b"<pubDate>")[1:]]
    body = body.replace(dates[0].split(b"</pubDate>")[0], future)
    body = body.replace(dates[1].split(b"</pubDate>")[0], b"sometime last week")
    body = body.replace(b"<pubDate>" + dates[2].split(b"</pubDate>")[0] + b"</pubDate>", b"")
    clamped, unreadable, missing = parse(body).items
    assert clamped.published == NOW and clamped.date_note.startswith("future date 2026-12-25")
    assert (
        unreadable.published is None
        and "unreadable date 'sometime last week'" in unreadable.date_note
    )
    assert missing.published is None and missing.date_note == "no date"


def test_html_page_names_the_feeds_it_advertises():
    page = (
        b"<!DOCTYPE html><html><head><title>Blog</title>"
        b'<link rel="alternate" type="application/rss+xml" href="/feed/">'
        b'<link rel="alternate" type="application/atom+xml" href="https://x.example/atom">'
        b"</head><body><p>Hello</p></body></html>"
    )
    with pytest.raises(FeedError) as caught:
        parse(page, "text/html")
    assert caught.value.message == (
        "an HTML page, not a feed; it advertises: "
        "https://partner.example/feed/, https://x.example/atom"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"just some text, not xml", "not a feed"),
        (
            b"<html><body>no feed</body></html>",
            "an HTML page, not a feed (and it advertises no feed)",
        ),
    ],
)
def test_unusable_bodies(body, reason):
    result = parse_feed_safely(body, URL, "src", None, NOW)
    assert isinstance(result, str) and result.startswith(reason)


def test_malformed_but_usable_feed_keeps_items_and_notes_it():
    body = rss(2).replace(b"</channel></rss>", b"<item><title>Broken & bad</title></channel>")
    feed = parse(body)
    assert [i.title for i in feed.items[:2]] == ["Story 0", "Story 1"]
    assert feed.note.startswith("malformed but readable")


def test_wrong_declared_encoding_still_reads_the_items():
    body = rss(1, encoding="latin-1").replace(b"Story 0", "Café £5".encode("latin-1"))
    body = body.replace(b'encoding="latin-1"', b'encoding="utf-8"')
    feed = parse(body)
    assert feed.items and feed.note is not None
    assert "Caf" in feed.items[0].title


def test_five_thousand_items():
    assert len(parse(rss(5000)).items) == 5000


BILLION_LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


@pytest.mark.parametrize(
    "prolog",
    [
        BILLION_LAUGHS,
        '<!DOCTYPE rss [<!ENTITY big "' + "x" * 100_000 + '">]>',
    ],
)
def test_entity_expansion_is_neutralised(prolog):
    body = rss(1, prolog=prolog)
    if "big" in prolog:
        body = body.replace(b"<title>Story 0</title>", b"<title>" + b"&big;" * 50_000 + b"</title>")
    else:
        body = body.replace(b"<title>Story 0</title>", b"<title>&lol9;</title>")
    started = time.monotonic()
    result = parse_feed_safely(body, URL, "src", None, NOW)
    assert time.monotonic() - started < 5
    text = repr(result)
    assert "lollol" not in text and "xxxxxxxxxx" not in text


def test_external_entity_never_reads_the_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    prolog = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    body = rss(1, prolog=prolog).replace(b"Story 0", b"&xxe;")
    result = parse_feed_safely(body, URL, "src", None, NOW)
    assert "TOP-SECRET" not in repr(result)


def test_neutralise_dtd_handles_utf16():
    body = rss(1, prolog='<!DOCTYPE rss [<!ENTITY a "b">]>', encoding="utf-16")
    cleaned = neutralise_dtd(body)
    assert b"ENTITY" not in cleaned and cleaned.startswith(
        b'<?xml version="1.0" encoding="utf-8"?>'
    )
    assert parse(cleaned).items[0].title == "Story 0"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://Example.ORG:443/a/b/?utm_source=x&id=3&fbclid=z#frag",
            "https://example.org/a/b?id=3",
        ),
        ("http://example.org:80", "http://example.org/"),
        ("http://example.org:8080/p/?mc_cid=1&gclid=2&q=a+b", "http://example.org:8080/p?q=a+b"),
        ("https://example.org/path?b=2&a=1", "https://example.org/path?b=2&a=1"),
    ],
)
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_text_helpers():
    assert html_to_text("<p>One</p><p>Two<script>x()</script></p><!-- c -->") == "One Two"
    assert fold(" a\t\r\n b\x00c \u2029") == "a b c"
    assert excerpt("word " * 100, 30).endswith("…") and len(excerpt("word " * 100, 30)) <= 30


def test_whitespace_before_the_xml_declaration_is_not_a_problem():
    feed = parse(b"\n\n  " + rss(1))
    assert feed.note is None and len(feed.items) == 1


def test_items_without_a_web_link_are_skipped_and_counted():
    body = rss(3).replace(b"<link>https://partner.example/news/1</link>", b"")
    body = body.replace(b"https://partner.example/news/2", b"tag:partner.example,2026:2")
    feed = parse(body)
    assert [item.title for item in feed.items] == ["Story 0"]
    assert feed.note == "2 of 3 items skipped: no web link"


def test_an_overlong_link_or_title_skips_the_item_with_a_note():
    body = rss(3).decode()
    body = body.replace("/news/0", "/news/0?" + "x" * 100_000)
    body = body.replace("Story 1", "Long " * 1_000)
    feed = parse(body.encode())
    assert [item.title for item in feed.items] == ["Story 2"]
    assert feed.note == (
        "1 of 3 items skipped: a link longer than 2,048 characters; "
        "1 of 3 items skipped: a title longer than 2,000 characters"
    )


def test_links_keep_no_control_characters():
    body = rss(1).decode().replace("/news/0", "/news/0 \x1b[2J\x9b")
    (item,) = parse(body.encode()).items
    # feedparser reads the C1 character as windows-1252 does: a harmless U+203A
    assert item.link == "https://partner.example/news/0%20%1B[2J\u203a"
