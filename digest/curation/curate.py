"""Which links go into an issue, under which theme, in what order: pure functions, no I/O.

The rules, in the order they apply:
1. candidates are the weeknote's links (document order), then the window's feed items (newest
   first); each carries its theme and the reason for it, and is tidied (digest.curation.tidy)
   with what its page's head says, when it was read (digest.curation.enrich);
2. a URL an earlier *sent* issue included is skipped, even if republished;
3. the first candidate of a story wins, so a weeknote link beats a feed item (taking the feed's
   date when it has none): a story is one canonical URL, or near-duplicates by page, title or
   words (digest.curation.stories);
4. the editor's overrides drop, retitle, re-blurb, move, pin and place items in their themes;
5. themes appear in the editor's order (the overrides' theme_order first, then feeds.yaml), then
   unmatched weeknote headings, then the catch-all; empty ones are hidden;
6. each theme shows at most `per_theme` items (pinned ones always); the rest are counted;
7. up to three items are the editor's picks that open the issue (choose_lead), none with a
   blurb that repeats the intro; the build's own first pick is the top story the subject
   names.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from digest.core.models import WEEKNOTE, Decision, IssueItem, IssueTheme, Item
from digest.core.settings import Config
from digest.core.settings import Weeknote as WeeknoteRule
from digest.core.text import excerpt, normalise_heading
from digest.core.urls import canonical_url
from digest.curation.overrides import IssueOverrides, apply_overrides
from digest.curation.stories import Duplicates
from digest.curation.themes import ThemeChoice, theme_for_heading, theme_for_item, theme_for_text
from digest.curation.tidy import (
    DESCRIPTION_LIMIT,
    tidy_feed_item,
    tidy_weeknote_item,
    title_problem,
)

if TYPE_CHECKING:  # the HTML parser behind it is not imported by commands that only fetch
    from digest.curation.classify import Classifier
    from digest.curation.heads import PageHead
    from digest.weeknote.model import Weeknote

LEAD_SIZE = 3  # editor's picks at most: a lead block, not a second list
# A blurb whose first this many characters (folded) stand in the intro repeats it; a shorter
# blurb must stand there whole and be at least half as long.
REPEAT_CHARACTERS = 80
Heads = Mapping[str, "PageHead"]  # a link's URL → its page's head


def issue_id(now: datetime, timezone: str) -> str:
    """The ISO week `now` falls in, in the newsletter's time zone: "2026-W48"."""
    year, week, _ = now.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def window(now: datetime, config: Config, last_sent: datetime | None) -> tuple[datetime, datetime]:
    """Items published in [start, now] are candidates: since the last send (less an overlap for
    items dated late), or the last `window_days` days before any issue was sent."""
    if last_sent is None:
        return now - timedelta(days=config.newsletter.window_days), now
    return last_sent - timedelta(hours=config.curation.overlap_hours), now


def pick_weeknote_post(items: Iterable[Item], rule: WeeknoteRule) -> Item | None:
    """The newest post (items come newest first) whose title and category match the rule; the
    title pattern ignores case. With no rule, the newest post."""
    pattern = re.compile(rule.title_pattern, re.IGNORECASE) if rule.title_pattern else None
    category = normalise_heading(rule.category) if rule.category else None
    for item in items:
        if pattern and not pattern.search(item.title):
            continue
        if category and category not in {normalise_heading(c) for c in item.categories}:
            continue
        return item
    return None


def weeknote_candidates(
    weeknote: Weeknote,
    config: Config,
    heads: Heads | None = None,
    classifier: Classifier | None = None,
) -> list[IssueItem]:
    """The weeknote's links in page order, each under its section's theme; the editorial's
    links (no heading of their own) are themed by their words, through `classifier` when there
    is one. Each is tidied with its page's head from `heads`, when there is one."""
    heads = heads or {}
    candidates = []
    for section in weeknote.sections:
        heading_choice = _heading_theme(section.heading, config)
        for link in section.links:
            if section.heading:
                choice = heading_choice
            else:
                text = f"{link.title} {link.blurb}"
                catch_all = config.newsletter.catch_all
                choice = theme_for_text(text, config.themes, catch_all, classifier, link.url)
            reason = f"weeknote section {section.heading or '(editorial)'!r}: {choice.reason}"
            item = IssueItem(
                url=link.url,
                canonical_url=link.canonical_url,
                title=link.title,
                blurb=link.blurb,
                source=WEEKNOTE,
                origin="weeknote",
                theme=choice.theme,
                reason=reason,
                editorial=not section.heading,
            )
            candidates.append(tidy_weeknote_item(item, heads.get(link.url), link.link_text))
    return candidates


