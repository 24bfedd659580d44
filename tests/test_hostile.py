"""Every hostile source from the issue, served from loopback beside a good feed, through
`digest fetch`: a one-line error naming the source, the good feed still stored, no traceback."""

import json
import re
import sqlite3
from datetime import timedelta

import pytest

from tests.samples import NOW, cli, rss
from tests.server import Reply

SECRET = "HOSTILE-SECRET-FILE-CONTENT"
LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))


def with_title(title: str, prolog: str = "") -> bytes:
    return rss(1, prolog=prolog).replace(b"Story 0", title.encode())


def future_and_bad_dates() -> bytes:
    future = (NOW + timedelta(days=3650)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    body = rss(2).decode()
    first, second = [part.split("</pubDate>")[0] for part in body.split("<pubDate>")[1:]]
    return body.replace(first, future).replace(second, "31 Februar 20x6").encode()


def trickle():
    yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
    for _ in range(100):
        yield b" "


DTD_NOTE = "its DTD was removed unread; malformed but readable: undefined entity"
# case: (the reply, given the test's tmp_path; the status; how its error or note starts)
HOSTILE = {
    "billion-laughs": (
        lambda tmp: Reply(200, with_title("&l9;", f"<!DOCTYPE rss [{LAUGHS}]>")),
        "new",
        DTD_NOTE,
    ),
    "quadratic-blowup": (
        lambda tmp: Reply(
            200,
            with_title("&big;" * 20_000, '<!DOCTYPE rss [<!ENTITY big "' + "A" * 50_000 + '">]>'),
        ),
        "error",
        "malformed feed with no readable items (undefined entity at line 1, column 143; "
        "1 of 1 items skipped: a title longer than 2,000 characters)",
    ),
    "external-entity": (
        lambda tmp: Reply(
            200,
            with_title(
                "&xxe;", f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{tmp.as_uri()}/secret.txt">]>'
            ),
        ),
        "new",
        DTD_NOTE,
    ),
    "fifty-megabytes": (
        lambda tmp: Reply(200, (b" " * 65536 for _ in range(800))),
        "error",
        "body larger than 2,000,000 bytes (fetch.max_bytes); stopped reading",
    ),
    "trickle": (
        lambda tmp: Reply(200, trickle(), chunk_delay=0.05),
        "error",
        "no complete answer within 1 s (fetch.total_timeout)",
    ),
    "malformed-xml": (
        lambda tmp: Reply(200, b"<rss><channel><item><title>a</titl"),
        "error",
        "malformed feed with no readable items (unclosed token at line",
    ),
    "wrong-encoding": (
        lambda tmp: Reply(
            200,
            with_title("Caf\xe9 \xa35").replace(
                "Caf\xe9 \xa35".encode(), "Caf\xe9 \xa35".encode("latin-1")
            ),
        ),
        "new",
        "malformed but readable: document declared as utf-8, but parsed as windows-1252",
    ),
    "empty-body": (lambda tmp: Reply(200, b""), "error", "empty body: the server sent no feed"),
    "html-page": (
        lambda tmp: Reply(
            200,
            b'<!doctype html><html><head><link rel="alternate" '
            b'type="application/rss+xml" href="/real-feed"></head>'
            b"<body>Welcome</body></html>",
            {"Content-Type": "text/html"},
        ),
        "error",
        "an HTML page, not a feed; it advertises: http://127.0.0.1:",
    ),
    "redirect-loop": (
        lambda tmp: Reply(302, headers={"Location": "/hostile"}),
        "error",
        "redirect loop (302 back to http://127.0.0.1:",
    ),
    "not-found": (lambda tmp: Reply(404), "error", "HTTP 404 Not Found: no feed at this URL"),
    "server-error": (lambda tmp: Reply(500), "error", "HTTP 500 Internal Server Error: server"),
    "rate-limited": (
        lambda tmp: Reply(429, headers={"Retry-After": "0"}),
        "error",
        "HTTP 429 Too Many Requests: the server is rate limiting digest",
    ),
    "connection-reset": (lambda tmp: Reply(reset=True), "error", "connection broken"),
}


# The trickling server sleeps between chunks in its thread, which libfaketime breaks.
CASES = [pytest.param(c, marks=pytest.mark.realclock) if c == "trickle" else c for c in HOSTILE]


@pytest.mark.parametrize("case", CASES)
def test_hostile_source_is_contained(case, server, make_config, tmp_path):
    (tmp_path / "secret.txt").write_text(SECRET)
    make_reply, status, text = HOSTILE[case]
    server.routes["/hostile"] = make_reply(tmp_path)
    server.routes["/good"] = Reply(200, rss(3))
    path = make_config(
        [("Hostile", server.url("/hostile")), ("Good", server.url("/good"))],
        fetch="  max_bytes: 2000000\n  total_timeout: 1\n",
    )

    result = cli("fetch", "-c", path, "--json")

    assert "Traceback" not in result.output and SECRET not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    hostile, good = json.loads(result.output)["sources"]
    assert (good["status"], good["new_items"]) == ("new", 3)
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = " ".join(str(v) for row in db.execute("SELECT * FROM items") for v in row)
    assert SECRET not in stored and "lollol" not in stored and "AAAAAAAAAA" not in stored
    assert hostile["status"] == status
    assert (hostile["error"] or hostile["note"]).startswith(text)
    (error,) = db.execute("SELECT last_error FROM sources WHERE name = 'Hostile'").fetchone()
    assert error == hostile["error"]
    assert result.exit_code == (3 if status == "error" else 0)
    if status == "error":
        assert "\n" not in hostile["error"]
        assert hostile["name"] == "Hostile" and hostile["new_items"] == 0


def test_five_thousand_items_are_all_stored(server, make_config, tmp_path):
    server.routes["/big"] = Reply(200, rss(5000))
    path = make_config([("Big", server.url("/big"))])
    result = cli("fetch", "-c", path, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["sources"][0]["new_items"] == 5000
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("SELECT count(*) FROM items").fetchone() == (5000,)


def test_future_dates_are_clamped_and_bad_dates_flagged(server, make_config, tmp_path):
    server.routes["/dates"] = Reply(200, future_and_bad_dates())
    path = make_config([("Dates", server.url("/dates"))])
    assert cli("fetch", "-c", path).exit_code == 0
    db = sqlite3.connect(tmp_path / "state.db")
    rows = db.execute(
        "SELECT published, first_seen, date_note FROM items ORDER BY title"
    ).fetchall()
    (future_published, first_seen, future_note), (bad_published, bad_seen, bad_note) = rows
    assert future_published == first_seen and future_note.startswith("future date 2036")
    assert bad_published == bad_seen and bad_note.startswith("unreadable date")


# Every control but newline and tab, and the invisible format characters that turn text around
# (bidi overrides, isolates, marks) or hide it (tag characters).
CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]"
)
TITLE_ESC, CLEAR, CSI = "\x1b]0;owned\x07", "\x1b[2J", "\x9b2J"
BIDI = "\u202e\u2066\u200f\U000e0041"  # right-to-left override, isolate, mark, a tag "A"


