"""URL helpers shared by every stage: URLs made safe to store and show, canonical URLs for
deduplication."""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from digest.core.text import FORMAT_CHARACTERS

# Longer is not a link anyone follows (sitemaps stop at 2,048 too); a 100,000-character one
# would be most of an email's size.
MAX_URL_LENGTH = 2048
# Spaces, control characters (C1 included) and invisible format characters such as bidi
# overrides, which would make a link read as another on a screen or terminal.
_UNSAFE = re.compile(f"[\\x00-\\x20\\x7f-\\x9f{FORMAT_CHARACTERS}]")
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


# Top-level names kept out of the public DNS for documentation and tests (RFC 2606): no public
# site answers there, so the example's made-up sites are never looked up, only named as such.
RESERVED_NAMES = frozenset({"example", "invalid", "test"})


def reserved_host(url: str) -> str | None:
    """The host of `url` when it is on a reserved name (`partner.example`), else None."""
    host = host_of(url).rstrip(".")
    return host if host.rpartition(".")[2] in RESERVED_NAMES else None


def absolute_url(base: str, link: str) -> str:
    """`link` resolved against `base`, with spaces, control and format characters
    percent-encoded as a browser sends them: a URL from a feed or a page never puts raw control
    characters on a terminal, in the state database or in a mail header."""
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


def domain_of(url: str) -> str:
    """The host a reader would recognise: "https://www.kingsfund.org.uk/x" → "kingsfund.org.uk"."""
    return host_of(url).removeprefix("www.")


# Second-level labels under which a country's registrations sit: kingsfund.org.uk, not org.uk.
SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "govt", "ltd", "net", "nhs", "org"})
SECOND_LEVEL |= {"plc", "sch", "police", "mod", "nic", "me"}


@functools.lru_cache(maxsize=1024)
def site_of(host: str) -> str:
    """The part of a host name its owner registered: "www.england.nhs.uk" → "england.nhs.uk"
    (an approximation of the public suffix list: two labels, three under a country's second
    level such as org.uk)."""
    labels = host.lower().removeprefix("www.").split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def registered_domain(url: str) -> str:
    """`site_of` the host of `url`."""
    return site_of(domain_of(url))
