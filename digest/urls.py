"""URL helpers shared by every stage: canonical URLs for deduplication."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
TRACKING_PARAM = re.compile(
    r"utm_.*|mc_.*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|_hsenc|_hsmi|mkt_tok", re.I
)


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
