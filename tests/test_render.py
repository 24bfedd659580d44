"""The email as subscribers get it: issues rendered through the default Jinja2 templates and the
real mjml-python compiler, then read back with BeautifulSoup.

Most tests use a 60-item issue (6 themes x 10 items, long titles, blurbs and URLs), the size a
busy week reaches; the golden files hold a small issue whose whole output is compared byte for
byte. Set DIGEST_REGENERATE_GOLDEN=1 to rewrite them after an intended change to the templates.
"""

from __future__ import annotations

import dataclasses
import os
import quopri
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup, Comment, Tag

from digest.core.colours import MIN_CONTRAST, contrast_ratio
from digest.core.errors import RenderError
from digest.core.models import Issue, IssueItem, IssueTheme
from digest.core.settings import Branding, Config, EmailSettings, Newsletter, Theme, Tracking, Utm
from digest.curation.curate import slug
from digest.email.render import (
    RenderedEmail,
    check_html,
    default_templates,
    render_email,
    template_folders,
)
from digest.email.size import ASM_URL, CLICK_URL, sent_size
from digest.email.view import PREHEADER_LIMIT, SUBJECT_LIMIT, dark_palette, palette

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ISSUE_ID = "2026-W48"
TITLE = "Community Health Weekly"
ARCHIVE = "https://digest.community.example"
LOGO = "https://community.example/static/logo.png"
ADDRESS = "Community Health Network, 1 Park Row, Leeds LS1 5AB"
PALETTE, DARK = palette(Branding()), dark_palette(Branding())
GMAIL_CLIP = 102_000  # bytes of HTML beyond which Gmail hides the rest behind "View entire message"
# (name, emoji, colour) of the 60-item issue's themes.
THEMES = (
    ("Health inequalities", "🩺", "#7a1f5c"),
    ("Rapid learning and improvement", None, None),
    ("Digital care & video consultations", "💻", "#00703c"),
    ("Staff wellbeing", None, "#4c2c92"),
    ("Social care", "🏠", None),
    ("Other news", None, None),
)
INTRO = (
    "This week the network met in Leeds to compare notes on discharge planning, and three "
    "partners shared early results from their video clinics. Thank you to everyone who came."
)
BLURB = (
    "Commissioners, clinicians and patient representatives worked together for eighteen months "
    "to agree how the new pathway should run, which services it covers, and how progress will "
    "be measured across the region over the coming year."
)
HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{ 7*7 }}",
    "<%asm_group_unsubscribe_raw_url%>",
    "@import url(https://evil.example/x.css);",
)
ASM = ("<%asm_group_unsubscribe_raw_url%>", "<%asm_preferences_raw_url%>")
IMAGE = {
    "image": "https://www.partner-0.example.org/og/pathway.jpg",
    "image_width": 1200,
    "image_height": 630,
    "image_alt": "Clinicians and patients around a table",
}


# Building issues and configs -------------------------------------------------------------------


def make_config(branding: Branding | None = None, email: EmailSettings | None = None, **newsletter):
    """Everything set: a logo, a postal address, an archive, a SendGrid unsubscribe group."""
    return Config(
        newsletter=Newsletter(
            title=TITLE,
            website="https://community.example",
            sender="Community Health <digest@community.example>",
            **newsletter,
        ),
        themes=tuple(
            Theme(name=name, colour=colour, emoji=emoji) for name, emoji, colour in THEMES
        ),
        branding=branding or Branding(logo_url=LOGO, postal_address=ADDRESS),
        # A budget at Gmail's clip, so the 60 items all show; the default's tests set their own.
        email=email
        or EmailSettings(archive_url=ARCHIVE, unsubscribe_group=4242, size_budget=GMAIL_CLIP),
    )


def make_item(theme: str, t: int, i: int, **changes) -> IssueItem:
    """Item i of theme t: every third a weeknote link; feed items dated, except every fourth."""
    weeknote = i % 3 == 0
    url = (
        f"https://www.partner-{t}.example.org/news/2026/11/{i:02d}/"
        f"new-community-pathway-framework-published?ref=rss&section=news-{t}&page={i}"
    )
    item = IssueItem(
        url=url,
        canonical_url=url,
        title=f"Item {t}.{i}: local partners publish a new framework to widen access to "
        "community care",
        blurb=BLURB,
        source="Weeknote" if weeknote else f"Yorkshire Partner Organisation {t}",
        origin="weeknote" if weeknote else "feed",
        theme=theme,
        reason="keyword",
        published=None if weeknote or i % 4 == 1 else NOW - timedelta(days=i % 7, hours=3),
    )
    return dataclasses.replace(item, **changes)


def make_issue(per_theme: int = 10, themes=THEMES, **changes) -> Issue:
    issue_themes = []
    for t, (name, emoji, colour) in enumerate(themes):
        items = tuple(make_item(name, t, i) for i in range(per_theme))
        issue_themes.append(IssueTheme(name, slug(name), items, colour=colour, emoji=emoji))
    issue = Issue(
        id=ISSUE_ID,
        title=TITLE,
        built_at=NOW,
        window_start=NOW - timedelta(days=7),
        window_end=NOW,
        intro=INTRO,
        weeknote_title="Weeknote 48: discharge, video clinics and a new pathway",
        weeknote_url="https://community.example/weeknotes/48",
        themes=tuple(issue_themes),
        sources=(),
        warnings=(),
        skipped=(),
    )
    return dataclasses.replace(issue, **changes)


def with_theme(issue: Issue, index: int, **changes) -> Issue:
    themes = list(issue.themes)
    themes[index] = dataclasses.replace(themes[index], **changes)
    return dataclasses.replace(issue, themes=tuple(themes))


def render(issue: Issue | None = None, config: Config | None = None, folders=None):
    folders = folders or [default_templates()]
    return render_email(issue or make_issue(), config or make_config(), folders)