def text_cells(db_path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text cell of the state database; pages keep the raw
    body a server sent, by design, and are left out."""
    db = sqlite3.connect(db_path)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    cells = []
    for table in set(tables) - {"pages"}:
        cursor = db.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cursor.description]
        for row in cursor:
            cells += [(table, n, v) for n, v in zip(names, row, strict=True) if isinstance(v, str)]
    return cells


def test_control_characters_from_sources_reach_neither_terminal_nor_database(
    server, make_config, tmp_path
):
    server.routes["/page"] = Reply(
        200,
        (
            '<!doctype html><html><head><link rel="alternate" type="application/rss+xml"'
            f' href="/feed{TITLE_ESC}"><link rel="alternate" type="application/atom+xml"'
            f' href="/x{CLEAR}{CSI}"></head><body>Welcome</body></html>'
        ).encode(),
        {"Content-Type": "text/html"},
    )
    feed = rss(2).decode()
    feed = feed.replace("Story 0", f"Story {CSI} zero").replace("Story 1", f"One{TITLE_ESC}{BIDI}")
    feed = feed.replace("/news/0", f"/news/0{CLEAR}{BIDI}").replace("Summary of", f"Sum{CSI}")
    feed = feed.replace("Health inequalities", f"Health{CLEAR}{BIDI}")
    server.routes["/feed"] = Reply(200, feed.encode())
    weeknote = (
        f"<html><head><title>Note {TITLE_ESC}</title></head><body><article><h1>Note</h1>"
        f"<p>Hello{CLEAR} everyone, this week{BIDI} has been a busy one for all of us here.</p>"
        f"<h2>Inequalities {CSI}</h2><ul><li><a href='https://reports.example/a{TITLE_ESC}{BIDI}'>"
        f"A report{CLEAR}{BIDI} on gaps</a>, out now.</li></ul></article></body></html>"
    )
    server.routes["/weeknote"] = Reply(200, weeknote.encode(), {"Content-Type": "text/html"})
    path = make_config(
        [("Page", server.url("/page")), ("Partner", server.url("/feed"))],
        extra=f"weeknote:\n  url: {server.url('/weeknote')}\n",
    )
    outputs = [
        cli("fetch", "-c", path).output,
        cli("fetch", "-c", path, "--json").output,
        cli("build", "-c", path, "--offline", "--explain").output,
        cli("preview", "-c", path, "--offline").output,
    ]
    assert "an HTML page, not a feed; it advertises:" in outputs[0]
    assert "Story" in outputs[2] and "A report" in outputs[2]
    preview = tmp_path / "preview"
    outputs += [
        (preview / name).read_text(encoding="utf-8") for name in ("issue.html", "issue.txt")
    ]
    assert "* A report [2J on gaps" in outputs[-1] and "* One ]0;owned\n" in outputs[-1]
    for output in outputs:
        assert not CONTROL.search(output), CONTROL.findall(output)
    cells = text_cells(tmp_path / "state.db")
    assert any("advertises" in value for _, _, value in cells)
    assert [cell for cell in cells if CONTROL.search(cell[2])] == []
