"""URL helpers shared by every stage: URLs made safe to store and show, canonical URLs for
deduplication."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

# Longer is not a link anyone follows (sitemaps stop at 2,048 too); a 100,000-character one
# would be most of an email's size.
MAX_URL_LENGTH = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")  # spaces and control characters, C1 included
DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAM = re.compile(
    r"utm_.*|mc_.*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|_hsenc|_hsmi|mkt_tok", re.I
)


# The host of a plain http(s) URL, read without parsing the rest: urlsplit costs a build of
# 10,000 items a fifth of a second. Anything unusual (IPv6, odd characters) goes to urlsplit.
_PLAIN_HOST = re.compile(r"https?://(?:[^@/?#\[\]\\]*@)?([A-Za-z0-9.-]+)(?=[:/?#]|$)", re.I)


def host_of(url: str) -> str:
    """The lower-case host of `url`, "" when it has none or does not parse."""
    plain = _PLAIN_HOST.match(url)
    if plain:
        return plain[1].lower()
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # an address such as http://[oops/
        return ""


def absolute_url(base: str, link: str) -> str:
    """`link` resolved against `base`, with spaces and control characters percent-encoded as a
    browser sends them: a URL from a feed or a page never puts raw control characters on a
    terminal, in the state database or in a mail header."""
    joined = urljoin(base, link.strip())
    return _UNSAFE.sub(lambda match: quote(match.group(), safe=""), joined)


def canonical_url(url: str) -> str:
    """The form two links must share to count as one: lower-case scheme and host, no default
    port, no fragment, no tracking parameters, no trailing slash (except the root)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAM.fullmatch(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))