def unmatched_headings(weeknote: Weeknote, config: Config) -> list[str]:
    """Weeknote headings no theme claims: each becomes a theme of its own, after the others."""
    return [
        section.heading
        for section in weeknote.sections
        if section.heading and _heading_theme(section.heading, config).new_theme
    ]


def _heading_theme(heading: str, config: Config) -> ThemeChoice:
    """A heading's theme; one that names the catch-all ("Other news") is the catch-all."""
    choice = theme_for_heading(heading, config.themes)
    catch_all = config.newsletter.catch_all
    if choice.new_theme and normalise_heading(heading) == normalise_heading(catch_all):
        return ThemeChoice(catch_all, "heading matches the catch-all theme")
    return choice


def feed_candidates(
    items: Iterable[Item],
    feeds: dict[str, tuple[str, str | None]],
    config: Config,
    heads: Heads | None = None,
    classifier: Classifier | None = None,
) -> list[IssueItem]:
    """Feed items as candidates, their blurbs tidied; `feeds` maps a source key to the feed's
    (name, default theme). An item without a usable summary may take its page's description."""
    heads = heads or {}
    candidates = []
    for item in items:
        name, default_theme = feeds[item.source]
        catch_all = config.newsletter.catch_all
        choice = theme_for_item(item, config.themes, default_theme, catch_all, classifier)
        candidate = IssueItem(
            url=item.link,
            canonical_url=item.canonical_url,
            title=item.title,
            blurb=item.summary,
            source=name,
            origin="feed",
            theme=choice.theme,
            reason=choice.reason,
            published=item.published,
        )
        candidates.append(tidy_feed_item(candidate, heads.get(item.link)))
    return candidates


@dataclasses.dataclass(frozen=True)
class Curated:
    themes: tuple[IssueTheme, ...]
    skipped: tuple[Decision, ...]  # candidates left out, and why; kept ones carry their reason
    warnings: tuple[str, ...]
    top_story: str | None = None  # the title of the build's own first pick (rule 7)


def curate(
    candidates: Sequence[IssueItem],
    sent: dict[str, str],
    overrides: IssueOverrides,
    config: Config,
    unmatched_headings: Sequence[str] = (),
    heads: Heads | None = None,
    intro: str = "",
) -> Curated:
    """Apply rules 2 to 7 above to candidates in rule-1 order. `sent` maps canonical URLs to the
    sent issue that included them; `heads` holds the pages' heads that enrichment read; `intro`
    is the issue's intro, which no pick's blurb repeats."""
    heads = heads or {}
    fresh, skipped = _stories(candidates, sent, heads)
    kept, dropped, warnings = apply_overrides(fresh, overrides, config)
    order = _theme_order(kept, overrides, config, unmatched_headings)
    kept, top = choose_lead(kept, overrides, order)
    kept = [_apart_from_intro(item, intro, heads) if item.lead else item for item in kept]
    skipped += [
        Decision(i.url, i.title, "dropped", "dropped in the overrides file") for i in dropped
    ]
    themes = []
    for name in order:
        members = [item for item in kept if item.theme == name]
        if members:
            themes.append(_capped(name, members, config, name in unmatched_headings))
    top_story = top.title if top else None
    return Curated(tuple(themes), tuple(skipped), tuple(warnings), top_story)


def choose_lead(
    items: list[IssueItem], overrides: IssueOverrides, order: Sequence[str] = ()
) -> tuple[list[IssueItem], IssueItem | None]:
    """Rule 7: `items` with the editor's picks ranked (IssueItem.lead), and the issue's top
    story. The build's own picks are the links of the weeknote's editorial, in page order, or,
    when the editorial links nothing, the top item of each theme in the issue's theme `order` (a
    pinned one first), less those the overrides file marks `lead: false`; its first is the top
    story. Items marked `lead: true` come before them, in the file's order: marking one adds a
    pick, it does not replace the others or the top story. At most LEAD_SIZE; the rest keep their
    place in their themes only."""
    present = {item.canonical_url: item for item in items}
    marked = [canonical_url(o.url) for o in overrides.items if o.lead]
    refused = {canonical_url(o.url) for o in overrides.items if o.lead is False}
    own = [item.canonical_url for item in items if item.editorial] or _tops(items, order)
    own = [url for url in own if url not in refused]
    chosen = [url for url in marked if url in present] + own
    ranks = {url: rank for rank, url in enumerate(dict.fromkeys(chosen), 1) if rank <= LEAD_SIZE}
    ranked = [
        dataclasses.replace(item, lead=ranks[item.canonical_url])
        if item.canonical_url in ranks
        else item
        for item in items
    ]
    top = next((item for item in ranked if own and item.canonical_url == own[0]), None)
    return ranked, top


