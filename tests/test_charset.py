"""Pages read as browsers read them, except that a label the bytes contradict is not believed."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.core.config import load_config
from digest.core.store import Store
from digest.pipeline import build_issue, fetch_sources
from digest.sources.charset import decode_html
from tests.samples import NOW, config_text
from tests.server import Reply

# Pasted from a word processor: curly quotes, dashes and accents, which windows-1252 writes as
# 0x93/0x94, 0x96/0x97 and so on, bytes that are not UTF-8.
WORDY = "It\u2019s been a \u201cbusy\u201d week \u2013 the caf\u00e9 team\u2019s na\u00efve plan."
RUSSIAN = "Новости недели: доклад о неравенстве в здоровье населения опубликован."  # noqa: RUF001


def page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>Weeknote</title></head><body><p>{text}</p></body></html>"


def test_windows_1252_labelled_utf8_in_meta_is_read_as_windows_1252():
    body = page(WORDY, '<meta charset="utf-8">').encode("cp1252")
    assert WORDY in decode_html(body, "text/html")


def test_windows_1252_without_any_label_is_read_as_windows_1252():
    text = decode_html(page(WORDY).encode("cp1252"), None)
    assert WORDY in text and "\ufffd" not in text


def test_iso_8859_1_in_http_means_windows_1252():
    body = page(WORDY).encode("cp1252")
    assert WORDY in decode_html(body, "text/html; charset=ISO-8859-1")
    assert WORDY in decode_html(body, 'text/html; charset="us-ascii"')


def test_latin_1_in_meta_means_windows_1252_too():
    body = page(WORDY, '<meta http-equiv="Content-Type" content="text/html; charset=latin1">')
    assert WORDY in decode_html(body.encode("cp1252"), None)


def test_utf16_pages_with_a_bom():
    for codec, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        text = decode_html(bom + page(WORDY).encode(codec), None)
        assert text == page(WORDY)


def test_a_bom_outweighs_a_server_default_charset():
    body = b"\xef\xbb\xbf" + page(WORDY).encode()
    assert decode_html(body, "text/html; charset=iso-8859-1") == page(WORDY)


def test_the_http_charset_overrides_a_wrong_meta():
    body = page(RUSSIAN, '<meta charset="iso-8859-1">').encode("cp1251")
    assert RUSSIAN in decode_html(body, "text/html; charset=windows-1251")


def test_http_utf8_that_is_utf8_keeps_emoji():
    text = page("Party \U0001f389 for the team \u2014 see you there \U0001f44b")
    assert decode_html(text.encode(), "text/html; charset=utf-8") == text


def test_shift_jis_declared_in_meta():
    text = page(
        "今週のニュース、地域の健康格差についての報告書が公開されました。",
        '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">',
    )
    assert decode_html(text.encode("shift_jis"), None) == text


def test_an_undeclared_cyrillic_page_is_detected():
    assert RUSSIAN in decode_html(page(RUSSIAN).encode("cp1251"), None)


def test_a_meta_that_says_utf16_means_utf8():
    text = page(WORDY, '<meta charset="utf-16">')
    assert decode_html(text.encode(), None) == text


def test_a_meta_in_a_comment_or_after_1024_bytes_does_not_count():
    hidden = '<!-- <meta charset="windows-1251"> -->'
    late = "<!--" + " " * 1100 + '--><meta charset="windows-1251">'
    for head in (hidden, late):
        body = page(RUSSIAN, head).encode("cp1251")
        # not read as windows-1251 by the label; detection still finds it
        assert RUSSIAN in decode_html(body, None)
        # and the label does not override an HTTP charset the body fits
        assert RUSSIAN not in decode_html(body, "text/html; charset=koi8-r")


def test_unknown_and_dangerous_labels_are_ignored():
    body = page(WORDY, '<meta charset="windows-1252">').encode("cp1252")
    for label in ("bogus", "utf-7", "base64", "rot13", "undefined"):
        assert WORDY in decode_html(body, f"text/html; charset={label}")


def test_utf8_cut_in_the_middle_of_a_character_stays_utf8():
    body = page(WORDY).encode()
    cut = body[: body.index("café".encode()) + 4]  # "caf" and the first byte of "é"
    assert decode_html(cut, None).endswith("the caf")


def test_pure_ascii_and_empty_bodies():
    assert decode_html(b"<p>plain</p>", None) == "<p>plain</p>"
    assert decode_html(b"", "text/html; charset=utf-8") == ""


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=3000),
    st.sampled_from([None, "text/html", "text/html; charset=utf-8", "text/html; charset=utf-16"]),
)
def test_any_bytes_decode_without_raising(body, content_type):
    assert isinstance(decode_html(body, content_type), str)


def test_random_bytes_decode_without_raising():
    for size in (1, 7, 1024, 20_000):
        assert isinstance(decode_html(os.urandom(size), None), str)


def test_a_mislabelled_windows_1252_weeknote_keeps_its_curly_quotes(server, tmp_path):
    """Served as windows-1252 over HTTP, while the page's own meta says UTF-8: the HTTP charset
    is stored with the page and read when the issue is built."""
    body = f"""<html><head><meta charset="utf-8"><title>Weeknote 48</title></head><body>
    <article><h1>Weeknote 48</h1>
    <p>{WORDY} A \u201cbusy\u201d week for the network.</p>
    <h2>Health inequalities</h2>
    <ul><li><a href="https://reports.example/gaps">The \u201cwidening gaps\u201d report</a>:
    what it means for the caf\u00e9 team.</li></ul>
    </article></body></html>""".encode("cp1252")
    server.routes["/weeknote"] = Reply(
        200, body, {"Content-Type": "text/html; charset=windows-1252"}
    )
    path = tmp_path / "feeds.yaml"
    weeknote = f"weeknote:\n  url: {server.url('/weeknote')}\n"
    path.write_text(config_text([], extra=weeknote), encoding="utf-8")
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        fetch_sources(config, store, NOW)
        assert store.page(server.url("/weeknote")).content_type == (
            "text/html; charset=windows-1252"
        )
        issue = build_issue(config, store, NOW)
    assert WORDY in issue.intro
    [item] = issue.items()
    assert "\u201cwidening gaps\u201d" in item.title
    assert "\ufffd" not in issue.to_json()


def test_a_latin1_label_is_believed_even_with_a_byte_windows_1252_leaves_unused():
    """0x81 has no character in windows-1252; browsers still read the page by its label, and
    so does digest, rather than letting detection pick some other code page for the rest."""
    words = "We\u2019ve \u201cbooked\u201d the room"
    page = f"<meta charset='iso-8859-1'><p>{words}</p>".encode("cp1252") + b"\x81"
    text = decode_html(page, None)
    assert words in text and text.endswith("\x81")
    assert decode_html(page, "text/html; charset=latin1") == text