def parse(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def hrefs(soup: BeautifulSoup) -> list[str]:
    return [a["href"] for a in soup.find_all("a", href=True)]


@pytest.fixture(scope="module")
def email() -> RenderedEmail:
    return render()


@pytest.fixture(scope="module")
def soup(email) -> BeautifulSoup:
    return parse(email.html)


# Size and document ------------------------------------------------------------------------------


def test_a_60_item_issue_stays_well_under_gmails_clipping_limit(email):
    size = len(email.html.encode("utf-8"))
    print(f"\n60 items: {size:,} bytes of HTML ({size / GMAIL_CLIP:.0%} of Gmail's limit)")
    assert sum(len(theme.items) for theme in make_issue().themes) == 60
    # A fifth of the limit spare: room for longer blurbs or a few more items than today's cap.
    assert size < 0.8 * GMAIL_CLIP
    text = len(email.text.encode("utf-8"))
    assert 10_000 < text < size / 1.5  # every item's title, blurb and URL, without the markup


def test_the_document_declares_language_title_viewport_and_colour_schemes(email, soup):
    assert soup.html["lang"] == "en"
    assert soup.title.string == email.subject != ""
    assert soup.find("meta", attrs={"name": "viewport"})["content"].startswith("width=device-width")
    assert soup.find("meta", attrs={"name": "color-scheme"})["content"] == "light dark"
    dark = [s for s in soup.find_all("style") if "prefers-color-scheme: dark" in s.text]
    assert len(dark) == 1


def test_the_logo_has_alt_text_the_title_by_default_or_the_configured_one(soup):
    (logo,) = soup.find_all("img")
    assert logo["src"] == LOGO and logo["alt"] == TITLE
    branding = Branding(logo_url=LOGO, logo_alt="The network's logo", postal_address=ADDRESS)
    custom = parse(render(config=make_config(branding=branding)).html)
    assert [img["alt"] for img in custom.find_all("img")] == ["The network's logo"]


def test_without_a_logo_there_is_no_image():
    branding = Branding(postal_address=ADDRESS)
    assert parse(render(config=make_config(branding=branding)).html).find_all("img") == []


def test_one_h1_and_one_h2_per_theme_named_and_anchored_by_its_slug(soup):
    (h1,) = soup.find_all("h1")
    assert h1.get_text() == TITLE
    headings = [(h2.get_text(), h2.get("id")) for h2 in soup.find_all("h2")]
    expected = [(f"{emoji} {name}" if emoji else name, slug(name)) for name, emoji, _ in THEMES]
    assert headings == expected
    assert headings[2] == (
        "💻 Digital care & video consultations",
        "digital-care-and-video-consultations",
    )


def test_the_output_is_deterministic():
    """mjml-python writes no ids, dates or versions, so the golden files need no normalising."""
    assert render().html == render().html


# Safety -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile() -> tuple[RenderedEmail, str]:
    """An issue whose feed-supplied text holds every hostile string, all in one."""
    bad = " ".join(HOSTILE)
    issue = make_issue(intro=f"Intro {bad}", weeknote_title=f"Weeknote {bad}")
    first = make_item(THEMES[0][0], 0, 1, title=f"Title {bad}", blurb=f"Blurb {bad}")
    issue = with_theme(issue, 0, items=(first, *issue.themes[0].items[1:]))
    second = make_item(THEMES[1][0], 1, 1, source=f"Source {bad}")
    issue = with_theme(issue, 1, items=(second, *issue.themes[1].items[1:]))
    return render(issue), bad


def test_hostile_feed_text_is_escaped_into_text_and_never_evaluated(hostile):
    email, bad = hostile
    soup = parse(email.html)
    assert soup.find_all(["script", "form", "iframe", "object", "embed"]) == []
    assert [img["src"] for img in soup.find_all("img")] == [LOGO]  # no injected <img>
    for element in soup.find_all(True):
        for name, value in element.attrs.items():
            value = " ".join(value) if isinstance(value, list) else value
            assert not name.lower().startswith("on"), element
            assert "javascript:" not in value.lower(), element
    # Each string arrives whole, as the text the reader sees: escaped, and not run by Jinja2.
    title = soup.find("a", string=re.compile("^Title "))
    assert title.get_text() == f"Title {bad}"
    assert soup.find(string=re.compile("^Blurb ")).strip() == f"Blurb {bad}"
    source = soup.find("p", class_="muted", string=re.compile("^Source "))
    assert source.get_text().startswith(f"Source {bad}")
    assert soup.find("p", string=f"Intro {bad}") is not None
    assert f"Weeknote {bad}" in soup.get_text()
    assert "49" not in soup.get_text().replace("2026-W48", "")
    # The ASM tag is live only in the footer's links: as feed text it reaches SendGrid escaped.
    assert email.html.count(ASM[0]) == 1
    assert email.html.count("&lt;%asm_group_unsubscribe_raw_url%&gt;") == 5  # 5 fields
    assert f"Title {bad}" in " ".join(email.text.split())  # plain text keeps it as the feed said


def test_a_javascript_url_reaching_the_renderer_stops_the_email_and_names_the_item():
    # Feeds keep only http(s) links; if one slipped through, the check is the last guard.
    issue = make_issue()
    bad = make_item("x", 0, 0, url="javascript:alert(1)", title="A bad link")
    issue = with_theme(issue, 0, items=(bad,))
    with pytest.raises(RenderError) as raised:
        render(issue)
    assert raised.value.message == (
        "the item 'A bad link' links to a javascript: URL, which an email must not carry"
    )
    assert "overrides file" in raised.value.hint and "template" not in raised.value.hint


def test_a_headline_that_mentions_javascript_is_text_not_a_url():
    # Text attributes (alt, title, aria-label) are escaped when written, never refused.
    headline = "JavaScript: the good parts"
    image = {**IMAGE, "image_alt": headline}
    pick = make_item(THEMES[0][0], 0, 0, title=headline, lead=1, **image)
    email = render(with_theme(make_issue(), 0, items=(pick,)))
    (image,) = parse(email.html).find_all("img", alt=headline)
    assert image["src"] == IMAGE["image"]
    check_html(f'<p><a href="https://x.example/" aria-label="{headline}" title="{headline}">x</a>')


def test_every_link_is_absolute(soup):
    for href in hrefs(soup):
        if href not in ASM:
            parts = urlsplit(href)
            assert parts.scheme in ("http", "https") and parts.netloc, href
    assert sorted(href for href in hrefs(soup) if href in ASM) == sorted(ASM)
    for element in soup.find_all(src=True):
        assert urlsplit(element["src"]).scheme == "https"


def test_no_stylesheet_or_web_font_is_fetched(email, soup):
    assert soup.find_all("link") == []
    for needle in ("@import", "@font-face", "fonts.googleapis", "fonts.gstatic"):
        assert needle not in email.html


@pytest.mark.parametrize(
    "html, problem",
    [
        ("<p>ok</p><script>x()</script>", "<script> element"),
        ('<p onclick="x()">hi</p>', "event handler attribute (onclick)"),
        ('<a href=" java\nscript:x()">hi</a>', "javascript: URL in a.href"),
        ('<a href="VBScript:x()">hi</a>', "vbscript: URL in a.href"),
        ('<a href="data:text/html,<b>x">hi</a>', "data: URL in a.href"),
        (
            '<img srcset="https://x.example/a.png 1x, javascript:x() 2x">',
            "javascript: URL in img.srcset",
        ),
        ('<td background="javascript:x()">hi</td>', "javascript: URL in td.background"),
        ("<p style=\"background:url( 'javascript:x()')\">hi</p>", "javascript: URL in p.style"),
        ('<link rel="stylesheet" href="https://fonts.googleapis.com/css">', "external stylesheet"),
        ("<style>@import url(https://x.example/a.css);</style>", "stylesheet or web font"),
        ("<style>@font-face { font-family: X; src: url(x.woff) }</style>", "web font"),
        ('<p style="font-family:X;@import url(y)">hi</p>', "web font"),
        ("<!--[if mso]><style>@import url(y);</style><![endif]-->", "web font"),
    ],
)
def test_check_html_refuses_code_forms_and_fetched_styles(html, problem):
    with pytest.raises(RenderError) as raised:
        check_html(f"<!doctype html><html><head></head><body>{html}</body></html>")
    assert problem in raised.value.message


def test_check_html_allows_feed_text_that_merely_mentions_css_or_javascript():
    # A post titled "Why @import slows pages down" must not stop the email.
    check_html(
        "<html><body><p>Why @import and @font-face slow pages; javascript: URLs explained;"
        " &lt;script&gt;</p></body></html>"
    )


# Colour contrast --------------------------------------------------------------------------------

_COLOUR = re.compile(r"(?:^|;)\s*color:\s*(#[0-9a-fA-F]{6})")
_BACKGROUND = re.compile(r"(?:^|;)\s*background(?:-color)?:\s*(#[0-9a-fA-F]{6})")
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def dark_rules(soup: BeautifulSoup) -> list[tuple[str, str, str]]:
    """(selector, property, colour) of each declaration in the dark-mode media query."""
    (style,) = [s.text for s in soup.find_all("style") if "prefers-color-scheme: dark" in s.text]
    block = style.split("prefers-color-scheme: dark", 1)[1].split("{", 1)[1]
    rules = []
    for selectors, body in _RULE.findall(block):
        for prop, value in re.findall(
            r"(background|color|border-left-color)\s*:\s*(#[0-9a-fA-F]{6})", body
        ):
            rules.extend((s.strip(), prop, value.lower()) for s in selectors.split(","))
    return rules


def text_colours(soup: BeautifulSoup, dark: bool = False) -> set[tuple[str, str]]:
    """(text colour, background) under every visible piece of text, from the inline styles and,
    when `dark`, the dark-mode rules on top (they are !important, so they win over inline)."""
    override: dict[int, dict[str, str]] = {}
    for selector, prop, value in dark_rules(soup) if dark else ():
        if prop == "border-left-color":
            continue
        for element in soup.select(selector):
            override.setdefault(id(element), {})[prop] = value

    def nearest(node, prop: str, pattern: re.Pattern) -> str:
        for element in node.parents:
            if prop in override.get(id(element), {}):
                return override[id(element)][prop]
            if match := pattern.search(element.get("style", "")):
                return match.group(1).lower()
        raise AssertionError(f"no {prop} above {node!r}")

    pairs = set()
    for node in soup.body.find_all(string=True):
        if isinstance(node, Comment) or not node.strip(" \n\u034f\u00a0"):
            continue
        styles = [p.get("style", "").replace(" ", "") for p in node.parents if isinstance(p, Tag)]
        if any("display:none" in style for style in styles):
            continue  # the preheader, read by the inbox list and not shown
        pairs.add((nearest(node, "color", _COLOUR), nearest(node, "background", _BACKGROUND)))
    return pairs


def test_every_text_colour_has_enough_contrast_with_what_it_sits_on(soup):
    pairs = text_colours(soup)
    accent, white = Branding().accent_colour, "#ffffff"
    assert pairs == {
        (PALETTE["text"], PALETTE["card"]),  # blurbs, intro, headings
        (accent, PALETTE["card"]),  # links
        (PALETTE["muted"], PALETTE["card"]),  # source and date
        (PALETTE["muted"], PALETTE["page"]),  # the footer
        (white, accent),  # the header band
    }
    for colour, background in pairs:
        assert contrast_ratio(colour, background) >= MIN_CONTRAST, (colour, background)


def test_dark_mode_repaints_cards_and_text_and_keeps_the_contrast(soup):
    repainted = {value for _, prop, value in dark_rules(soup) if prop != "border-left-color"}
    assert repainted == set(DARK.values()) - {DARK["accent"]}  # the accent marks borders only
    pairs = text_colours(soup, dark=True)
    assert pairs == {
        (DARK["text"], DARK["card"]),
        (DARK["link"], DARK["card"]),
        (DARK["muted"], DARK["card"]),
        (DARK["muted"], DARK["page"]),
        ("#ffffff", Branding().accent_colour),  # the header band keeps its colour
    }
    for colour, background in pairs:
        assert contrast_ratio(colour, background) >= MIN_CONTRAST, (colour, background)


# Links and tagging ------------------------------------------------------------------------------


def tagged(url: str, theme: str) -> str:
    """`url` with our utm parameters, written out by hand; a fragment stays last."""
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    utm = f"utm_source=digest&utm_medium=email&utm_campaign={ISSUE_ID}&utm_content={slug(theme)}"
    return f"{base}{joiner}{utm}" + (f"#{fragment}" if fragment else "")


def test_every_item_link_is_tagged_with_the_issue_and_its_theme(email, soup):
    links = set(hrefs(soup))
    for item in make_issue().items():
        assert tagged(item.url, item.theme) in links
        assert f"  {tagged(item.url, item.theme)}" in email.text.splitlines()
    weeknote = soup.find("a", string=re.compile("^Read the full weeknote"))
    query = parse_qs(urlsplit(weeknote["href"]).query)
    assert query["utm_campaign"] == [ISSUE_ID] and query["utm_content"] == ["intro"]


def test_tagging_keeps_queries_fragments_and_links_that_carry_their_own_utm():
    urls = {
        "plain": "https://a.example/report",
        "query": "https://a.example/report?id=7&lang=en",
        "fragment": "https://a.example/report?id=7#findings",
        "bare-fragment": "https://a.example/report#top",
        "own": "https://a.example/report?utm_source=newsletter&id=7",
        "own-upper": "https://a.example/report?id=7&UTM_Campaign=x#top",
    }
    items = tuple(
        make_item("Health inequalities", 0, i, url=url) for i, url in enumerate(urls.values())
    )
    email = render(with_theme(make_issue(per_theme=1), 0, items=items))
    links = set(hrefs(parse(email.html)))
    theme = "Health inequalities"
    assert "https://a.example/report?" + tagged("", theme)[1:] in links
    for key in ("query", "fragment", "bare-fragment"):
        assert tagged(urls[key], theme) in links, key
    for key in ("own", "own-upper"):
        assert urls[key] in links, key  # untouched
        assert f"  {urls[key]}" in email.text.splitlines()


def test_tagging_can_be_turned_off():
    email = render(config=make_config(email=EmailSettings(utm=Utm(enabled=False))))
    assert "utm_" not in email.html and "utm_" not in email.text
    assert make_issue().themes[0].items[0].url in hrefs(parse(email.html))


# Subject, preheader, header ---------------------------------------------------------------------


def test_the_subject_follows_the_template_in_the_newsletters_time_zone(email):
    config = make_config(subject="{title}: {date} — {top_theme}")
    # Cut at a word to 60 characters.
    assert render(config=config).subject == f"{TITLE}: 25 November 2026 — Health…"
    late = make_issue(built_at=datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    config = make_config(subject="{title} {issue}, {date}", timezone="Pacific/Auckland")
    assert render(late, config).subject == f"{TITLE} {ISSUE_ID}, 26 November 2026"


def test_the_preheader_is_the_intros_start_then_invisible_padding(email, soup):
    assert email.preheader == (
        "This week the network met in Leeds to compare notes on discharge planning, and three…"
    )
    assert len(email.preheader) <= PREHEADER_LIMIT
    hidden = soup.body.find("div", style=re.compile("display:none"))
    assert hidden.get_text().startswith(email.preheader)
    padding = hidden.get_text()[len(email.preheader) :]
    assert len(padding) >= 100 and set(padding) == {"\u034f", "\u00a0"}


def test_without_an_intro_the_preheader_lists_the_themes():
    email = render(make_issue(intro=""))
    assert email.preheader.startswith("In this issue: Health inequalities, Rapid learning")
    assert len(email.preheader) <= PREHEADER_LIMIT and email.preheader.endswith("…")
    assert "discharge planning" not in email.html + email.text  # no intro paragraph
    assert "Read the full weeknote" in email.html  # the weeknote link stays


def test_the_browser_link_needs_an_archive(soup, email):
    link = soup.find("a", string="View in your browser")
    assert link["href"] == f"{ARCHIVE}/issues/{ISSUE_ID}/"
    assert f"View in your browser: {ARCHIVE}/issues/{ISSUE_ID}/" in email.text
    slash = render(config=make_config(email=EmailSettings(archive_url=ARCHIVE + "/")))
    assert f'href="{ARCHIVE}/issues/{ISSUE_ID}/"' in slash.html
    bare = render(config=make_config(email=EmailSettings()))
    assert "View in your browser" not in bare.html and "View in your browser" not in bare.text


def test_a_capped_theme_links_the_rest_in_the_archive_only_when_there_is_one():
    extra = tuple(make_item("Social care", 4, i) for i in range(10, 13))
    issue = with_theme(make_issue(), 4, more=extra)
    archived = render(issue)
    link = parse(archived.html).find("a", string="3 more in the archive")
    assert link["href"] == f"{ARCHIVE}/issues/{ISSUE_ID}/#social-care"
    assert f"3 more in the archive: {ARCHIVE}/issues/{ISSUE_ID}/#social-care" in archived.text
    local = render(issue, make_config(email=EmailSettings()))
    # With no archive there is nowhere to read the rest: nothing links nowhere.
    assert " more " not in parse(local.html).get_text() + local.text


def test_a_local_weeknote_file_is_not_linked():
    email = render(make_issue(weeknote_url="file:///home/editor/weeknote.html"))
    assert "Read the full weeknote" not in email.html + email.text
    assert "file:" not in email.html + email.text


# Footer -----------------------------------------------------------------------------------------


def footer(soup: BeautifulSoup) -> Tag:
    return soup.find("div", class_="foot")


def test_the_footer_uses_sendgrids_links_when_there_is_an_unsubscribe_group(soup, email):
    links = {a.get_text(): a["href"] for a in footer(soup).find_all("a")}
    assert links == {"Unsubscribe": ASM[0], "Email preferences": ASM[1]}
    assert ADDRESS in footer(soup).get_text()
    assert f"subscribed to {TITLE}." in footer(soup).get_text()
    assert f"Unsubscribe: {ASM[0]}" in email.text and ADDRESS in email.text
    assert email.warnings == ()


def test_the_footer_links_the_configured_pages_without_a_group():
    settings = EmailSettings(
        unsubscribe_url="https://community.example/unsubscribe",
        preferences_url="https://community.example/preferences",
    )
    email = render(config=make_config(email=settings))
    links = {a.get_text(): a["href"] for a in footer(parse(email.html)).find_all("a")}
    assert links == {
        "Unsubscribe": "https://community.example/unsubscribe",
        "Email preferences": "https://community.example/preferences",
    }
    assert "Unsubscribe: https://community.example/unsubscribe" in email.text
    assert "asm_" not in email.html + email.text


def test_a_footer_without_unsubscribe_or_address_is_rendered_with_warnings():
    email = render(config=make_config(branding=Branding(), email=EmailSettings()))
    assert len(email.warnings) == 2
    assert "no unsubscribe link" in email.warnings[0]
    assert "no postal address" in email.warnings[1]
    assert footer(parse(email.html)).find_all("a") == []
    assert "Unsubscribe" not in email.text


# Plain text -------------------------------------------------------------------------------------


def test_the_plain_text_has_every_item_and_theme_wrapped_at_72_columns(email):
    lines = email.text.splitlines()
    flat = " ".join(email.text.split())
    for theme in make_issue().themes:
        assert f"- {theme.name}" in lines  # the contents
        heading = lines.index(theme.name.upper())
        assert lines[heading + 1] == "=" * len(theme.name)
        for item in theme.items:
            assert f"* {item.title}" in flat
            assert f"  {tagged(item.url, theme.name)}" in lines
    for line in lines:
        assert len(line) <= 72 or "://" in line, line
    assert not re.search(r"</?[a-zA-Z][^>]*>", email.text)
    assert "&amp;" not in email.text and "Digital care & video consultations" in email.text
    # Under each title: its source, and its date when the feed gave one.
    assert lines[lines.index("  Yorkshire Partner Organisation 0") - 2 :][:2] == [
        "* Item 0.1: local partners publish a new framework to widen access to",
        "  community care",
    ]
    assert "  Yorkshire Partner Organisation 0, 23 Nov" in lines and "  Weeknote" in lines


def test_item_dates_are_days_in_the_newsletters_time_zone():
    late = make_item("Social care", 0, 2, published=datetime(2026, 11, 23, 20, 0, tzinfo=UTC))
    issue = with_theme(make_issue(per_theme=1), 0, items=(late,))
    london = render(issue).text
    auckland = render(issue, make_config(timezone="Pacific/Auckland")).text  # UTC+13
    assert "  Yorkshire Partner Organisation 0, 23 Nov" in london.splitlines()
    assert "  Yorkshire Partner Organisation 0, 24 Nov" in auckland.splitlines()


def test_long_plain_text_lines_wrap_but_urls_never_break():
    name = "The Long-Named Regional Partnership for Community Health and Social Care Research"
    issue = with_theme(make_issue(), 0, items=(make_item("x", 0, 2, source=name),))
    lines = render(issue).text.splitlines()
    start = lines.index("  The Long-Named Regional Partnership for Community Health and Social")
    assert lines[start + 1] == "  Care Research, 23 Nov"
    assert f"  {tagged(make_item('x', 0, 2).url, 'Health inequalities')}" in lines


# Templates: errors and overrides ----------------------------------------------------------------


def custom(tmp_path: Path, name: str, text: str) -> list[Path]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [tmp_path, default_templates()]


FOOTER = "partials/footer.mjml.j2"


@pytest.mark.parametrize(
    "text, line, message",
    [
        (
            "{# a comment\n   on two lines #}\n<mj-section>\n  <mj-column>\n"
            "    <mj-foo>x</mj-foo>\n  </mj-column>\n</mj-section>\n",
            5,
            "unknown MJML tag <mj-foo>",
        ),
        (
            "<mj-section>\n  <mj-column>\n    <mj-text>x</mj-column>\n"
            "  </mj-text>\n</mj-section>\n",
            3,
            "</mj-column> does not close the open tag (<mj-text> from line 3)",
        ),
        (
            "<mj-section>\n  <mj-column>\n    <mj-text>x</mj-text>\n",
            1,
            "<mj-section> is never closed",
        ),
        (
            "<mj-section>\n  <mj-column>\n    <mj-text>{% if why %}x</mj-text>\n"
            "  </mj-column>\n</mj-section>\n",
            3,
            "Unexpected end of template",
        ),
        (
            "<mj-section>\n  <mj-column>\n\n    <mj-text>{{ sender }}</mj-text>\n"
            "  </mj-column>\n</mj-section>\n",
            4,
            "'sender' is undefined",
        ),
    ],
    ids=["unknown-tag", "mismatched-tag", "unclosed-tag", "jinja-syntax", "undefined-variable"],
)
def test_a_broken_template_names_its_file_and_line(tmp_path, text, line, message):
    with pytest.raises(RenderError) as raised:
        render(folders=custom(tmp_path, FOOTER, text))
    assert f"{tmp_path / FOOTER}:{line}: {message}" in raised.value.message
    assert raised.value.message.count("<mj-foo>") <= 1  # said once, not again at </mj-foo>


def test_an_undefined_attribute_in_an_item_names_the_item_template(tmp_path):
    folders = custom(tmp_path, "partials/item.mjml.j2", "<p>\n{{ item.summary }}</p>\n")
    with pytest.raises(RenderError, match=r"item\.mjml\.j2:2: .*has no attribute 'summary'"):
        render(folders=folders)


def test_an_undefined_variable_in_the_text_template_names_it(tmp_path):
    folders = custom(tmp_path, "digest.txt.j2", "{{ title }}\n{{ signature }}\n")
    with pytest.raises(RenderError) as raised:
        render(folders=folders)
    assert f"{tmp_path / 'digest.txt.j2'}:2: 'signature' is undefined" in raised.value.message


def test_a_template_that_adds_a_script_is_refused(tmp_path):
    text = (
        "<mj-section>\n  <mj-column>\n    <mj-raw><script>track()</script></mj-raw>\n"
        "  </mj-column>\n</mj-section>\n"
    )
    with pytest.raises(RenderError, match="<script> element"):
        render(folders=custom(tmp_path, FOOTER, text))


def test_a_template_that_loads_a_web_font_is_refused(tmp_path):
    default = (default_templates() / "digest.mjml.j2").read_text(encoding="utf-8")
    font = '<mj-font name="Lato" href="https://fonts.googleapis.com/css?family=Lato" />\n'
    text = default.replace("<mj-attributes>", font + "<mj-attributes>").replace(
        "{{ fonts }}", "Lato, Arial"
    )
    with pytest.raises(RenderError, match="external stylesheet"):
        render(folders=custom(tmp_path, "digest.mjml.j2", text))


def test_overriding_one_partial_keeps_the_defaults_for_the_rest(tmp_path):
    text = '<p><a href="{{ item.url }}">» {{ item.title }}</a></p>\n'
    email = render(folders=custom(tmp_path, "partials/item.mjml.j2", text))
    soup = parse(email.html)
    assert len(soup.find_all("a", string=re.compile("^» Item "))) == 60
    assert soup.find("h1").get_text() == TITLE  # the default header
    assert len(soup.find_all("h2")) == 6  # the default theme partial
    assert footer(soup).find("a", string="Unsubscribe") is not None  # the default footer
    assert "* Item 0.0" in email.text  # the default text template


def test_templates_are_looked_up_in_the_editors_folder_then_the_defaults(tmp_path):
    config = dataclasses.replace(
        make_config(email=EmailSettings(templates="mine")), path=tmp_path / "feeds.yaml"
    )
    assert template_folders(config) == [tmp_path / "mine", default_templates()]
    assert template_folders(config, tmp_path / "cli") == [tmp_path / "cli", default_templates()]
    assert template_folders(make_config()) == [default_templates()]


# Golden files -----------------------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"


def golden_issue() -> Issue:
    """3 themes, 7 items: a weeknote link, dated and undated feed items, a capped theme."""
    themes = THEMES[:3]
    issue = make_issue(per_theme=3, themes=themes)
    first = issue.themes[0].items
    pick = dataclasses.replace(first[1], lead=1, **IMAGE)
    issue = with_theme(issue, 0, items=(first[0], pick, first[2]))
    issue = with_theme(issue, 1, items=issue.themes[1].items[:1])
    return with_theme(issue, 2, more=(make_item(themes[2][0], 2, 9),))


def golden_config() -> Config:
    branding = Branding(
        logo_url=LOGO,
        logo_alt="Community Health Network",
        accent_colour="#1d5b8f",
        footer_text="Send us your news: news@community.example",
        postal_address=ADDRESS,
    )
    return make_config(branding=branding)


def normalise(text: str) -> str:
    """The volatile parts of the output: none (see test_the_output_is_deterministic), so only
    line endings, in case a checkout turned the golden files' into CRLF."""
    return text.replace("\r\n", "\n")


@pytest.fixture(scope="module")
def golden() -> RenderedEmail:
    return render(golden_issue(), golden_config())


@pytest.mark.parametrize("kind", ["html", "txt", "mjml"])
def test_the_small_issue_matches_the_golden_files(golden, kind, capsys):
    actual = normalise({"html": golden.html, "txt": golden.text, "mjml": golden.mjml}[kind])
    path = GOLDEN / f"issue.{kind}"
    if os.environ.get("DIGEST_REGENERATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        with capsys.disabled():
            print(f"\nregenerated {path}")
        return
    if not path.is_file():
        pytest.fail(f"{path} is missing: run with DIGEST_REGENERATE_GOLDEN=1 to write it")
    expected = normalise(path.read_text(encoding="utf-8"))
    if actual != expected:
        at = next(
            i
            for i, (a, b) in enumerate(zip(actual + "\0", expected + "\0", strict=False))
            if a != b
        )
        line = expected.count("\n", 0, at) + 1
        pytest.fail(
            f"{path.name} differs from line {line}:\n  expected …{expected[at - 80 : at + 80]!r}"
            f"\n  rendered …{actual[at - 80 : at + 80]!r}\n"
            "if the change is intended, run with DIGEST_REGENERATE_GOLDEN=1 and review the diff"
        )


def test_the_small_issue_has_the_expected_structure(golden):
    soup = parse(golden.html)
    assert golden.subject == "Item 0.1: local partners publish a new framework to widen…"
    assert soup.title.string == golden.subject
    assert soup.find("img")["alt"] == "Community Health Network"
    assert [(h2["id"], h2.get_text()) for h2 in soup.find_all("h2")] == [
        ("editors-picks", "Editor's picks"),
        ("health-inequalities", "🩺 Health inequalities"),
        ("rapid-learning-and-improvement", "Rapid learning and improvement"),
        ("digital-care-and-video-consultations", "💻 Digital care & video consultations"),
    ]
    items = soup.find_all("a", string=re.compile(r"^Item \d\.\d: "))
    assert [a.get_text()[:8] for a in items] == [
        "Item 0.1",  # the editor's pick, first and not again in its theme
        "Item 0.0",
        "Item 0.2",
        "Item 1.0",
        "Item 2.0",
        "Item 2.1",
        "Item 2.2",
    ]
    meta = [line.get_text() for line in soup.find_all("p", class_="muted")]
    assert meta[:3] == [
        "Yorkshire Partner Organisation 0",
        "Weeknote",
        "Yorkshire Partner Organisation 0 · 23 Nov",
    ]
    more = soup.find("a", string="1 more in the archive")
    assert more["href"] == f"{ARCHIVE}/issues/{ISSUE_ID}/#digital-care-and-video-consultations"
    assert "Send us your news" in footer(soup).get_text()
    # The theme's own colour marks its heading; a theme without one takes the accent.
    borders = [
        re.search(r"border-left:4px solid (#\w+)", h2["style"]).group(1) for h2 in soup("h2")
    ]
    assert borders == ["#1d5b8f", "#7a1f5c", "#1d5b8f", "#00703c"]


# Hierarchy, reading on a phone, dark mode, size -------------------------------------------------


def with_picks(issue: Issue, *positions: tuple[int, int]) -> Issue:
    """`issue` with the items at (theme, index) positions made picks 1, 2, ..., in that order."""
    for rank, (t, i) in enumerate(positions, 1):
        items = list(issue.themes[t].items)
        items[i] = dataclasses.replace(items[i], lead=rank)
        issue = with_theme(issue, t, items=tuple(items))
    return issue


@pytest.fixture(scope="module")
def picked() -> RenderedEmail:
    issue = with_picks(make_issue(), (2, 1), (0, 2))
    items = list(issue.themes[2].items)
    items[1] = dataclasses.replace(items[1], **IMAGE)
    return render(with_theme(issue, 2, items=tuple(items)))


def test_the_lead_comes_first_and_its_picks_are_not_repeated_in_their_themes(picked):
    soup = parse(picked.html)
    (first, *themes) = soup.find_all("h2")
    assert first["id"] == "editors-picks" and len(themes) == 6
    titles = [a.get_text() for a in soup.find_all("a", string=re.compile(r"^Item \d\.\d: "))]
    assert [title[:8] for title in titles[:2]] == ["Item 2.1", "Item 0.2"]
    assert len(titles) == len(set(titles)) == 60  # each once
    (image,) = [img for img in soup.find_all("img") if img["src"] == IMAGE["image"]]
    assert image["alt"] == IMAGE["image_alt"]
    assert (image["width"], image["height"]) == ("518", "272")  # scaled to the card
    text = picked.text
    assert text.index("EDITOR'S PICKS") < text.index("* Item 2.1") < text.index("In this issue:")
    assert text.count("* Item 2.1:") == 1


def test_a_picks_blurb_is_one_sentence_and_item_blurbs_never_repeat_their_title():
    title = "Item 0.0: local partners publish a new framework to widen access to community care"
    blurb = f"{title}. It was agreed in June. Work starts next year."
    issue = with_picks(make_issue(per_theme=2), (0, 0))
    issue = with_theme(
        issue, 0, items=(dataclasses.replace(issue.themes[0].items[0], blurb=blurb),)
    )
    issue = with_theme(
        issue, 1, items=(dataclasses.replace(issue.themes[1].items[0], blurb=BLURB * 2),)
    )
    soup = parse(render(issue).html)
    blurbs = [line.get_text() for line in soup.find_all("p", dir="auto")][1:]  # the intro first
    assert blurbs[0] == "It was agreed in June."
    assert all(len(blurb) <= 200 for blurb in blurbs) and blurbs[1].endswith("…")
    long = dataclasses.replace(issue.themes[0].items[0], blurb=BLURB)
    why = parse(render(with_theme(issue, 0, items=(long,))).html).find_all("p", dir="auto")[1]
    assert why.get_text().endswith("…") and len(why.get_text()) <= 120  # one line of why


def test_without_an_intro_the_preheader_names_the_picks():
    issue = with_picks(make_issue(intro=""), (1, 0))
    assert render(issue).preheader.startswith("Editor's picks: Item 1.0: local partners")


def test_the_default_subject_leads_with_the_top_story_in_60_characters(picked):
    assert picked.subject == "Item 2.1: local partners publish a new framework to widen…"
    assert len(picked.subject) <= SUBJECT_LIMIT
    short = with_picks(make_issue(), (0, 0))
    items = (dataclasses.replace(short.themes[0].items[0], title="Virtual wards cut readmissions"),)
    issue = with_theme(short, 0, items=items)
    assert render(issue).subject == "Virtual wards cut readmissions"
    dated = render(issue, make_config(subject="{title}: {lead}"))
    assert dated.subject == f"{TITLE}: Virtual wards cut readmissions"


def test_no_inline_font_size_is_under_14px(soup, picked):
    for email in (soup, parse(picked.html)):
        for element in email.body.find_all(style=True):
            if "display:none" in element["style"].replace(" ", ""):
                continue  # the preheader, never shown
            # 0px: MJML's layout cells, which close the gaps between columns and hold no text
            for size in re.findall(r"font-size:\s*(\d+)px", element["style"]):
                assert int(size) >= 14 or size == "0", element


def tap_height(style: str) -> int:
    """The height of a one-line link: its line height and its top and bottom padding."""
    declared = dict(part.split(":", 1) for part in style.split(";") if ":" in part)
    padding = [int(v.removesuffix("px")) for v in declared["padding"].split()]
    vertical = padding[0] + (padding[2] if len(padding) > 2 else padding[0])
    return int(declared["line-height"].removesuffix("px")) + vertical


def test_every_link_a_finger_needs_is_a_44px_tap_target(soup, picked):
    taps = [a for a in soup.find_all("a") if "padding:12px 0" in a.get("style", "")]
    assert {a.get_text() for a in taps} >= {"Unsubscribe", "Email preferences", THEMES[0][0]}
    for a in taps:
        assert "display:inline-block" in a["style"] and tap_height(a["style"]) >= 44
    for email in (soup, parse(picked.html)):
        titles = email.find_all("a", string=re.compile(r"^Item "))
        assert len(titles) == 60
        for a in titles:
            assert "display:block" in a["style"] and tap_height(a["style"]) >= 44, a
            assert a["dir"] == "auto"


def test_picks_are_cards_and_theme_items_are_lighter_than_them_and_apart_from_blurbs(picked):
    soup = parse(picked.html)
    (card, second) = soup.find_all("div", class_="pick")
    bordered = card.find("td", style=re.compile(r"border:1px solid #"))
    assert bordered is not None and "border-radius:8px" in bordered["style"]
    assert card.find("img")["src"] == IMAGE["image"]  # the image when a safe one is known
    assert second.find("img") is None
    (source, why) = card.find_all("p")
    assert source["class"] == ["muted"] and source.get_text() == "Yorkshire Partner Organisation 2"
    assert why.get_text().startswith("Commissioners") and len(why.get_text()) <= 120
    assert card.find("h3").get_text().startswith("Item 2.1")

    def size(style: str) -> int:
        return int(re.search(r"font-size:(\d+)px", style).group(1))

    pick_title = card.find("h3")
    item = soup.find("a", string=re.compile(r"^Item 0\.0"))
    blurb = item.find_next("p", dir="auto")
    assert size(pick_title["style"]) > size(item["style"]) > size(blurb["style"])
    assert "font-weight:600" in item["style"] and "font-weight" not in blurb["style"]
    assert "text-decoration:none" in item["style"]


def test_the_contents_links_the_archive_anchors_only_when_there_is_an_archive(soup):
    contents = soup.find("strong", string="In this issue:").parent
    links = [a["href"] for a in contents.find_all("a")]
    assert links == [f"{ARCHIVE}/issues/{ISSUE_ID}/#{slug(name)}" for name, _, _ in THEMES]
    bare = parse(render(config=make_config(email=EmailSettings())).html)
    contents = bare.find("strong", string="In this issue:").parent
    assert contents.find_all("a") == [] and "Social care" in contents.get_text()
    assert not any(href.startswith("#") for href in hrefs(bare))


def test_theme_colours_have_dark_variants_with_3_to_1_against_the_dark_card(email, soup):
    for scope in ("prefers-color-scheme: dark", "[data-ogsc] .theme-"):
        assert scope in email.html
    borders = {s: v for s, prop, v in dark_rules(soup) if prop == "border-left-color"}
    for name, _, _ in THEMES:
        dark = borders[f".theme-{slug(name)}"]
        assert contrast_ratio(dark, DARK["card"]) >= 3
        assert soup.find("h2", id=slug(name))["class"] == [f"theme-{slug(name)}"]
    assert contrast_ratio("#4c2c92", DARK["card"]) < 3  # lightened, not kept
    if soup.find("h2", id="editors-picks"):  # the picks' mark too
        assert contrast_ratio(borders[".picks"], DARK["card"]) >= 3


def test_the_logos_alt_text_is_readable_with_images_off(soup):
    (logo,) = soup.find_all("img")
    style = logo["style"].replace(" ", "")
    assert "color:#ffffff" in style and "font-size:16px" in style
    assert contrast_ratio("#ffffff", Branding().accent_colour) >= MIN_CONTRAST


# Size as Gmail counts it -----------------------------------------------------------------------

BIG_WEEK = (*THEMES, ("Events", None, None), ("Research", None, None))  # 8 themes


def big_week() -> Issue:
    """168 candidates in 8 themes, 21 each, none over a cap: the week of issue 23."""
    return make_issue(per_theme=21, themes=BIG_WEEK)


def tracked_config(**email) -> Config:
    config = make_config(email=EmailSettings(unsubscribe_group=4242, **email))
    sending = dataclasses.replace(config.sending, tracking=Tracking(clicks=True, opens=True))
    return dataclasses.replace(config, sending=sending)


def as_gmail_gets_it(html: str) -> bytes:
    """The HTML part on the wire, made independently of digest.email.size: Python's email
    package encodes it (quoted-printable, CRLF), after every link was rewritten the way click
    tracking does, to a URL CLICK_URL bytes long plus the original in base64."""

    def tracked(match: re.Match) -> str:
        start = "https://u1.ct.sendgrid.net/ls/click?upn="
        carried = "x" * (CLICK_URL - len(start) + len(match.group(1)) * 4 // 3)
        return f'href="{start}{carried}"'

    rewritten = re.sub(r'href="(https?://[^"]*)"', tracked, html)
    rewritten = re.sub(r"<%asm_\w+%>", "https://" + "u" * (ASM_URL - 8), rewritten)
    message = EmailMessage(policy=SMTP)
    message.set_content(rewritten, subtype="html")
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    return message.as_bytes().partition(b"\r\n\r\n")[2]


def test_the_size_is_measured_as_the_part_is_sent():
    email = render()
    message = EmailMessage(policy=SMTP)
    message.set_content(email.html, subtype="html")
    wire = len(message.as_bytes().partition(b"\r\n\r\n")[2])
    assert email.size == sent_size(email.html, Tracking())
    assert wire <= email.size <= wire * 1.02  # a little over, never under
    assert email.size > len(email.html.encode("utf-8")) * 1.05  # quoted-printable costs
    tracked = sent_size(email.html, Tracking(clicks=True))
    links = len(re.findall(r'<a [^>]*href="https?://', email.html))
    assert tracked - email.size >= CLICK_URL * links


@pytest.mark.parametrize("archive", [ARCHIVE, None])
def test_168_candidates_with_click_tracking_fit_under_gmails_clip_with_the_footer_intact(archive):
    email = render(big_week(), tracked_config(archive_url=archive))
    wire = as_gmail_gets_it(email.html)
    print(
        f"\n168 items, archive {archive}: {email.size:,} bytes as sent, {len(wire):,} on the "
        f"wire with tracking; moved {sum(email.moved.values())}"
    )
    assert email.size == sent_size(email.html, Tracking(clicks=True, opens=True))
    assert len(wire) < GMAIL_CLIP and email.size < GMAIL_CLIP
    footer_text = quopri.decodestring(wire).decode("utf-8")
    assert ADDRESS in footer_text and ">Unsubscribe</a>" in footer_text
    shown = parse(email.html).find_all("a", string=re.compile(r"^Item "))
    assert len(shown) == 168 - sum(email.moved.values())
    assert all(count >= 21 - 18 for count in email.moved.values())


def test_items_move_to_the_archive_until_the_email_is_under_its_budget():
    issue = big_week()
    config = make_config(email=EmailSettings(archive_url=ARCHIVE, unsubscribe_group=4242))
    email = render(issue, config)  # the default budget, 60,000 bytes; no tracking
    moved = sum(email.moved.values())
    everything = dataclasses.replace(config.email, size_budget=GMAIL_CLIP)
    whole = render(issue, dataclasses.replace(config, email=everything))
    assert email.size <= 60_000 < whole.size and moved > 0
    soup = parse(email.html)
    more = soup.find_all("a", string=re.compile(r"^\d+ more in the archive$"))
    assert sum(int(a.get_text().split()[0]) for a in more) == moved
    for theme in issue.themes:  # each keeps its first items, the lowest-ranked went
        assert soup.find("a", string=theme.items[2].title) is not None
        assert soup.find("a", string=theme.items[-1].title) is None
    assert "more in the archive: " in email.text
    assert email.moved_note in email.warnings
    assert email.moved_note.startswith(
        f"{moved} items moved to 'more in the archive' to keep the email under 60,000 bytes "
        "as sent (email.size_budget): Health inequalities "
    )
    assert render().moved == {}  # a 60-item issue at a budget of 102,000 fits as it is


def test_a_budget_too_small_for_three_items_a_theme_is_said_and_kept_under_the_clip():
    email = render(big_week(), tracked_config(archive_url=ARCHIVE))
    shown = parse(email.html).find_all("a", string=re.compile(r"^Item "))
    assert len(shown) == 3 * len(BIG_WEEK)  # every theme down to its first three
    assert 60_000 < email.size < GMAIL_CLIP
    assert (
        f"the email is {email.size:,} bytes as sent with click tracking's longer links, over "
        "its budget of 60,000"
    ) in email.warnings


def test_without_an_archive_nothing_points_at_one():
    issue = with_theme(big_week(), 0, more=(make_item(BIG_WEEK[0][0], 0, 30),))
    email = render(issue, tracked_config())
    assert email.moved and " more " not in parse(email.html).get_text()
    assert " more " not in email.text and "archive" not in email.text
    assert email.moved_note.startswith(
        f"{sum(email.moved.values())} items moved to nowhere (no email.archive_url) to keep the "
        "email under 100,000 bytes as sent (Gmail clips at 102,000)"
    )


def test_an_email_over_the_clip_is_flagged_with_what_to_do():
    long_intro = "An intro far too long for any email. " * 4000
    email = render(make_issue(intro=long_intro), tracked_config(archive_url=ARCHIVE))
    assert email.size > GMAIL_CLIP
    (warning,) = [w for w in email.warnings if "clip" in w]
    assert "hiding the footer's unsubscribe link" in warning
    assert "turn off sending.tracking.clicks" in warning and "curation.per_theme" in warning


def test_the_footer_invites_forwarded_readers_to_subscribe_and_replies():
    config = make_config(subscribe_url="https://community.example/join")
    email = render(config=config)
    link = footer(parse(email.html)).find("a", string="Subscribe")
    assert link["href"] == "https://community.example/join"
    assert link.parent.get_text().startswith("Forwarded this?")
    assert "Forwarded this? Subscribe: https://community.example/join" in email.text
    assert "Reply to this email" in email.html
    config = make_config()
    newsletter = dataclasses.replace(config.newsletter, sender="D <no-reply@community.example>")
    quiet = dataclasses.replace(config, newsletter=newsletter)
    assert "Reply to this email" not in render(config=quiet).html


def test_every_theme_accent_lightens_to_3_to_1_on_the_dark_card():
    from digest.core.colours import lightened_until_readable

    card = DARK["card"]
    for colour in {c for _, _, c in THEMES if c} | {Branding().accent_colour, "#000000"}:
        dark = lightened_until_readable(colour, card)
        assert contrast_ratio(dark, card) >= 3, colour
    assert lightened_until_readable("#8cc4ff", card) == "#8cc4ff"  # already enough: unchanged