def _stories(
    candidates: Sequence[IssueItem], sent: dict[str, str], heads: Heads
) -> tuple[list[IssueItem], list[Decision]]:
    """Rules 2 and 3: each story once, in its first candidate's wording. A duplicate with a
    blurb lends it to a first candidate that has none."""
    skipped: list[Decision] = []
    stories = Duplicates()
    for item in candidates:
        head = heads.get(item.url)
        if item.canonical_url in sent:
            reason = f"already sent in {sent[item.canonical_url]}"
            skipped.append(Decision(item.url, item.title, "already-sent", reason))
        elif (found := stories.add(item, head)) is not None:
            index, why = found
            first = stories.kept[index]
            reason = f"{why} {first.source}'s {first.title!r}"
            skipped.append(Decision(item.url, item.title, "duplicate", reason))
            stories.kept[index] = _lent(first, item)
    return stories.kept, skipped


def _lent(first: IssueItem, duplicate: IssueItem) -> IssueItem:
    """The first candidate of a story, with what its duplicate has and it lacks: a blurb, a date,
    and
    for a weeknote link whose words are no title ("Lessons learned"), the feed's title of the
    same page (the page's own title, as enrichment would have found it)."""
    changes = {}
    if not first.blurb and duplicate.blurb:
        changes["blurb"] = duplicate.blurb
    if first.published is None and duplicate.published is not None:
        changes["published"] = duplicate.published  # the editor's words, the feed's date
    weak = first.origin == "weeknote" and duplicate.origin == "feed"
    if weak and (problem := title_problem(first.title)) and not title_problem(duplicate.title):
        changes["title"] = duplicate.title
        changes["reason"] = (
            f"{first.reason}\ntitle from {duplicate.source} (the link text {problem})"
        )
    return dataclasses.replace(first, **changes) if changes else first


def _tops(items: list[IssueItem], order: Sequence[str]) -> list[str]:
    """The canonical URL of each theme's top item (its first pinned one, else its first), in
    theme `order`."""
    tops: dict[str, str] = {}
    for item in sorted(items, key=lambda item: not item.pinned):  # stable: page order stays
        tops.setdefault(item.theme, item.canonical_url)
    return [tops[name] for name in order if name in tops]


def _apart_from_intro(item: IssueItem, intro: str, heads: Heads) -> IssueItem:
    """A pick whose blurb repeats the intro (an editorial link's sentence, which the reader has
    just read) takes its page's description instead, or no blurb."""
    if not _repeats(item.blurb, intro):
        return item
    head = heads.get(item.url)
    description = head.description if head is not None and head.description else ""
    if _repeats(description, intro):
        description = ""
    return dataclasses.replace(item, blurb=excerpt(description, DESCRIPTION_LIMIT))


def _repeats(text: str, intro: str) -> bool:
    """Whether `text` opens with words the intro has in the same order (case and punctuation
    aside): a sentence of it, or its start."""
    folded = normalise_heading(text)[:REPEAT_CHARACTERS]
    return len(folded) >= REPEAT_CHARACTERS // 2 and folded in normalise_heading(intro)


def _theme_order(
    items: list[IssueItem], overrides: IssueOverrides, config: Config, unmatched: Sequence[str]
) -> list[str]:
    catch_all = config.newsletter.catch_all
    declared = [theme.name for theme in config.themes] + [catch_all]
    names = {normalise_heading(name): name for name in reversed(declared)}
    first = [names.get(normalise_heading(name), name) for name in overrides.theme_order]
    placed = [*first, *(theme.name for theme in config.themes)]
    # then unmatched headings in page order, then the catch-all, unless already placed
    rest = [name for name in (*unmatched, *(i.theme for i in items)) if name != catch_all]
    return list(dict.fromkeys([*placed, *rest, catch_all]))


def _capped(name: str, items: list[IssueItem], config: Config, unmatched: bool) -> IssueTheme:
    theme = next((t for t in config.themes if t.name == name), None)
    shown = max(config.curation.per_theme, sum(item.pinned for item in items))
    return IssueTheme(
        name=name,
        slug=slug(name),
        items=tuple(items[:shown]),
        more=tuple(items[shown:]),
        colour=theme.colour if theme else None,
        emoji=theme.emoji if theme else None,
        unmatched_heading=unmatched,
    )


def slug(name: str) -> str:
    """A stable anchor for a theme: "Health & care" → "health-and-care"."""
    return normalise_heading(name).replace(" ", "-") or "theme"
