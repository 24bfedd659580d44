"""What the email's templates see: the issue as views (the editor's picks, then the themes and
their items), its subject and preheader, links tagged for analytics, and the palette from
feeds.yaml's branding. No MJML here: digest.email.render turns these views into the email.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from markupsafe import Markup

from digest.core.colours import lightened_until_readable, mixed
from digest.core.models import Issue, IssueItem, IssueTheme
from digest.core.settings import Branding, Config
from digest.core.text import excerpt, fold, long_date, short_date

SUBJECT_LIMIT = 60  # about what a phone's inbox shows of a subject
PREHEADER_LIMIT = 90
# Invisible characters after the preheader, so the inbox preview stops there instead of
# running on into the body's text.
PREHEADER_PADDING = "\u034f\u00a0" * 80
BLURB_LIMIT = 200  # two lines on a desktop, four on a phone: a blurb, not the article
WHY_LIMIT = 120  # a pick's one line of why: its blurb's first sentence, at most this
# A pick's card: the email's 600 px less 24 px either side, a 1 px border and 16 px inside.
IMAGE_WIDTH = 600 - 2 * (24 + 1 + 16)
RULE_SHARE = 0.7  # how much of the card's colour the cards' border takes, over the muted one
KEEP_PER_THEME = 3  # items a theme always shows when the email must shrink to fit
FONTS = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
# SendGrid replaces these in the message it sends (subscription management, ASM).
ASM_UNSUBSCRIBE = Markup("<%asm_group_unsubscribe_raw_url%>")
ASM_PREFERENCES = Markup("<%asm_preferences_raw_url%>")
# Sender addresses that nobody reads: the footer does not invite replies to them.
_NO_REPLY = re.compile(r"no-?reply|do-?not-?reply|mailer-daemon|bounces?@", re.I)
# A sentence ends at . ! or ? before a space and a capital, a digit, a quote or a bracket.
_SENTENCE = re.compile(r".+?[.!?](?=\s+[A-Z0-9\"'\u201c\u2018(]|$)")


def palette(branding: Branding) -> dict[str, str]:
    """The light palette; the accent colours the header band and the links."""
    return {
        "page": branding.page_colour,
        "card": branding.card_colour,
        "text": branding.text_colour,
        "muted": branding.muted_colour,
        "accent": branding.accent_colour,
        "link": branding.accent_colour,
        # The picks' cards' border: a quiet line between the muted text and the card.
        "rule": mixed(branding.muted_colour, branding.card_colour, RULE_SHARE),
    }


def dark_palette(branding: Branding) -> dict[str, str]:
    """The palette for mail apps and browsers in dark mode."""
    return {
        "page": branding.dark_page_colour,
        "card": branding.dark_card_colour,
        "text": branding.dark_text_colour,
        "muted": branding.dark_muted_colour,
        "link": branding.dark_link_colour,
        "rule": mixed(branding.dark_muted_colour, branding.dark_card_colour, RULE_SHARE),
        # The mark beside "Editor's picks", lightened as the themes' marks are.
        "accent": lightened_until_readable(branding.accent_colour, branding.dark_card_colour),
    }


@dataclass(frozen=True)
class ImageView:
    src: str
    width: int  # as shown: at most the card's width
    height: int
    alt: str  # "" when the page gave none: the title beside it says what it is


@dataclass(frozen=True)
class ItemView:
    title: str
    url: str  # tagged for analytics
    source: str
    date: str | None  # "24 Nov", feed items only
    blurb: str  # at most BLURB_LIMIT characters; for a pick, one sentence of WHY_LIMIT
    image: ImageView | None = None  # picks only


@dataclass(frozen=True)
class ThemeView:
    name: str
    slug: str
    emoji: str | None
    colour: str
    dark_colour: str  # the colour lightened to 3:1 against the dark card
    items: tuple[ItemView, ...]
    more: int  # items over the cap, or moved out to keep the email small
    more_url: str | None  # the theme on the archive page


def email_context(issue: Issue, config: Config) -> dict:
    """Everything the templates print: text, links tagged for analytics, footer, palette."""
    branding, email = config.branding, config.email
    zone = ZoneInfo(config.newsletter.timezone)
    date = long_date(issue.built_at.astimezone(zone))
    view_url = f"{email.archive_url.rstrip('/')}/issues/{issue.id}/" if email.archive_url else None
    tag = _tagger(config, issue.id)
    unsubscribe, preferences = email.unsubscribe_url, email.preferences_url
    if email.unsubscribe_group:
        unsubscribe, preferences = ASM_UNSUBSCRIBE, ASM_PREFERENCES
    picks = {item.canonical_url for item in issue.lead}
    dark = dark_palette(branding)
    return {
        "subject": subject_line(issue, config, date),
        "preheader": preheader(issue),
        "preheader_padding": PREHEADER_PADDING,
        "title": issue.title,
        "date": date,
        "view_url": view_url,
        "intro": issue.intro,
        "intro_note": issue.intro_note,
        # A local file (the offline example) is no link for a reader.
        "weeknote_url": is_web(issue.weeknote_url) and tag(issue.weeknote_url, "intro"),
        "weeknote_title": issue.weeknote_title,
        "lead": [lead_view(item, tag(item.url, "lead"), zone) for item in issue.lead],
        "themes": [
            view
            for theme in issue.themes
            if (view := theme_view(theme, picks, tag, view_url, config, dark["card"])).items
            or view.more
        ],
        "logo_url": branding.logo_url,
        "logo_alt": branding.logo_alt or issue.title,
        "why": branding.why.format(title=issue.title),
        "footer_text": branding.footer_text,
        "postal_address": branding.postal_address,
        "subscribe_url": config.newsletter.subscribe_url,
        "replies": takes_replies(config),
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences,
        "palette": palette(branding),
        "dark": dark,
        "fonts": FONTS,
    }


def theme_view(
    theme: IssueTheme, picks: set[str], tag, view_url: str | None, config: Config, dark_card: str
) -> ThemeView:
    """A theme without the editor's picks, which the lead block shows instead."""
    zone = ZoneInfo(config.newsletter.timezone)
    colour = theme.colour or config.branding.accent_colour
    return ThemeView(
        name=theme.name,
        slug=theme.slug,
        emoji=theme.emoji,
        colour=colour,
        dark_colour=lightened_until_readable(colour, dark_card),
        items=tuple(
            item_view(item, tag(item.url, theme.slug), zone)
            for item in theme.items
            if item.canonical_url not in picks
        ),
        more=sum(item.canonical_url not in picks for item in theme.more),
        more_url=view_url and f"{view_url}#{theme.slug}",
    )


