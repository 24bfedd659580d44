"""A fetched page's bytes as text, read the way a browser reads them, but never trusting a label
the bytes contradict.

Pages are often mislabelled: a CMS template says `<meta charset="utf-8">` over text pasted from
Word in windows-1252, so a strict UTF-8 decoder fails on its curly quotes. A declared charset is
used only when the whole body decodes with it; otherwise the bytes are read by detection.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# Checked longest first: a UTF-32LE BOM starts with the UTF-16LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# As the WHATWG Encoding standard (and so every browser) reads these labels: latin-1 and ASCII
# pages are decoded as windows-1252, the legacy CJK labels as their Windows supersets, UTF-16
# without a BOM as little-endian.
WEB_CODECS = {
    "utf-16": "utf-16-le",
    "utf-32": "utf-32-le",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
# Codecs Python knows that no page is written in; UTF-7 is refused by browsers because it lets
# markup hide inside innocent-looking ASCII.
NOT_PAGE_CODECS = {"utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape"}
# An ASCII-compatible meta cannot truly be in UTF-16 or UTF-32: the HTML standard reads it as UTF-8.
WIDE_CODECS = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
PRESCAN_BYTES = 1024  # the HTML standard's prescan reads this far for a <meta> charset
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_META = re.compile(r"<meta[\s/]([^>]*)", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([^\s/>=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")


def decode_html(body: bytes, content_type: str | None) -> str:
    """`body` as text: a BOM, else the HTTP charset, else a `<meta>` charset, else UTF-8, each
    only if the whole body decodes with it; then detection; windows-1252 (which reads almost any
    bytes) next; U+FFFD for what is left only as the last resort."""
    for bom, codec in BOMS:
        if body.startswith(bom):
            text = _strict(body[len(bom) :], codec)
            if text is not None:
                return text
    declared = [_http_codec(content_type), _meta_codec(body[:PRESCAN_BYTES])]
    for codec in dict.fromkeys([*filter(None, declared), "utf-8"]):
        text = _strict(body, codec)
        if text is not None:
            return text
    if "cp1252" in declared:
        # Labelled windows-1252 (or Latin-1) and not valid UTF-8: believe the label, as
        # browsers do, with its five unused bytes read as the C1 controls they stand for.
        # Detection would read a stray 0x81 as a sign of some other code page altogether.
        return body.decode("cp1252", errors="digest-c1")
    for codec in (_detected_codec(body), "cp1252"):
        text = _strict(body, codec) if codec else None
        if text is not None:
            return text
    return body.decode(next(filter(None, declared), "utf-8"), errors="replace")


def _c1_controls(error: UnicodeDecodeError) -> tuple[str, int]:
    """The bytes windows-1252 leaves unused, as the code points Latin-1 gives them."""
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("digest-c1", _c1_controls)


def _strict(body: bytes, codec: str) -> str | None:
    """`body` decoded with `codec`, or None if any byte does not fit. A character cut in two at
    the very end (a page truncated at fetch.max_bytes) is dropped rather than failing it."""
    try:
        return codecs.getincrementaldecoder(codec)().decode(body, final=False)
    except UnicodeError:  # UnicodeDecodeError, or the bare UnicodeError a few codecs raise
        return None


def _codec(label: str) -> str | None:
    """The Python codec a charset label names, as browsers read it, or None if it names none
    (or one no page is written in)."""
    try:
        name = codecs.lookup(label.strip()).name
        # Python also registers bytes-to-bytes codecs (base64, zlib, rot13) and "undefined",
        # which refuse to decode text.
        b"\0\0\0\0".decode(name)
    except (LookupError, ValueError):
        return None
    return None if name in NOT_PAGE_CODECS else WEB_CODECS.get(name, name)


def _http_codec(content_type: str | None) -> str | None:
    found = _CHARSET_PARAM.search(content_type or "")
    return _codec(found[1]) if found else None


def _meta_codec(head: bytes) -> str | None:
    """The charset of the first `<meta charset>` or `<meta http-equiv=Content-Type>` that names
    a known one, as the HTML standard's prescan finds it; comments do not count."""
    text = _COMMENT.sub("", head.decode("latin-1"))  # one character per byte, whatever they are
    for meta in _META.finditer(text):
        attributes: dict[str, str] = {}
        for name, value in _ATTRIBUTE.findall(meta[1]):
            attributes.setdefault(name.lower(), value.strip("\"'"))
        label = attributes.get("charset")
        if label is None and attributes.get("http-equiv", "").lower() == "content-type":
            found = _CHARSET_PARAM.search(attributes.get("content", ""))
            label = found[1] if found else None
        codec = _codec(label) if label else None
        if codec is not None:
            return "utf-8" if codec in WIDE_CODECS else codec
    return None


def _detected_codec(body: bytes) -> str | None:
    """The codec charset-normalizer reads `body` best with. Where windows-1252 reads it as
    cleanly as the winner, windows-1252: it is the web's usual legacy charset, and the detector
    breaks such ties towards its neighbours (cp1250 turns "naïve" into "naďve")."""
    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        return None
    tied = (match for match in matches if match.chaos <= best.chaos)
    if any("cp1252" in match.could_be_from_charset for match in tied):
        return "cp1252"
    return best.encoding
