"""Properties of extract_weeknote on arbitrary input: it never raises, and what it returns holds
together (absolute http(s) URLs, one link per canonical URL, positions in order, bounded text)."""

from __future__ import annotations

import re
from html import escape
from itertools import pairwise
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.weeknote.extract import BLURB_LIMIT, TITLE_LIMIT, Weeknote, extract_weeknote

URL = "https://blog.example/weeknotes/week-1"
JUNK_HOST = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")  # spaces and controls name no host
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Links and the blocks around them come up most; furniture and oddities now and then.
TAGS = ("a",) * 6 + ("p",) * 3 + ("li",) * 2 + ("h2", "h3", "ul", "strong", "b", "div", "span")
TAGS += ("article", "main", "nav", "footer", "base", "section", "br", "h1", "aside", "form")
HREFS = st.one_of(
    st.sampled_from(
        [
            "/relative/path",
            "relative",
            "../up",
            "?q=1",
            "https://news.example/story?utm_source=x",
            "https://news.example/story/",
            "HTTP://NEWS.EXAMPLE:80/story#frag",
            "http://[::1]/v6",
            "http://[::1",
            "https://user:pw@host.example:8080/p",
            "mailto:someone@example.org",
            "javascript:alert(1)",
            " JavaScript:void(0) ",
            "data:text/html,<a href=x>x</a>",
            "//cdn.example/protocol-relative",
            "#x",
            "#",
            "",
            "   \t\n",
            "https://blog.example/weeknotes/week-1/",
            "https://twitter.com/intent/tweet?url=x",
            "/wp-login.php",
            "/pictures/photo.JPG",
            "http://",
            "https://",
            "https:///nohost",
            "https://exa mple.example/space",
            "https://\u00e9xample.example/\u00fcnicode",
            "/\x00\x01\x7f\x85control",
            "https://news.example/" + "x" * 5000,
        ]
    ),
    st.text(max_size=40),
    st.builds(lambda s: "https://" + s, st.text(max_size=30)),
)
WORDS = st.sampled_from(
    [
        *("here", "read more", "Read more.", "this report", "Register", "Book here.", "The"),
        *("https://bare.example/url", "www.bare.example", "Care homes halved falls.", "?"),
        *("&amp;", "&#8217;", "\u201cquoted\u201d", "\u2026", "", " ", "\n", "\x00", "\u2028"),
    ]
) | st.text(max_size=30)


def attributes(tag: str) -> st.SearchStrategy[str]:
    names = st.sampled_from(["class", "id", "role", "rel", "href", "title"])
    values = st.sampled_from(["share", "social-prescribing", "navigation", "tag-x", "comments"])
    extra = st.lists(st.tuples(names, values | st.text(max_size=10)), max_size=1)
    extra = st.just([]) | extra
    href = HREFS if tag in ("a", "base") else st.none()
    return st.builds(
        lambda h, pairs: "".join(
            ([f' href="{escape(h)}"'] if h is not None else [])
            + [f' {name}="{escape(value)}"' for name, value in pairs]
        ),
        href,
        extra,
    )


@st.composite
def element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(attributes(tag))
    inner = "".join(draw(st.lists(children, max_size=4)))
    close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", ""]))  # sometimes left open
    return f"<{tag}{attrs}>{inner}{close}"


HTML = st.recursive(st.builds(escape, WORDS) | WORDS, element, max_leaves=40)
# A flatter page, most blocks holding a link amid sentences: titles and blurbs get exercised.
LINK = st.builds(lambda h, text: f'<a href="{escape(h)}">{text}</a>', HREFS, WORDS)
SENTENCES = st.lists(WORDS | LINK, min_size=1, max_size=8).map(" ".join)
BLOCK = st.builds(
    lambda tag, inner: f"<{tag}>{inner}</{tag}>",
    st.sampled_from(["p", "li", "h2", "h3", "div", "blockquote"]),
    SENTENCES,
) | st.builds(lambda words: f"<p><strong>{words}</strong></p>", WORDS)
ARTICLES = st.lists(BLOCK, max_size=12).map(
    lambda blocks: f"<html><body><article>{''.join(blocks)}</article></body></html>"
)
# A <base> and a declared canonical address in the head, either of them possibly junk.
HEADS = st.builds(
    lambda base, canonical: (
        f'<head><base href="{escape(base)}">'
        f'<link rel="canonical" href="{escape(canonical)}"></head>'
    ),
    HREFS,
    HREFS,
)
PAGES = st.one_of(
    ARTICLES,
    st.builds(
        lambda head, body: f"<html>{head}<body><article>{body}</article></body></html>", HEADS, HTML
    ),
    st.builds(lambda body: f"<html><body><article>{body}</article></body></html>", HTML),
    st.builds(lambda body: f"<html><body><p>{body}</p></body></html>", HTML),
    HTML,
)


def check(note: Weeknote) -> None:
    links = [link for section in note.sections for link in section.links]
    for link in links:
        for url in (link.url, link.canonical_url):
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https"), url
            assert parts.hostname, url
            assert not JUNK_HOST.search(parts.hostname), url
        assert 0 < len(link.title) <= TITLE_LIMIT, link
        assert link.title.strip() == link.title
        assert len(link.blurb) <= BLURB_LIMIT, link
    positions = [link.position for link in links]
    assert all(a < b for a, b in pairwise(positions)), positions
    canonicals = [link.canonical_url for link in links]
    assert len(canonicals) == len(set(canonicals)), canonicals
    assert all(link.section == s.heading for s in note.sections for link in s.links)


@SETTINGS
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises(html):
    check(extract_weeknote(html, URL))


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(html):
    check(extract_weeknote(html, URL))


@SETTINGS
@given(PAGES, st.sampled_from([URL, "http://other.example/", "https://blog.example"]))
def test_random_markup_gives_well_formed_links(html, url):
    check(extract_weeknote(html, url))


@SETTINGS
@given(PAGES, st.sampled_from(["latin-1", "windows-1252", "utf-8"]))
def test_random_markup_as_declared_bytes(html, encoding):
    head = f'<meta charset="{encoding}">'
    check(extract_weeknote((head + html).encode(encoding, errors="replace"), URL))


@SETTINGS
@given(PAGES, st.integers(min_value=0, max_value=400))
def test_capped_pages_still_give_well_formed_links(html, max_bytes):
    check(extract_weeknote(html.encode(), URL, max_bytes=max_bytes))
