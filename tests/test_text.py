"""Text as digest keeps it (digest.core.text, digest.core.urls): one plain line, with nothing
invisible in it that could turn it around on a reader's screen or terminal."""

from __future__ import annotations

import sys
import unicodedata

from digest.core.text import fold
from digest.core.urls import absolute_url

# Kept on purpose: the zero-width space and BOM become spaces, and the joiners make emoji
# sequences and Persian and Indic words.
SPACES = {"\u200b", "\ufeff"}
JOINERS = {"\u200c", "\u200d"}


def test_every_format_character_is_folded_out_but_the_joiners():
    found = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    assert len(found) > 150  # the whole category, not a sample
    for char in found:
        folded = fold(f"a{char}b")
        if char in JOINERS:
            assert folded == f"a{char}b"
        elif char in SPACES:
            assert folded == "a b"
        else:
            assert folded == "ab", f"U+{ord(char):04X} {unicodedata.name(char, '')}"


def test_a_bidi_override_cannot_turn_a_title_around():
    assert fold("Report \u202egnp.exe \u2066 done\u2069") == "Report gnp.exe done"
    assert fold("👩\u200d💻 coders") == "👩\u200d💻 coders"  # one emoji, kept whole


def test_format_characters_in_links_are_percent_encoded():
    url = absolute_url("https://partner.example/", "/a\u202eb\u200f?q=\U000e0041")
    assert url == "https://partner.example/a%E2%80%AEb%E2%80%8F?q=%F3%A0%81%81"
