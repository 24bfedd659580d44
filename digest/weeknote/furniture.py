"""Site furniture on weeknote pages: what a blog platform puts around and inside a post that is
not the post. Decided from structure and content first (landmark elements and roles, `rel`,
where a link points, its text), class and id names second: some platforms (Medium) name their
classes at random.

Two questions are answered here: whether an element is furniture as a whole (removed before the
page is read), and whether one link is (skipped where it stands).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult

from bs4 import Tag

from digest.core.text import fold
from digest.core.urls import site_of

_LANDMARK_TAGS = {"header", "nav", "footer", "aside"}
_LANDMARK_ROLES = {"banner", "navigation", "contentinfo", "complementary"}
_NOISE_TAGS = _LANDMARK_TAGS | {"form", "script", "style", "template", "noscript", "iframe"}
_NOISE_TAGS |= {"button", "dialog", "select", "textarea"}
_NOISE_ROLES = _LANDMARK_ROLES | {"search", "menu", "menubar", "toolbar", "dialog", "button"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NOISE_NAME = re.compile(
    r"share|sharing|social|follow|related|cookie|consent|comments|skip-?link|breadcrumb"
    r"|newsletter|subscri(?:be|ption)|sign-?up|byline|(?:^|[-_\s])(?:meta|author|tags|pagination|pager)"
    r"(?:$|[-_\s])|(?:post|entry|article)-(?:nav|footer|tags|categories|author|date|info)"
    r"|cat-links|tags-links|tag-?cloud|reading-?time|read-?time|print-?link",
    re.I,
)
# WordPress and Squarespace name a post's tags and categories in its classes, and its author
# in the post's own ("tag-social-prescribing", "author-jane"): they say what the post is, not
# that it is a widget. An author box elsewhere ("author-bio") is one.
_TAXONOMY_CLASS = re.compile(r"(?:tag|category)-", re.I)
_POST_TAXONOMY_CLASS = re.compile(r"(?:tag|category|author)-", re.I)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# A `rel` that says what a link is to the site, not to the reader.
_FURNITURE_REL = {"author", "tag", "category", "prev", "next", "bookmark", "me", "license"}
_FURNITURE_REL |= {"search", "alternate", "edit", "help", "home"}
# Link texts that are a verb or a network, never a story: compared whole, folded and lower-cased.
_FURNITURE_TEXT = re.compile(
    r"(?:share|share this(?: post| page| article)?|share on \w+|tweet|toot|like"
    r"|follow|follow us|subscribe|subscribe now|subscribed|print(?: ?[/|&] ?pdf)?|print this page"
    r"|pdf of this page|email|email this|e-?mail a friend|copy link|reply"
    r"|comments?|\d+ comments?|\d+ responses?|leave a (?:comment|reply)|top|back to top"
    r"|home|sign in|log in|login|log out|view in (?:your )?browser"
    r"|view this email in your browser|unsubscribe(?: from this list)?"
    r"|update (?:your |subscription )?preferences|forward to a friend|past issues|rss|translate"
    r"|(?:previous|next|older|newer)(?: (?:post|posts|article|entry|entries|story|page))?"
    r"|(?:previous|next|older|newer)(?: (?:post|article|entry|story))?: .*)",
    re.I,
)
# Arrows, bullets and punctuation around a link's words ("Next post →", "« Previous").
_TEXT_EDGES = re.compile(
    "^[\\s.,:;!?|\u00b7\u2022\u00ab\u00bb\u2039\u203a<>\u2190-\u21ff\u2013\u2014-]+"
    "|[\\s.,:;!?|\u00b7\u2022\u00ab\u00bb\u2039\u203a<>\u2190-\u21ff\u2013\u2014-]+$"
)
# Share and compose intents: (host, path prefix). The page's own URL with ?share= is one too.
_SHARE_URLS = (
    ("twitter.com", "/intent"),
    ("twitter.com", "/share"),
    ("x.com", "/intent"),
    ("x.com", "/share"),
    ("bsky.app", "/intent"),
    ("threads.net", "/intent"),
    ("facebook.com", "/sharer"),
    ("facebook.com", "/share"),
    ("facebook.com", "/dialog"),
    ("linkedin.com", "/sharing"),
    ("linkedin.com", "/sharearticle"),
    ("linkedin.com", "/cws/share"),
    ("wa.me", ""),
    ("api.whatsapp.com", "/send"),
    ("web.whatsapp.com", "/send"),
    ("reddit.com", "/submit"),
    ("t.me", "/share"),
    ("telegram.me", "/share"),
    ("pinterest.com", "/pin/create"),
    ("tumblr.com", "/share"),
    ("tumblr.com", "/widgets/share"),
    ("getpocket.com", "/save"),
    ("getpocket.com", "/edit"),
    ("news.ycombinator.com", "/submitlink"),
    ("mastodonshare.com", ""),
    ("toot.kytta.dev", ""),
    ("s2f.kytta.dev", ""),
    ("printfriendly.com", ""),
    ("blogger.com", "/share-post"),
)
# Mailing-list housekeeping hosts: sign-up, preferences, unsubscribe, past issues.
_LIST_HOSTS = ("list-manage.com", "campaign-archive.com", "forward-to-friend.com", "eepurl.com")
_LIST_HOSTS += ("createsend.com",)
# Paths on the page's own site that list posts or manage the reader, not stories.
_LISTING_PATH = re.compile(
    r"/(?:tags?|category|categories|taxonomy/term|search/label|label|labels|author|authors"
    r"|page/\d+|feed|feeds|rss|atom|subscribe|signup|sign-up|account|print|printpdf|printable"
    r"|share)(?:[/.]|$)|^/@[^/]+/?$|/index\.xml$",
    re.I,
)
_LISTING_QUERY = re.compile(r"(?:^|&)(?:(?:tag|category|author|share|print)=|action=share)", re.I)
# The shape of a profile's path on each network; posts have longer paths ("name/status/1").
_ONE_NAME = re.compile(r"(?!(?:i|intent|share|search|hashtag|home|events|groups|watch)$)[^/]+")
_PROFILE_PATHS = (
    ("twitter.com", _ONE_NAME),
    ("x.com", _ONE_NAME),
    ("facebook.com", re.compile(r"profile\.php|" + _ONE_NAME.pattern)),
    ("instagram.com", _ONE_NAME),
    ("bsky.app", re.compile(r"profile/[^/]+")),
    ("linkedin.com", re.compile(r"(?:in|company|school)/[^/]+")),
    ("youtube.com", re.compile(r"(?:channel|c|user)/[^/]+")),
)


def is_furniture(tag: Tag) -> bool:
    """Whether element `tag` is furniture as a whole: a landmark, a widget, a hidden block."""
    if tag.name in _NOISE_TAGS or tag.get("role") in _NOISE_ROLES:
        return True
    if tag.name in ("html", "body") or is_heading_tag(tag):
        return False  # a heading's id is a slug of its own words ("social-prescribing")
    if tag.has_attr("hidden") or _HIDDEN_STYLE.search(str(tag.get("style") or "")):
        return True
    if tag.get("aria-hidden") == "true" and tag.find("a") is not None:
        return True  # links a screen reader skips are icon duplicates of visible ones
    taxonomy = _POST_TAXONOMY_CLASS if tag.name == "article" else _TAXONOMY_CLASS
    classes = [str(name) for name in tag.get("class") or () if not taxonomy.match(name)]
    names = " ".join([str(tag.get("id") or ""), *classes])
    return bool(_NOISE_NAME.search(names))


def is_heading_tag(tag: Tag) -> bool:
    return tag.name in _HEADINGS or tag.get("role") == "heading"


def is_landmark(tag: Tag) -> bool:
    return tag.name in _LANDMARK_TAGS or tag.get("role") in _LANDMARK_ROLES


def inside_landmark(tag: Tag) -> bool:
    """Whether `tag` is or sits in a header, nav, footer or aside (or an element with that role)."""
    return is_landmark(tag) or any(is_landmark(parent) for parent in tag.parents if parent.name)


def inside_furniture(tag: Tag) -> bool:
    return is_furniture(tag) or any(is_furniture(parent) for parent in tag.parents if parent.name)


def is_furniture_text(text: str) -> bool:
    """Whether a link's words are a verb or a network rather than a story ("Share", "Print")."""
    bare = _TEXT_EDGES.sub("", fold(text))
    return bool(bare) and _FURNITURE_TEXT.fullmatch(bare) is not None