def item_view(item: IssueItem, url: str, zone: ZoneInfo) -> ItemView:
    # The day in the newsletter's time zone, like the issue's own date (items are stored in UTC).
    published = item.published and item.published.astimezone(zone)
    return ItemView(
        title=item.title,
        url=url,
        source=item.source,
        date=published and short_date(published),
        blurb=short_blurb(item.title, item.blurb),
    )


def lead_view(item: IssueItem, url: str, zone: ZoneInfo) -> ItemView:
    """A pick: its title, publisher, one line of why (its blurb's first sentence, short) and
    its page's image when there is one."""
    view = item_view(item, url, zone)
    image = image_view(item.image, item.image_width, item.image_height, item.image_alt)
    why = excerpt(first_sentence(view.blurb), WHY_LIMIT)
    return dataclasses.replace(view, blurb=why, image=image)


def image_view(src, width, height, alt) -> ImageView | None:
    """An https image of known size, scaled down to the card; None for any other."""
    if not (is_web(src) and src.startswith("https:") and width and height):
        return None
    shown = min(width, IMAGE_WIDTH)
    return ImageView(src, shown, max(1, round(height * shown / width)), fold(alt or ""))


def short_blurb(title: str, blurb: str) -> str:
    """The blurb, at most BLURB_LIMIT characters, never repeating the title: one that opens
    with the title (a weeknote sentence that links its own first words) loses it."""
    text, title = fold(blurb), fold(title)
    if text.casefold().startswith(title.casefold()):
        text = text[len(title) :].lstrip(" .,:;-\u2013\u2014")
    return excerpt(text, BLURB_LIMIT) if len(text) > 1 else ""


