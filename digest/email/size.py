"""The email's size as Gmail sees it, and fitting the email under a budget.

Gmail clips a message whose HTML is over 102,000 bytes, hiding the rest, the footer's
unsubscribe link and postal address included, behind "View entire message". What it counts is
the part as it arrives, not the HTML digest wrote:

- quoted-printable with CRLF line ends, as SendGrid (and the outbox) send it: every `=` of an
  attribute becomes `=3D` and every line gets a soft break, about 9% more for digest's HTML;
- with SendGrid's click tracking (`sending.tracking.clicks`), every link rewritten after digest
  measured it, to https://…ct.sendgrid.net/ls/click?upn=… carrying the original inside it,
  encrypted: counted here as CLICK_URL bytes plus a third of the original's length (base64 of
  it, less the original itself);
- with open tracking, SendGrid's pixel (OPEN_PIXEL bytes); and each of SendGrid's
  subscription tags (`<%asm_group_unsubscribe_raw_url%>`) replaced by a URL of ASM_URL bytes.

Rendering moves the lowest-ranked items to "N more in the archive" until that size is under
`email.size_budget` (60,000 by default, well under the clip), or without an archive to move
them to, under NO_ARCHIVE_BUDGET; every theme keeps its first few (digest.email.view's
KEEP_PER_THEME).
"""

from __future__ import annotations

import binascii
import dataclasses
import html as markup
import re

from digest.core.models import Issue
from digest.core.settings import Config, Tracking
from digest.core.text import plural
from digest.core.validators import GMAIL_CLIP

CLIP_SIZE = GMAIL_CLIP
NO_ARCHIVE_BUDGET = 100_000  # under the clip with a margin for SendGrid's own rewriting
WARN_SIZE = 90_000  # from here, the email is close to being clipped
CLICK_URL = 300  # bytes of a click-tracking URL besides what it carries of the original
OPEN_PIXEL = 500  # bytes of the open-tracking <img> SendGrid adds
ASM_URL = 400  # bytes of the URL SendGrid puts in place of each <%asm_…%> tag
# What would make an email smaller, for an email over the clip.
SHRINK = (
    "shorten the intro or the templates, lower curation.per_theme, drop items in the overrides "
    "file, or turn off sending.tracking.clicks"
)
_LINK = re.compile(r'<a\b[^>]*?\shref="(https?://[^"]*)"', re.I)
_ASM_TAG = re.compile(r"<%asm_\w+%>")


def sent_size(html: str, tracking: Tracking) -> int:
    """Bytes of the HTML part as Gmail gets it: quoted-printable with CRLF, after SendGrid's
    tracking and subscription tags have done their rewriting."""
    encoded = binascii.b2a_qp(html.encode("utf-8"))
    size = len(encoded) + encoded.count(b"\n")  # each line ends in CRLF on the wire
    if tracking.clicks:
        size += sum(CLICK_URL + len(markup.unescape(url)) // 3 for url in _LINK.findall(html))
    if tracking.opens:
        size += OPEN_PIXEL
    return size + ASM_URL * len(_ASM_TAG.findall(html))


def size_budget(config: Config) -> int:
    """What rendering fits the email under: email.size_budget, or with no archive to move
    items to (they would be gone from the reader's sight), only what keeps Gmail from
    clipping it."""
    return config.email.size_budget if config.email.archive_url else NO_ARCHIVE_BUDGET


def moved_line(moved: dict[str, int], budget: int, config: Config) -> str | None:
    """'12 items moved to the archive to keep the email under 60,000 bytes as sent
    (email.size_budget): Events 7, Other news 5', or None when none moved."""
    count = sum(moved.values())
    if not count:
        return None
    where = (
        "'more in the archive'" if config.email.archive_url else "nowhere (no email.archive_url)"
    )
    why = "email.size_budget" if config.email.archive_url else "Gmail clips at 102,000"
    themes = ", ".join(f"{name} {n}" for name, n in moved.items() if n)
    return (
        f"{plural(count, 'item')} moved to {where} to keep the email under {budget:,} bytes "
        f"as sent ({why}): {themes}"
    )


def size_warnings(size: int, budget: int, config: Config) -> tuple[str, ...]:
    """What the editor should know of the email's size once fitted."""
    tracked = " with click tracking's longer links" if config.sending.tracking.clicks else ""
    if size > CLIP_SIZE:
        return (
            f"the email is {size:,} bytes as sent{tracked}, over Gmail's {CLIP_SIZE:,}-byte "
            "limit even with every theme cut to its first items: Gmail will clip it, hiding "
            f"the footer's unsubscribe link, and digest send refuses it without --force; {SHRINK}",
        )
    if size >= WARN_SIZE:
        return (f"the email is {size:,} bytes as sent{tracked}, close to Gmail's {CLIP_SIZE:,}",)
    if size > budget:
        return (f"the email is {size:,} bytes as sent{tracked}, over its budget of {budget:,}",)
    return ()


def shown_issue(issue: Issue, moved: dict[str, int]) -> Issue:
    """`issue` as its email shows it: the items the email moved to the archive (the last of
    each theme's shown items that are not picks) counted over the theme's cap, first among
    those, so tables, the issue's JSON and the copy a send freezes agree with the email."""
    themes = []
    for theme in issue.themes:
        count = moved.get(theme.name, 0)
        if count:
            plain = [i for i, item in enumerate(theme.items) if not item.lead]
            gone = set(plain[-count:])
            kept = tuple(item for i, item in enumerate(theme.items) if i not in gone)
            out = tuple(item for i, item in enumerate(theme.items) if i in gone)
            theme = dataclasses.replace(theme, items=kept, more=out + theme.more)
        themes.append(theme)
    return dataclasses.replace(issue, themes=tuple(themes))