def is_furniture_link(anchor: Tag, parts: SplitResult, own_hosts: set[str]) -> bool:
    """Whether one link is furniture: by its `rel`, its words, or where it points."""
    rel = anchor.get("rel") or ()
    if isinstance(rel, str):
        rel = rel.split()
    if _FURNITURE_REL & {str(value).lower() for value in rel}:
        return True
    if is_furniture_text(anchor.get_text(" ")) and not anchor.find("img"):
        return True
    return is_furniture_url(parts, own_hosts)


def is_furniture_url(parts: SplitResult, own_hosts: set[str]) -> bool:
    host = (parts.hostname or "").removeprefix("www.")
    path = parts.path
    lower = path.lower()
    if any(_on(host, h) and lower.startswith(p) for h, p in _SHARE_URLS):
        return True
    if any(_on(host, h) for h in _LIST_HOSTS):
        return True
    own = same_site(host, own_hosts)
    if parts.fragment.startswith("/portal") or (own and parts.fragment in ("comments", "respond")):
        return True  # Ghost's sign-up overlay; this site's comment form (not another's post)
    if path.startswith(("/share", "/intent")) and "text=" in parts.query:
        return True  # a Mastodon (or any fediverse) compose box, on whichever server
    if is_profile(host, path):
        return True
    return own and bool(_LISTING_PATH.search(path) or _LISTING_QUERY.search(parts.query))


def is_profile(host: str, path: str) -> bool:
    """Whether a URL is someone's page on a social network or blog platform ("follow me"), not
    a post: /@name anywhere (Medium, Substack, Mastodon, YouTube, Threads, TikTok), and each
    big network's own profile address."""
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) == 1 and segments[0].startswith("@"):
        return True
    for domain, shape in _PROFILE_PATHS:
        if _on(host, domain):
            return shape.fullmatch("/".join(segments)) is not None
    return False


def same_site(host: str, own_hosts: set[str]) -> bool:
    return bool(host) and site_of(host) in {site_of(own) for own in own_hosts}


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)