def first_sentence(text: str) -> str:
    match = _SENTENCE.match(text)
    return match.group(0) if match else text


def takes_replies(config: Config) -> bool:
    """Whether a reply reaches someone: a Reply-To address, or a sender that is no no-reply."""
    newsletter = config.newsletter
    return bool(newsletter.reply_to) or not _NO_REPLY.search(newsletter.sender)


def move_to_archive(themes: list[ThemeView], count: int) -> tuple[list[ThemeView], int]:
    """Up to `count` items moved from the email to the archive, one at a time from the theme
    showing the most (the later theme on a tie): each the lowest-ranked item it shows. Every
    theme keeps its first KEEP_PER_THEME. Returns the themes and how many moved."""
    themes, moved = list(themes), 0
    while moved < count:
        longest = max(range(len(themes)), key=lambda i: (len(themes[i].items), i), default=None)
        if longest is None or len(themes[longest].items) <= KEEP_PER_THEME:
            break
        theme = themes[longest]
        themes[longest] = dataclasses.replace(theme, items=theme.items[:-1], more=theme.more + 1)
        moved += 1
    return themes, moved


def subject_line(issue: Issue, config: Config, date: str) -> str:
    """The editor's subject from the overrides file as written; else newsletter.subject's, at
    most SUBJECT_LIMIT characters: {lead}, the top story (the build's own first pick, else the
    first item), is cut at a word to make room for the rest."""
    if issue.subject:
        return fold(issue.subject)
    top_theme = issue.themes[0].name if issue.themes else ""
    lead = fold(_top_story(issue))
    fields = {"title": issue.title, "date": date, "top_theme": top_theme, "issue": issue.id}
    template = config.newsletter.subject
    rest = len(fold(template.format(lead="", **fields)))
    if rest + len(lead) > SUBJECT_LIMIT and "{lead}" in template:
        lead = excerpt(lead, max(SUBJECT_LIMIT - rest, 12))
    subject = fold(template.format(lead=lead, **fields)).strip(" —-:")
    return excerpt(subject, SUBJECT_LIMIT)


def _top_story(issue: Issue) -> str:
    if issue.top_story is not None:
        return issue.top_story
    if issue.lead:
        return issue.lead[0].title
    shown = [item for theme in issue.themes for item in theme.items]
    return shown[0].title if shown else issue.title


def preheader(issue: Issue) -> str:
    """The inbox's second line: the editor's from the overrides file as written; else the
    intro's start; without one, the picks, else the themes."""
    if issue.preheader:
        return fold(issue.preheader)
    if issue.intro:
        return excerpt(fold(issue.intro), PREHEADER_LIMIT)
    if issue.lead:
        titles = "; ".join(fold(item.title) for item in issue.lead)
        return excerpt(f"Editor's picks: {titles}", PREHEADER_LIMIT)
    return excerpt("In this issue: " + ", ".join(t.name for t in issue.themes), PREHEADER_LIMIT)


def is_web(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def _tagger(config: Config, campaign: str):
    """A function adding utm_* parameters to a link, unless tagging is off or the link has
    utm_* parameters of its own (which are kept as they are, not mixed with ours)."""
    utm = config.email.utm

    def tag(url: str, content: str) -> str:
        parts = urlsplit(url)
        if not utm.enabled or re.search(r"(?:^|&)utm_", parts.query, re.I):
            return url
        ours = urlencode(
            {
                "utm_source": utm.source,
                "utm_medium": utm.medium,
                "utm_campaign": campaign,
                "utm_content": content,
            }
        )
        query = f"{parts.query}&{ours}" if parts.query else ours
        return urlunsplit(parts._replace(query=query))

    return tag
