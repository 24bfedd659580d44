"""Redirect wrappers that carry their destination are unwrapped without a request; anything
else, and anything malformed, is left exactly as it was."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from digest.core.urls import host_of
from digest.sources.unwrap import MAX_DEPTH, unwrap

REPORT = "https://www.kingsfund.org.uk/publications/health-inequalities"


@pytest.mark.parametrize(
    ("wrapped", "destination"),
    [
        (
            "https://medium.com/r/?url=https%3A%2F%2Fwww.kingsfund.org.uk%2Fpublications"
            "%2Fhealth-inequalities",
            REPORT,
        ),
        (
            "https://www.google.com/url?q=https://www.kingsfund.org.uk/publications/"
            "health-inequalities&sa=D&source=editors&ust=1732900000000000&usg=AOvVaw0abc",
            REPORT,
        ),
        (
            "https://www.google.co.uk/url?sa=t&rct=j&esrc=s&source=web&cd=1"
            "&url=https%3A%2F%2Fnhs.example%2Fsearch%3Fq%3Dvideo%26page%3D2&ved=2ahUKEw",
            "https://nhs.example/search?q=video&page=2",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fevents.example%2Fwinter-fair"
            "%3Ffbclid%3DIwAR0xyz&h=AT0abcDEF",
            "https://events.example/winter-fair?fbclid=IwAR0xyz",
        ),
        (
            "https://lm.facebook.com/l.php?u=https%3A%2F%2Fevents.example%2F&h=AT1",
            "https://events.example/",
        ),
        (
            "https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Freports.example"
            "%2Fgaps.pdf&data=05%7C02%7Ceditor%40community.example%7C0123&sdata=Zm9v%3D&reserved=0",
            "https://reports.example/gaps.pdf",
        ),
        (
            "https://urldefense.proofpoint.com/v2/url?u=https-3A__reports.example_gaps-5F2026"
            "-3Fid-3D7-26lang-3Den&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM"
            "&r=abc&m=def&s=ghi&e=",
            "https://reports.example/gaps_2026?id=7&lang=en",
        ),
        (
            "https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fjobs.example%2F42"
            "&urlhash=Xk2p&trk=public_post-text",
            "https://jobs.example/42",
        ),
        (
            "https://www.linkedin.com/safety/go?url=https%3A%2F%2Fjobs.example%2F42"
            "&trk=flagship-messaging-web&messageThreadUrn=urn%3Ali%3AmessagingThread%3A2",
            "https://jobs.example/42",
        ),
        (
            "https://slack-redir.net/link?url=https%3A%2F%2Fvoices.example%2Fstory",
            "https://voices.example/story",
        ),
    ],
)
def test_a_wrapper_gives_its_destination(wrapped, destination):
    assert unwrap(wrapped) == destination


@pytest.mark.parametrize(
    ("wrapped", "destination"),
    [
        # "é" (w6k) and the "*" of a run of none: one character each
        (
            "https://urldefense.com/v3/__https://voices.example/caf*-stories?id=3__;w6k"
            "!!Ou0P!kQ2d8S0b$",
            "https://voices.example/café-stories?id=3",
        ),
        # "**B" is a run of three replaced characters, "*" one more; after the run
        (
            "https://urldefense.com/v3/__https://voices.example/a**Bb*__;w6nDqcOpJA!!Ou0P!x$",
            "https://voices.example/aéééb$",
        ),
        # nothing replaced, and the "//" that some mail software folds into "/"
        (
            "https://urldefense.com/v3/__https:/voices.example/plain__;!!Ou0P!kQ2d8S0b$",
            "https://voices.example/plain",
        ),
        # only the destination's own scheme is mended, not a URL in its query
        (
            "https://urldefense.com/v3/__https://voices.example/go?next=https:/x__;!!Ou0P!k$",
            "https://voices.example/go?next=https:/x",
        ),
    ],
)
def test_proofpoint_v3_fills_in_the_replaced_characters(wrapped, destination):
    assert unwrap(wrapped) == destination


@pytest.mark.parametrize(
    "url",
    [
        # not wrappers
        "https://www.google.com/search?q=https://reports.example/",
        "https://www.kingsfund.org.uk/url?q=https://reports.example/",
        # a wrapper's host with no destination
        "https://www.google.com/url?sa=t&source=web&cd=1",
        "https://medium.com/r/",
        # wrappers that need a request to follow: enrichment fetches them
        "https://t.co/Ab12Cd34",
        "https://lnkd.in/eXyZ-12",
        "https://community.us1.list-manage.com/track/click?u=0a1b&id=2c3d&e=4e5f",
        # destinations that are not web pages
        "https://www.google.com/url?q=javascript:alert(document.cookie)",
        "https://slack-redir.net/link?url=data%3Atext%2Fhtml%2C%3Cscript%3E",
        "https://l.facebook.com/l.php?u=%2Frelative%2Fpath",
        "https://www.google.com/url?q=not+a+url",
        # malformed destinations
        "https://www.google.com/url?q=http://[::1",
        "https://medium.com/r/?url=https://reports.example:99999999/",
        "https://medium.com/r/?url=https://:80/",
        # Proofpoint v3 that cannot be decoded: too few characters, an unknown run, bad base64
        "https://urldefense.com/v3/__https://voices.example/a**__;w6k!!Ou0P$",
        "https://urldefense.com/v3/__https://voices.example/a**Zb__;w6k!!Ou0P$",
        "https://urldefense.com/v3/__https://voices.example/a*b__;w!!Ou0P$",
        "https://urldefense.com/v3/__https://voices.example/a*b__;_w!!Ou0P$",
        "https://urldefense.com/v3/__javascript:alert(1)__;!!Ou0P$",
        # not URLs at all
        "",
        "mailto:editor@community.example",
        "http://[::1",
    ],
)
def test_anything_else_is_left_as_it_was(url):
    assert unwrap(url) == url


def test_a_wrapper_inside_a_wrapper_is_unwrapped_to_the_end():
    google = "https://www.google.com/url?q=https%3A%2F%2Freports.example%2Fgaps&sa=D"
    outlook = (
        "https://nam12.safelinks.protection.outlook.com/?url="
        + google.replace("%", "%25").replace(":", "%3A").replace("/", "%2F").replace("?", "%3F")
        + "&data=05%7C02&reserved=0"
    )
    assert unwrap(outlook) == "https://reports.example/gaps"


def test_an_inner_wrapper_with_a_bad_destination_is_where_unwrapping_stops():
    inner = "https://www.google.com/url?q=javascript:void(0)"
    outer = "https://slack-redir.net/link?url=" + inner.replace(":", "%3A").replace("/", "%2F")
    assert unwrap(outer) == inner


def test_unwrapping_stops_after_a_bounded_depth():
    url = "https://reports.example/gaps"
    for _ in range(MAX_DEPTH + 2):
        url = "https://slack-redir.net/link?url=" + url.replace("%", "%25").replace("&", "%26")
    result = unwrap(url)
    assert result.startswith("https://slack-redir.net/link?url=")  # given up, not failed
    for _ in range(2):
        result = unwrap(result)
    assert result == "https://reports.example/gaps"


def test_a_destination_with_spaces_or_control_characters_is_stored_encoded():
    wrapped = "https://slack-redir.net/link?url=https%3A%2F%2Fvoices.example%2Fa%20b%0Ac"
    assert unwrap(wrapped) == "https://voices.example/a%20b%0Ac"


@pytest.mark.parametrize(
    "url",
    [
        "https://WWW.Example.org/a",
        "http://user:pw@host.example:8080/x",
        "https://[::1]/",
        "http://[oops/",
        "https://a.b/c?d#e",
        "mailto:someone@example.org",
        "https://host",
        "https://ho_st.example/",
        "http://évil.example/",
        "https://example.org\\@evil.example/",
    ],
)
def test_host_of_agrees_with_urlsplit(url):
    try:
        expected = urlsplit(url).hostname or ""
    except ValueError:
        expected = ""
    assert host_of(url) == expected
