"""Links wrapped in a redirect that carries its destination in the URL itself (Google, Facebook,
Outlook safe links, Proofpoint, LinkedIn, Slack, Medium), unwrapped without a request.

Wrappers whose destination is not in the URL (t.co, lnkd.in, Mailchimp's click tracking) are
left as they are: only fetching them can tell where they lead.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from digest.core.urls import absolute_url

# A wrapper in a wrapper in a wrapper is as deep as mail gateways and sharing buttons go; the
# bound also stops a wrapper that names itself as its destination.
MAX_DEPTH = 5
# Proofpoint v3 writes a run of replaced characters as "**" and a symbol for its length:
# "A" for 2, "B" for 3, and so on to "_" for 65.
_RUN_SYMBOLS = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
_RUN_LENGTHS = {symbol: length for length, symbol in enumerate(_RUN_SYMBOLS, 2)}
_PROOFPOINT_V3 = re.compile(
    r"https?://urldefense(?:\.proofpoint)?\.com/v3/__(?P<url>.+?)__;"
    r"(?P<chars>[A-Za-z0-9_-]*)(?:!|$)",
    re.IGNORECASE,
)
# "https:/host": some mail software folds the "//" of a v3 link into "/".
_SINGLE_SLASH = re.compile(r"^(https?:/)(?!/)", re.IGNORECASE)


@dataclass(frozen=True)
class _Wrapper:
    host: re.Pattern[str]
    path: re.Pattern[str]
    target: Callable[[str, SplitResult], str | None]  # (the whole URL, its parts) → destination


def _query(*names: str) -> Callable[[str, SplitResult], str | None]:
    """The destination is the first of these query parameters the URL has."""

    def target(url: str, parts: SplitResult) -> str | None:
        params = parse_qs(parts.query)
        return next((params[name][0] for name in names if name in params), None)

    return target


def _proofpoint_v2(url: str, parts: SplitResult) -> str | None:
    """`u=` with every "%" written as "-" and every "/" as "_", so the destination survives
    mail software that rewrites percent signs; read raw, as "+" stands for itself there."""
    raw = next((p[2:] for p in parts.query.split("&") if p.startswith("u=")), None)
    if raw is None:
        return None
    return html.unescape(unquote(raw.translate(str.maketrans("-_", "%/"))))


def _proofpoint_v3(url: str, parts: SplitResult) -> str | None:
    """The destination as written, between "__" and "__;", except that characters Proofpoint
    will not carry are each a "*" (or a run of them "**" and a length symbol): they follow the
    ";" in order, as URL-safe base64 of their UTF-8 text."""
    match = _PROOFPOINT_V3.match(url)
    if match is None:
        return None
    encoded = match["chars"]
    try:
        replaced = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, ValueError):  # not base64, or not UTF-8 (UnicodeDecodeError)
        return None
    return _fill_stars(_SINGLE_SLASH.sub(r"\1/", match["url"], count=1), replaced)


def _fill_stars(written: str, replaced: str) -> str | None:
    """`written` with its "*" and "**"-runs filled from `replaced`; None when they disagree."""
    out, taken, i = [], 0, 0
    while i < len(written):
        if written[i] != "*":
            out.append(written[i])
            i += 1
            continue
        count, i = 1, i + 1
        if written.startswith("*", i):
            count = _RUN_LENGTHS.get(written[i + 1 : i + 2])
            if count is None:
                return None
            i += 2
        if taken + count > len(replaced):
            return None
        out.append(replaced[taken : taken + count])
        taken += count
    return "".join(out)


WRAPPERS = (
    _Wrapper(re.compile(r"(?:www\.)?medium\.com"), re.compile(r"/r/?"), _query("url")),
    _Wrapper(
        re.compile(r"(?:www\.)?google\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})"),
        re.compile(r"/url"),
        _query("q", "url"),
    ),
    _Wrapper(re.compile(r"lm?\.facebook\.com"), re.compile(r"/l\.php"), _query("u")),
    _Wrapper(
        re.compile(r"[a-z0-9-]+\.safelinks\.protection\.outlook\.com"),
        re.compile(r"/?"),
        _query("url"),
    ),
    _Wrapper(re.compile(r"urldefense\.proofpoint\.com"), re.compile(r"/v2/url"), _proofpoint_v2),
    _Wrapper(
        re.compile(r"urldefense(?:\.proofpoint)?\.com"), re.compile(r"/v3/__.*"), _proofpoint_v3
    ),
    _Wrapper(
        re.compile(r"(?:[a-z]{2,3}\.)?linkedin\.com"),
        re.compile(r"/(?:redir/redirect|safety/go)/?"),
        _query("url"),
    ),
    _Wrapper(re.compile(r"slack-redir\.net"), re.compile(r"/link"), _query("url")),
)


# Every wrapper host above contains one of these: most links contain none and are not parsed.
# Substring tests of the lower-cased URL, ten times faster than one case-blind pattern.
_WRAPPER_HINTS = (
    "medium.com",
    "google.",
    "facebook.com",
    "safelinks",
    "urldefense",
    "linkedin.com",
    "slack-redir",
)


def unwrap(url: str) -> str:
    """The destination of a redirect wrapper that carries it (a wrapper inside a wrapper too),
    else `url` unchanged. Only an http(s) destination that parses is taken."""
    if not any(map(url.lower().__contains__, _WRAPPER_HINTS)):
        return url
    for _ in range(MAX_DEPTH):
        destination = _destination(url)
        if destination is None:
            break
        url = destination
    return url


def _destination(url: str) -> str | None:
    parts = _http_parts(url)
    if parts is None:
        return None
    host = parts.hostname.lower()
    for wrapper in WRAPPERS:
        if wrapper.host.fullmatch(host) and wrapper.path.fullmatch(parts.path):
            target = wrapper.target(url.strip(), parts)
            if target is None or _http_parts(target) is None:
                return None
            # Spaces and control characters percent-encoded, as every stored link is.
            return absolute_url("", target)
    return None


def _http_parts(url: str) -> SplitResult | None:
    """The parts of an absolute http(s) URL with a host, or None for anything else."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts
