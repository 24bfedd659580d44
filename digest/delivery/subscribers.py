"""The subscriber list: address rules, storage in the `subscribers` table, CSV import and export.

An address is never deleted by accident: `remove` marks it unsubscribed, and neither `add` nor an
import turns an unsubscribed, bounced or complained address back into an active one unless asked
to explicitly. That row is what stops the next import of an old spreadsheet from mailing someone who
left. `forget` deletes the row for an erasure request, and with it that protection.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from digest.core.errors import DigestError
from digest.core.files import replacing
from digest.core.store import Store
from digest.core.text import fold

# `rejected`: SendGrid refused the address when a send gave it (digest.delivery.batch).
STATUSES = ("active", "unsubscribed", "bounced", "complained", "rejected")
COLUMNS = ("email", "name", "status", "source", "created", "updated")
ADDRESS_HINT = "an address looks like someone@example.org"

# Every top-level domain has two or more letters (or is an internationalised xn-- one): a
# shorter or numeric one is a typo that SendGrid refuses at send time.
TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")

# Excel, LibreOffice and Google Sheets run a CSV cell that starts with one of these as a formula
# (CSV injection); a leading quote makes them show the cell as text instead.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


class AddressError(DigestError):
    """Not an address we can send to; `reason` is the part after the address."""

    exit_code = 2
    hint = ADDRESS_HINT

    def __init__(self, address: str, reason: str):
        super().__init__(f"not an email address: {address!r} ({reason})")
        self.address = address
        self.reason = reason


class SubscriberError(DigestError):
    """A change to the list that was refused: an unknown address, or one that left."""


class CsvError(DigestError):
    """A CSV file that cannot be imported at all (as opposed to some bad rows)."""

    exit_code = 2
    hint = "save the list as UTF-8 CSV whose first line names the columns, e.g. email,name"


def normalise_email(raw: str) -> str:
    """The stored form of an address: trimmed and entirely lower case, or AddressError.

    The whole address is lower-cased, not just the domain: the local part is case-sensitive only
    in theory (no mail provider we send to treats Bob@ and bob@ as two people), SendGrid's
    suppression lists and event webhook compare addresses without case, and one lower-case key
    lets the PRIMARY KEY keep an address from being on the list twice.
    """
    address = raw.strip()
    reason = _address_problem(address)
    if reason:
        raise AddressError(address, reason)
    return address.lower()


def _address_problem(address: str) -> str | None:
    """Why `address` is no address to send to, or None. email-validator judges the syntax
    (no DNS lookup); quoted local parts ("a b"@x) and bracketed IP addresses are legal but so
    rare, and so often a paste error, that refusing them is the kinder rule."""
    if not address:
        return "it is empty"
    # SendGrid documents no SMTPUTF8 support, so a non-ASCII address would fail at send time;
    # an internationalised domain can still be written in its ASCII (xn--) form.
    if not address.isascii():
        return "only ASCII addresses can be sent to; write an international domain as xn--…"
    # Imported here: its tables take ~40 ms to load, which every command would pay, the
    # subscriber commands being registered on the group.
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        text = str(exc).rstrip(".")
        return text[:1].lower() + text[1:]
    if len(valid.local_part) > 64:
        return "more than 64 characters before the @, the most RFC 5321 allows"
    top = valid.ascii_domain.rpartition(".")[2].lower()
    if not TOP_LEVEL.fullmatch(top):
        return f"there is no top-level domain .{top}: each has two or more letters"
    return None


def _distinct_addresses(emails: Iterable[str]) -> tuple[set[str], int]:
    """The distinct normalised addresses, and how many distinct inputs were not addresses."""
    addresses, invalid = set(), set()
    for raw in emails:
        try:
            addresses.add(normalise_email(raw))
        except AddressError:
            invalid.add(raw)
    return addresses, len(invalid)


def clean_name(raw: str | None) -> str | None:
    """A display name on one line, with no control characters: a line break would break the
    mail headers, and an escape sequence would reach the terminal of whoever lists them."""
    return fold(raw or "") or None


def escape_cell(text: str) -> str:
    """The cell as export writes it: with a leading quote when it starts with a formula trigger.

    A quote is also added in front of text that unescape_cell would otherwise shorten (a quote
    followed by a trigger or another quote, as in a name that really begins with '=), so that
    unescape_cell gives back every string exactly; other text, such as 'Tis, is left alone."""
    if text.startswith(FORMULA_TRIGGERS) or _starts_escaped(text):
        return QUOTE + text
    return text


def unescape_cell(text: str) -> str:
    """The text escape_cell was given: one leading quote removed if a trigger or quote follows."""
    return text[1:] if _starts_escaped(text) else text


def _starts_escaped(text: str) -> bool:
    return text.startswith(QUOTE) and text[1:].startswith((*FORMULA_TRIGGERS, QUOTE))


def _stamp(now: datetime) -> str:
    """Like the rest of the state: UTC, whole seconds, so stamps compare as text."""
    return now.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str | None
    status: str
    source: str | None  # what last set the status: cli, import:FILE, sync
    created: str
    updated: str

    def as_dict(self) -> dict:
        return {column: getattr(self, column) for column in COLUMNS}


@dataclass
class ImportReport:
    """What an import did. `problems` are (line number, reason), in file order."""

    path: Path
    imported: int = 0
    existing: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.problems)


@dataclass(frozen=True)
class MarkReport:
    changed: int
    unchanged: int  # known, and already in that status
    unknown: int  # not on the list (or not an address at all); ignored


@dataclass(frozen=True)
class _Row:
    """A good row of an import file."""

    email: str
    name: str | None
    status: str


class Subscribers:
    def __init__(self, store: Store):
        self.store = store
        self.db = store.db

    def add(
        self,
        email: str,
        name: str | None,
        source: str,
        now: datetime,
        *,
        resubscribe: bool = False,
    ) -> str | None:
        """Subscribe an address; return its status before (None when it is new).

        An active address keeps its status and takes a new name if one is given. One that left
        (unsubscribed, bounced, complained) is only made active again with `resubscribe`."""
        email, name, stamp = normalise_email(email), clean_name(name), _stamp(now)
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT status, name FROM subscribers WHERE email = ?", (email,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO subscribers (email, name, status, source, created, updated)"
                    " VALUES (?, ?, 'active', ?, ?, ?)",
                    (email, name, source, stamp, stamp),
                )
                return None
            if row["status"] != "active":
                if not resubscribe:
                    raise SubscriberError(
                        f"{email} is {row['status']}; not subscribing it again",
                        "pass --resubscribe only if they asked to be added back",
                    )
                db.execute(
                    "UPDATE subscribers SET status = 'active', source = ?, updated = ?"
                    " WHERE email = ?",
                    (source, stamp, email),
                )
            if name and name != row["name"]:
                db.execute(
                    "UPDATE subscribers SET name = ?, updated = ? WHERE email = ?",
                    (name, stamp, email),
                )
            return row["status"]

    def remove(self, email: str, now: datetime, source: str = "cli") -> str:
        """Mark an active address unsubscribed; return its status before. A bounced or
        complained address keeps that status: it says more than "unsubscribed" would."""
        email = normalise_email(email)
        with self.store.transaction() as db:
            previous = self._status(db, email)
            if previous == "active":
                db.execute(
                    "UPDATE subscribers SET status = 'unsubscribed', source = ?, updated = ?"
                    " WHERE email = ?",
                    (source, _stamp(now), email),
                )
            return previous

    def forget(self, email: str) -> str:
        """Delete an address outright (an erasure request); return the status it had."""
        email = normalise_email(email)
        with self.store.transaction() as db:
            previous = self._status(db, email)
            db.execute("DELETE FROM subscribers WHERE email = ?", (email,))
            return previous

    def _status(self, db, email: str) -> str:
        row = db.execute("SELECT status FROM subscribers WHERE email = ?", (email,)).fetchone()
        if row is None:
            raise SubscriberError(
                f"{email} is not on the list", "`digest subscribers list` shows who is"
            )
        return row["status"]

    def list(self, status: str | None = None) -> list[Subscriber]:
        query, args = "SELECT * FROM subscribers", ()
        if status is not None:
            query, args = query + " WHERE status = ?", (status,)
        rows = self.db.execute(query + " ORDER BY email", args)
        return [Subscriber(*(row[column] for column in COLUMNS)) for row in rows]

    def count(self) -> dict[str, int]:
        """Addresses per status, every status present (0 when none)."""
        rows = self.db.execute("SELECT status, count(*) FROM subscribers GROUP BY status")
        return {status: 0 for status in STATUSES} | dict(rows.fetchall())

    def active(self) -> list[tuple[str, str | None]]:
        """Who a send goes to, as (email, name), in address order so batches are reproducible."""
        cursor = self.db.cursor()
        cursor.row_factory = None  # plain tuples: a fifth quicker than Rows for 100,000 readers
        query = "SELECT email, name FROM subscribers WHERE status = 'active' ORDER BY email"
        return cursor.execute(query).fetchall()

    def mark(self, emails: Iterable[str], status: str, source: str, now: datetime) -> MarkReport:
        """Set the status of known addresses (for a sync with SendGrid's suppression lists).
        Addresses not on the list are counted and ignored: a bounce never creates a subscriber."""
        if status not in STATUSES:
            raise SubscriberError(
                f"{status!r} is not a status", f"use one of {', '.join(STATUSES)}"
            )
        addresses, invalid = _distinct_addresses(emails)
        outcome = Counter(unknown=invalid)
        with self.store.transaction() as db:
            for email in sorted(addresses):
                row = db.execute("SELECT status FROM subscribers WHERE email = ?", (email,))
                previous = row.fetchone()
                if previous is None or previous["status"] == status:
                    outcome["unknown" if previous is None else "unchanged"] += 1
                    continue
                outcome["changed"] += 1
                db.execute(
                    "UPDATE subscribers SET status = ?, source = ?, updated = ? WHERE email = ?",
                    (status, source, _stamp(now), email),
                )
        return MarkReport(outcome["changed"], outcome["unchanged"], outcome["unknown"])

    def import_csv(self, path: str | Path, now: datetime) -> ImportReport:
        """Add every good row of a CSV file in one transaction; report the bad ones by line.

        Addresses already on the list are left exactly as they are (status and name), so a
        re-import is harmless and never resubscribes anyone. A `status` column, as written by
        export, is honoured for new addresses, so an exported list keeps its unsubscribes."""
        path = Path(path)
        report = ImportReport(path)
        header, lines = _read_csv(path)
        rows = _check_rows(header, lines, report)
        stamp = _stamp(now)
        with self.store.transaction() as db:
            inserted = db.executemany(
                "INSERT INTO subscribers (email, name, status, source, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                [(r.email, r.name, r.status, f"import:{path.name}", stamp, stamp) for r in rows],
            )
            report.imported = inserted.rowcount if rows else 0
        report.existing = len(rows) - report.imported
        return report

    def export_csv(self, stream: TextIO) -> int:
        """Write every subscriber as CSV with a header row; return how many.

        Every cell goes through escape_cell, so opening the file in a spreadsheet runs no
        formula, and importing it gives back the same list."""
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(COLUMNS)
        subscribers = self.list()
        writer.writerows(
            [escape_cell(value or "") for value in s.as_dict().values()] for s in subscribers
        )
        return len(subscribers)

    def export_file(self, path: str | Path) -> int:
        """Export into a file, replacing it whole or not at all (a failure leaves the previous
        export as it was); return how many subscribers it holds."""
        try:
            with replacing(Path(path)) as stream:
                return self.export_csv(stream)
        except OSError as exc:
            raise SubscriberError(
                f"cannot write {path}: {exc.strerror or exc}",
                "check that the folder exists and is writable, or export to - (stdout)",
            ) from None


def _read_csv(path: Path) -> tuple[dict[str, int], list[tuple[int, list[str]]]]:
    """The header's column positions (lower-case names) and the non-blank rows with their line
    numbers. `utf-8-sig` drops the byte-order mark that Excel puts in front of "CSV UTF-8"."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            rows, start = [], 1
            for cells in reader:
                # Number a row by the line it starts on; a quoted line break makes it span more.
                if any(cell.strip() for cell in cells):
                    rows.append((start, cells))
                start = reader.line_num + 1
    except OSError as exc:
        raise CsvError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CsvError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise CsvError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise CsvError(f"{path} is empty; it needs a header line naming an email column")
    header = {}
    for position, name in enumerate(rows[0][1]):
        header.setdefault(name.strip().lower(), position)
    if "email" not in header:
        found = ", ".join(name for name in header if name) or "nothing"
        raise CsvError(f"{path}: no 'email' column in the header line (found: {found})")
    return header, rows[1:]


def _cells_by_name(header: dict[str, int], cells: list[str]) -> dict[str, str]:
    """A row's cells by column name ("" when the row is short), with export's quoting undone.
    Unescaping a file from another tool changes only a cell that starts with a quote followed
    by a formula trigger or a quote, which is how such tools neutralise formulas too."""
    return {name: unescape_cell(cells[i]) if i < len(cells) else "" for name, i in header.items()}


def _check_rows(header: dict[str, int], rows, report: ImportReport) -> list[_Row]:
    """The rows worth inserting; every other row goes into report.problems with its reason."""
    seen: dict[str, int] = {}
    good = []
    for line, cells in rows:
        cell = _cells_by_name(header, cells)
        status = cell.get("status", "").strip().lower() or "active"
        try:
            email = normalise_email(cell["email"])
        except AddressError as exc:
            report.problems.append((line, exc.message))
            continue
        if email in seen:
            report.problems.append((line, f"{email} repeats line {seen[email]}"))
        elif status not in STATUSES:
            report.problems.append((line, f"status {status!r} is not one of {', '.join(STATUSES)}"))
        else:
            seen[email] = line
            good.append(_Row(email, clean_name(cell.get("name")), status))
    return good
