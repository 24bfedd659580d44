"""Response bodies decompressed a bounded piece at a time, so a compression bomb costs no memory.

httpx decompresses each chunk that arrives whole: 64 KB of gzipped zeros become 64 MB at once,
before any cap on the body is checked, and two dozen such pages at once took 1.3 GB. Here the
raw bytes are inflated with zlib's `max_length`, at most PIECE bytes per step, so whoever reads
stops at its cap with at most one piece more in memory. digest asks only for gzip and deflate
(ACCEPT_ENCODING); a body in any other encoding, or in two, is refused rather than guessed at.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024  # most bytes of decompressed body produced at once


async def decoded_pieces(response: httpx.Response, piece: int = PIECE) -> AsyncIterator[bytes]:
    """The body of a streamed `response`, decompressed as its Content-Encoding says, in pieces
    of at most `piece` bytes. Raises httpx.DecodingError for an encoding digest did not ask
    for, or a body that does not decompress."""
    if response.is_stream_consumed:  # made whole in memory (httpx.MockTransport): decoded
        for out in _Inflater("identity").feed(response.content, piece):
            yield out
        return
    inflater = _Inflater.for_encoding(response.headers.get("content-encoding", ""))
    async for raw in response.aiter_raw():
        for out in inflater.feed(raw, piece):
            yield out
        if inflater.done:
            return


class _Inflater:
    """Inflates one encoding (or passes bytes through, for none) a bounded step at a time."""

    def __init__(self, kind: str):
        self.kind = kind  # "identity", "gzip" or "deflate"
        self.done = False
        self._zlib = None

    @classmethod
    def for_encoding(cls, header: str) -> _Inflater:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if not codings:
            return cls("identity")
        kind = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}.get(codings[0])
        if len(codings) > 1 or kind is None:
            raise httpx.DecodingError(
                f"the body is encoded as {header.strip()!r}; digest asks for gzip or deflate only"
            )
        return cls(kind)

    def feed(self, raw: bytes, piece: int) -> Iterator[bytes]:
        if self.kind == "identity":
            for start in range(0, len(raw), piece):
                yield raw[start : start + piece]
            return
        if self._zlib is None:
            self._zlib = zlib.decompressobj(_window(self.kind, raw))
        try:
            while raw and not self.done:
                out = self._zlib.decompress(raw, piece)
                raw = self._zlib.unconsumed_tail
                self.done = self._zlib.eof  # what follows the end of the stream is not body
                if out:
                    yield out
        except zlib.error as exc:
            raise httpx.DecodingError(f"the {self.kind} body does not decompress ({exc})") from None


def _window(kind: str, first: bytes) -> int:
    """zlib's wbits for the stream: a gzip header, or for deflate a zlib header when the first
    two bytes make one, else raw deflate (what some servers send as "deflate")."""
    if kind == "gzip":
        return 16 + zlib.MAX_WBITS
    zlib_header = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
