import csv
import io
import json
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from digest.cli import DigestGroup, main
from digest.cli.subscribers import subscribers
from digest.core.store import Store
from digest.delivery.subscribers import (
    AddressError,
    CsvError,
    SubscriberError,
    Subscribers,
    escape_cell,
    normalise_email,
    unescape_cell,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=1)

# The group under a copy of `main` (same options, same error translation), so these tests do not
# depend on digest/cli/__init__.py having registered it yet.
CLI = DigestGroup(
    name="digest",
    params=main.params,
    callback=main.callback,
    commands={**main.commands, "subscribers": subscribers},
    context_settings=main.context_settings,
)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "state.db"


@pytest.fixture
def subs(db_path):
    with Store.open(db_path) as store:
        yield Subscribers(store)


def invoke(*args):
    return CliRunner().invoke(CLI, ["subscribers", *(str(a) for a in args)])


def rows(db_path) -> list[tuple]:
    """The table as stored, read without digest's own code."""
    db = sqlite3.connect(db_path)
    try:
        query = "SELECT email, name, status, source FROM subscribers ORDER BY email"
        return db.execute(query).fetchall()
    finally:
        db.close()


def write_csv(path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# addresses

VALID = [
    ("ann@example.org", "ann@example.org"),
    ("  ann@example.org\n", "ann@example.org"),
    ("Ann@Example.ORG", "ann@example.org"),
    ("ann.lee+digest@mail.example.co.uk", "ann.lee+digest@mail.example.co.uk"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("a_b-c@sub-domain.example.com", "a_b-c@sub-domain.example.com"),
    ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
    ("1234@example.museum", "1234@example.museum"),
    ("{ok}~!#$%&*=?^`|@example.org", "{ok}~!#$%&*=?^`|@example.org"),
    ("a@" + "b" * 63 + ".org", "a@" + "b" * 63 + ".org"),
]

INVALID = [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("ann example.org", "must have an @-sign"),
    ("ann @example.org", "invalid characters before the @-sign: SPACE"),
    ("ann.example.org", "must have an @-sign"),
    ("ann@@example.org", "invalid characters: '@'"),
    ("ann@bob@example.org", "invalid characters: '@'"),
    ("@example.org", "something before the @-sign"),
    ("ann@", "something after the @-sign"),
    ("ann@localhost", "It should have a period"),
    ("ann@example..org", "two periods in a row"),
    ("ann@example.org.", "cannot end with a period"),
    ("ann@-example.org", "hyphen immediately after the @-sign"),
    ("ann@exa_mple.org", "invalid characters: '_'"),
    ("ann@" + "b" * 64 + ".org", "periods cannot be separated by so many characters"),
    ("ann@192.168.0.1", "not within a valid top-level domain"),
    (".ann@example.org", "cannot start with a period"),
    ("ann..lee@example.org", "two periods in a row"),
    ('"ann lee"@example.org', "quoting the part before the @-sign is not allowed"),
    ("ann<x>@example.org", "anything after the email address"),
    ("a" * 65 + "@example.org", "more than 64 characters before the @"),
    ("a@" + "b" * 250 + ".org", "too long after the @-sign"),
    ("jörg@example.de", "only ASCII"),
    ("ann@bücher.example", "only ASCII"),
    ("x@example.c", "there is no top-level domain .c"),
    ("x@example.c0m", "there is no top-level domain .c0m"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_addresses_are_normalised(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(("raw", "reason"), INVALID)
def test_invalid_addresses_name_the_address_and_the_reason(raw, reason):
    with pytest.raises(AddressError) as caught:
        normalise_email(raw)
    assert reason in caught.value.reason
    assert caught.value.message.startswith(f"not an email address: {raw.strip()!r} (")
    assert "\n" not in caught.value.message and "example.org" in caught.value.hint


# add, remove, list, count


def test_add_list_count_and_active(subs):
    assert subs.add("Zed@Example.org", "Zed", "cli", NOW) is None
    assert subs.add("amy@example.org", None, "import:x.csv", NOW) is None
    listed = subs.list()
    assert [s.email for s in listed] == ["amy@example.org", "zed@example.org"]
    assert listed[1].as_dict() == {
        "email": "zed@example.org",
        "name": "Zed",
        "status": "active",
        "source": "cli",
        "created": "2026-03-02T09:30:00+00:00",
        "updated": "2026-03-02T09:30:00+00:00",
    }
    assert subs.count() == {
        "active": 2,
        "unsubscribed": 0,
        "bounced": 0,
        "complained": 0,
        "rejected": 0,
    }
    assert subs.active() == [("amy@example.org", None), ("zed@example.org", "Zed")]


def test_adding_an_active_address_again_keeps_one_row_and_takes_a_new_name(subs, db_path):
    subs.add("ann@example.org", "Ann", "cli", NOW)
    assert subs.add("ANN@example.org", None, "cli", LATER) == "active"
    assert rows(db_path) == [("ann@example.org", "Ann", "active", "cli")]
    subs.add("ann@example.org", "  Ann\n  Lee ", "cli", LATER)
    assert subs.list()[0].name == "Ann Lee" and subs.list()[0].updated.startswith("2026-03-03")
    subs.add("ann@example.org", "Ann\x1b]0;owned\x07 \x9b2JLee", "cli", LATER)
    assert subs.list()[0].name == "Ann ]0;owned 2JLee"  # no escape reaches a terminal


def test_a_removed_address_is_kept_unsubscribed_and_not_added_back_silently(subs, db_path):
    subs.add("ann@example.org", "Ann", "cli", NOW)
    assert subs.remove("Ann@Example.org", LATER) == "active"
    assert rows(db_path) == [("ann@example.org", "Ann", "unsubscribed", "cli")]
    assert subs.active() == []
    with pytest.raises(SubscriberError, match="is unsubscribed; not subscribing") as caught:
        subs.add("ann@example.org", None, "cli", LATER)
    assert "--resubscribe" in caught.value.hint
    assert rows(db_path)[0][2] == "unsubscribed"
    assert subs.add("ann@example.org", None, "cli", LATER, resubscribe=True) == "unsubscribed"
    assert rows(db_path) == [("ann@example.org", "Ann", "active", "cli")]


def test_remove_keeps_a_bounce_and_refuses_unknown_addresses(subs, db_path):
    subs.add("ann@example.org", None, "cli", NOW)
    subs.mark(["ann@example.org"], "bounced", "sync", NOW)
    assert subs.remove("ann@example.org", LATER) == "bounced"
    assert rows(db_path)[0][2:] == ("bounced", "sync")
    with pytest.raises(SubscriberError, match=r"bob@example\.org is not on the list"):
        subs.remove("bob@example.org", LATER)


def test_forget_deletes_the_row(subs, db_path):
    subs.add("ann@example.org", None, "cli", NOW)
    subs.remove("ann@example.org", NOW)
    assert subs.forget("ann@example.org") == "unsubscribed"
    assert rows(db_path) == []
    with pytest.raises(SubscriberError):
        subs.forget("ann@example.org")


def test_list_by_status(subs):
    for name in ("a", "b", "c"):
        subs.add(f"{name}@example.org", None, "cli", NOW)
    subs.remove("b@example.org", NOW)
    assert [s.email for s in subs.list("unsubscribed")] == ["b@example.org"]
    assert [s.email for s in subs.list("active")] == ["a@example.org", "c@example.org"]


# mark (for sync)


def test_mark_changes_known_addresses_and_counts_the_rest(subs, db_path):
    for name in ("a", "b", "c"):
        subs.add(f"{name}@example.org", None, "cli", NOW)
    subs.remove("c@example.org", NOW)
    emails = ["A@example.org", "a@example.org", "b@example.org", "c@example.org", "x@example.org"]
    report = subs.mark([*emails, "not an address"], "unsubscribed", "sync", LATER)
    assert (report.changed, report.unchanged, report.unknown) == (2, 1, 2)
    assert rows(db_path) == [
        ("a@example.org", None, "unsubscribed", "sync"),
        ("b@example.org", None, "unsubscribed", "sync"),
        ("c@example.org", None, "unsubscribed", "cli"),
    ]
    assert subs.list()[0].updated == "2026-03-03T09:30:00+00:00"
    assert subs.list()[2].updated == "2026-03-02T09:30:00+00:00"
    with pytest.raises(SubscriberError, match="'gone' is not a status"):
        subs.mark(["a@example.org"], "gone", "sync", LATER)


# import


def test_import_reports_bad_rows_by_line_and_imports_the_rest(subs, tmp_path, db_path):
    path = write_csv(
        tmp_path / "people.csv",
        "Name,EMAIL,Notes\n"  # 1: headers in any case and order, extra columns ignored
        "Ann,ann@example.org,\n"  # 2
        "\n"  # 3: blank lines are skipped but still counted
        "Bob,bob@localhost,\n"  # 4
        '"Cat\nCole",cat@example.org,\n'  # 5-6: a quoted line break
        "Dan,,no address\n"  # 7
        "Ann again,ANN@example.org,\n"  # 8
        "Eve,eve@example.org",  # 9: short row, no final newline
    )
    report = subs.import_csv(path, NOW)
    assert (report.imported, report.existing, report.skipped) == (3, 0, 3)
    assert report.problems == [
        (
            4,
            "not an email address: 'bob@localhost' (the part after the @-sign is not valid. "
            "It should have a period)",
        ),
        (7, "not an email address: '' (it is empty)"),
        (8, "ann@example.org repeats line 2"),
    ]
    assert rows(db_path) == [
        ("ann@example.org", "Ann", "active", "import:people.csv"),
        ("cat@example.org", "Cat Cole", "active", "import:people.csv"),
        ("eve@example.org", "Eve", "active", "import:people.csv"),
    ]


def test_import_tolerates_a_bom_and_crlf(subs, tmp_path, db_path):
    path = write_csv(tmp_path / "excel.csv", "\ufeffEmail,Name\r\nann@example.org,Ann\r\n")
    report = subs.import_csv(path, NOW)
    assert (report.imported, report.skipped) == (1, 0)
    assert rows(db_path) == [("ann@example.org", "Ann", "active", "import:excel.csv")]


def test_reimport_adds_nothing_and_changes_no_status(subs, tmp_path, db_path):
    path = write_csv(tmp_path / "list.csv", "email,name\nann@example.org,Ann\nbob@example.org,\n")
    assert subs.import_csv(path, NOW).imported == 2
    subs.remove("ann@example.org", NOW)
    before = rows(db_path)
    again = subs.import_csv(path, LATER)
    assert (again.imported, again.existing, again.skipped) == (0, 2, 0)
    assert rows(db_path) == before
    assert before[0] == ("ann@example.org", "Ann", "unsubscribed", "cli")


def test_import_honours_a_status_column_for_new_addresses(subs, tmp_path, db_path):
    path = write_csv(
        tmp_path / "s.csv",
        "email,status\na@example.org,\nb@example.org,Bounced\nc@example.org,gone\n",
    )
    report = subs.import_csv(path, NOW)
    assert report.problems == [
        (4, "status 'gone' is not one of active, unsubscribed, bounced, complained, rejected")
    ]
    assert [row[2] for row in rows(db_path)] == ["active", "bounced"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("name;email\nAnn;ann@example.org\n", "no 'email' column in the header line (found: "),
        ("mail,name\nann@example.org,Ann\n", "(found: mail, name)"),
        ("email\nann@example.org\n\udcff".encode("utf-8", "surrogateescape"), "is not UTF-8"),
    ],
)
def test_a_file_that_cannot_be_imported_at_all(subs, tmp_path, db_path, content, message):
    path = tmp_path / "bad.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CsvError, match=re.escape(message)) as caught:
        subs.import_csv(path, NOW)
    assert caught.value.exit_code == 2 and "email,name" in caught.value.hint
    assert rows(db_path) == []


def test_ten_thousand_rows_import_quickly(subs, tmp_path):
    lines = ["email,name", *(f"Person{n}@Example.org,Person {n}" for n in range(10_000))]
    path = write_csv(tmp_path / "big.csv", "\n".join(lines) + "\n")
    started = time.perf_counter()
    report = subs.import_csv(path, NOW)
    seconds = time.perf_counter() - started
    print(f"imported 10,000 rows in {seconds:.2f}s")
    assert (report.imported, report.skipped) == (10_000, 0)
    assert subs.count()["active"] == 10_000
    assert seconds < 10
    started = time.perf_counter()
    assert subs.import_csv(path, LATER).existing == 10_000
    print(f"re-imported them in {time.perf_counter() - started:.2f}s")


# export


def test_export_then_import_into_a_fresh_database_gives_the_same_list(subs, tmp_path):
    subs.add("ann@example.org", "Lee, Ann", "cli", NOW)
    subs.add("bob@example.org", 'Bob "B" Ray', "cli", NOW)
    subs.add("cat@example.org", None, "cli", NOW)
    subs.remove("bob@example.org", NOW)
    subs.mark(["cat@example.org"], "complained", "sync", NOW)
    stream = io.StringIO()
    assert subs.export_csv(stream) == 3
    exported = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert list(exported[0]) == ["email", "name", "status", "source", "created", "updated"]
    path = write_csv(tmp_path / "export.csv", stream.getvalue())
    with Store.open(tmp_path / "fresh.db") as store:
        fresh = Subscribers(store)
        assert fresh.import_csv(path, LATER).imported == 3
        copied = [(s.email, s.name, s.status) for s in fresh.list()]
    assert copied == [(s.email, s.name, s.status) for s in subs.list()]
    assert copied[1] == ("bob@example.org", 'Bob "B" Ray', "unsubscribed")


# export and spreadsheets (CSV injection)

# Written out here rather than imported, so a mistake in digest's own list is caught.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

HOSTILE = [  # (address, name, status)
    ("ann@example.org", '=HYPERLINK("http://evil.example","x")', "active"),
    ("bob@example.org", "+1+1", "unsubscribed"),
    ("cat@example.org", "-2", "bounced"),
    ("dan@example.org", "@SUM(A1)", "complained"),
    ("eve@example.org", "\tTab Lee", "active"),
    ("fay@example.org", "\r=CR Lee", "active"),
    ("gus@example.org", "'=already quoted", "active"),
    ("hal@example.org", "'Tis Smith", "active"),
    ("ivy@example.org", "''", "active"),
    ("=cmd@example.org", "Eq", "active"),
    ("-dash@example.org", None, "unsubscribed"),
    ("+tag@example.org", "Plus", "active"),
    ("'=quote@example.org", "Quote", "active"),
]


def add_all(subs, people):
    for email, name, status in people:
        subs.add(email, name, "cli", NOW)
        if status != "active":
            subs.mark([email], status, "sync", NOW)


def formula_free_cells(path) -> list[list[str]]:
    """The file's rows, after checking that no cell would run as a spreadsheet formula."""
    with path.open(encoding="utf-8", newline="") as file:
        table = list(csv.reader(file))
    for cells in table:
        for cell in cells:
            assert not cell.startswith(TRIGGERS), f"{cell!r} would run as a formula"
    return table


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=already quoted", "''=already quoted"),
        ("''", "'''"),
        ("'Tis", "'Tis"),
        ("'", "'"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
    ],
)
def test_escape_cell_quotes_formulas_and_the_quotes_import_would_strip(text, escaped):
    assert escape_cell(text) == escaped
    assert unescape_cell(escaped) == text


@given(st.one_of(st.text(), st.text(alphabet="=+-@\t\r'a ")))
def test_escaping_is_undone_exactly_and_never_starts_a_formula(text):
    escaped = escape_cell(text)
    assert unescape_cell(escaped) == text
    assert not escaped.startswith(TRIGGERS)
    if not text.startswith((*TRIGGERS, "'")):
        assert escaped == text and unescape_cell(text) == text


def test_export_is_formula_free_and_imports_back_as_the_same_list(subs, tmp_path, db_path):
    add_all(subs, HOSTILE)
    original = [(s.email, s.name, s.status) for s in subs.list()]
    # clean_name keeps a name on one line, so the tab- and CR-led names are stored without them.
    assert ("eve@example.org", "Tab Lee", "active") in original
    assert ("fay@example.org", "=CR Lee", "active") in original
    assert len(original) == len(HOSTILE)

    path = tmp_path / "export.csv"
    assert invoke("export", path, "--db", db_path).exit_code == 0
    names = {cells[0]: cells[1] for cells in formula_free_cells(path)}
    assert names["ann@example.org"] == "'" + HOSTILE[0][1]
    assert names["gus@example.org"] == "''=already quoted"
    assert names["hal@example.org"] == "'Tis Smith"
    assert names["ivy@example.org"] == "'''"
    assert "'=cmd@example.org" in names and "''=quote@example.org" in names

    fresh = tmp_path / "fresh.db"
    result = invoke("import", path, "--db", fresh)
    assert result.exit_code == 0
    assert result.output == f"imported {len(HOSTILE)}, already there 0, skipped 0\n"
    listed = json.loads(invoke("list", "--json", "--db", fresh).output)["subscribers"]
    assert [(s["email"], s["name"], s["status"]) for s in listed] == original


def test_export_neutralises_every_column_whatever_is_stored(subs, tmp_path, db_path):
    subs.add("ann@example.org", "Ann", "cli", NOW)
    # Values digest itself would not write (clean_name drops a leading tab; stamps start with a
    # digit), stored directly, as an older version or a hand-edited database might hold them.
    stored = ("-ann@example.org", "\tTab", "active", "@sync", "+2026-03-02", "=NOW()")
    db = sqlite3.connect(db_path)
    with db:
        db.execute("INSERT INTO subscribers VALUES (?, ?, ?, ?, ?, ?)", stored)
    db.close()
    path = tmp_path / "export.csv"
    assert subs.export_file(path) == 2
    header, first, second = formula_free_cells(path)
    assert header == ["email", "name", "status", "source", "created", "updated"]
    assert [unescape_cell(cell) for cell in first] == list(stored)
    assert second[:4] == ["ann@example.org", "Ann", "active", "cli"]


def test_an_ordinary_csv_with_quotes_imports_as_it_is(subs, tmp_path, db_path):
    path = write_csv(
        tmp_path / "other-tool.csv",
        "email,name\n"
        "o'brien@example.ie,'Tis O'Brien\n"
        "ann@example.org,'Ann'\n"
        "bob@example.org,\"Lee, 'Bob'\"\n"
        "'cat@example.org,'\n",
    )
    assert subs.import_csv(path, NOW).imported == 4
    assert [row[:2] for row in rows(db_path)] == [
        ("'cat@example.org", "'"),
        ("ann@example.org", "'Ann'"),
        ("bob@example.org", "Lee, 'Bob'"),
        ("o'brien@example.ie", "'Tis O'Brien"),
    ]


# the commands


def test_cli_add_remove_and_exit_codes(db_path):
    result = invoke("add", " Ann@Example.org ", "--name", "Ann", "--db", db_path)
    assert result.exit_code == 0 and result.output == "added ann@example.org\n"
    assert invoke("add", "ann@example.org", "--db", db_path).output.endswith("already subscribed\n")
    result = invoke("remove", "ann@example.org", "--db", db_path)
    assert result.exit_code == 0 and result.output == "unsubscribed ann@example.org\n"
    assert rows(db_path) == [("ann@example.org", "Ann", "unsubscribed", "cli")]

    result = invoke("add", "ann@example.org", "--db", db_path)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: ann@example.org is unsubscribed; not subscribing it again",
        "Hint: pass --resubscribe only if they asked to be added back",
    ]
    result = invoke("add", "ann@example.org", "--resubscribe", "--db", db_path)
    assert (
        result.exit_code == 0 and "resubscribed ann@example.org (was unsubscribed)" in result.output
    )
    assert rows(db_path)[0][2] == "active"

    result = invoke("add", "ann@localhost", "--db", db_path)
    assert result.exit_code == 2 and "Error: not an email address: 'ann@localhost'" in result.output
    assert "Traceback" not in result.output
    assert invoke("remove", "nobody@example.org", "--db", db_path).exit_code == 1
    result = invoke("remove", "ann@example.org", "--forget", "--db", db_path)
    assert result.exit_code == 0 and rows(db_path) == []


def test_cli_list_and_count_as_table_and_json(db_path):
    invoke("add", "bob@example.org", "--db", db_path)
    invoke("add", "ann@example.org", "--name", "Ann Lee", "--db", db_path)
    invoke("remove", "bob@example.org", "--db", db_path)
    header, ann, bob, summary = invoke("list", "--db", db_path).output.splitlines()
    assert header.split() == ["email", "status", "source", "updated", "name"]
    email, status, source, updated, *name = ann.split()
    assert (email, status, source, name) == ("ann@example.org", "active", "cli", ["Ann", "Lee"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", updated)
    assert bob.split()[:2] == ["bob@example.org", "unsubscribed"] and summary == "2 subscribers"

    listed = json.loads(invoke("list", "--status", "active", "--json", "--db", db_path).output)
    assert [s["email"] for s in listed["subscribers"]] == ["ann@example.org"]
    assert listed["subscribers"][0]["name"] == "Ann Lee"
    counts = json.loads(invoke("count", "--json", "--db", db_path).output)
    assert counts == {
        "active": 1,
        "unsubscribed": 1,
        "bounced": 0,
        "complained": 0,
        "rejected": 0,
        "total": 2,
    }
    assert invoke("count", "--db", db_path).output == (
        "1 active, 1 unsubscribed, 0 bounced, 0 complained, 0 rejected, 2 total\n"
    )
    assert invoke("list", "--status", "gone", "--db", db_path).exit_code == 2


def test_cli_import_exit_codes(tmp_path, db_path):
    good = write_csv(tmp_path / "good.csv", "email\nann@example.org\n")
    result = invoke("import", good, "--db", db_path)
    assert result.exit_code == 0
    assert result.output == "imported 1, already there 0, skipped 0\n"

    mixed = write_csv(tmp_path / "mixed.csv", "email\nann@example.org\nnope\nbob@example.org\n")
    result = invoke("import", mixed, "--db", db_path)
    assert result.exit_code == 3
    assert (
        result.stderr
        == f"{mixed}:3: not an email address: 'nope' (an email address must have an @-sign)\n"
    )
    assert result.stdout == "imported 1, already there 1, skipped 1\n"
    assert [row[0] for row in rows(db_path)] == ["ann@example.org", "bob@example.org"]

    headless = write_csv(tmp_path / "headless.csv", "ann@example.org\n")
    result = invoke("import", headless, "--db", db_path)
    assert result.exit_code == 2 and "no 'email' column" in result.output
    assert "Hint: " in result.output
    assert invoke("import", tmp_path / "missing.csv", "--db", db_path).exit_code == 2


def test_cli_export_to_stdout_and_to_a_file(tmp_path, db_path):
    invoke("add", "ann@example.org", "--name", "Ann", "--db", db_path)
    result = invoke("export", "--db", db_path)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "email,name,status,source,created,updated"
    assert result.stdout.splitlines()[1].startswith("ann@example.org,Ann,active,cli,")
    result = invoke("export", tmp_path / "out.csv", "--db", db_path)
    assert (
        result.exit_code == 0
        and result.output == f"exported 1 subscribers to {tmp_path / 'out.csv'}\n"
    )
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == invoke(
        "export", "--db", db_path
    ).stdout
    result = invoke("export", tmp_path / "no" / "such" / "dir.csv", "--db", db_path)
    assert result.exit_code == 1 and "Error: cannot write" in result.output


def test_cli_finds_the_database_beside_feeds_yaml(make_config, tmp_path):
    config = make_config([])
    assert invoke("add", "ann@example.org", "-c", config).exit_code == 0
    assert rows(tmp_path / "state.db") == [("ann@example.org", None, "active", "cli")]
    result = invoke("count", "-c", tmp_path / "missing.yaml")
    assert result.exit_code == 2 and "Hint: " in result.output
