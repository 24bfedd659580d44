"""The README's one-click unsubscribe endpoint, run as a web server runs a CGI script: it must
answer from what `digest subscribers unsubscribe` did, never "unsubscribed" before or without
it. The script is taken from the README as it is, with its three paths pointed at this test's
files, and runs the installed `digest` in a process of its own.

That process reads the real clock, so the grace periods here end on days no clock the tests run
at reaches (2099) or has left (2000).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from digest.core.store import Store
from digest.delivery.subscribers import Subscribers
from digest.delivery.unsubscribe import TokenKeys, make_token
from tests.samples import NOW, config_text

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
ENDPOINT = re.search(
    r"```sh\n(#!/bin/sh\n# digest's one-click unsubscribe endpoint.*?)```", README, re.S
).group(1)
SECRET, OLD_SECRET = "a-new-secret-after-the-rotation", "the-secret-before-the-rotation"


def token(address: str, secret: str = SECRET, list_id: str = "weekly") -> str:
    return make_token(address, TokenKeys(list_id, secret.encode()))


class Site:
    """The endpoint installed in `folder`, with feeds.yaml, the secrets and the state."""

    def __init__(self, folder: Path, until: str = "2099-12-31", db: str = "state.db"):
        self.folder = folder
        extra = f"sending:\n  list_id: weekly\n  unsubscribe_previous_until: '{until}'\n"
        (folder / "feeds.yaml").write_text(config_text([], extra=extra).replace("state.db", db))
        secrets = (
            f"DIGEST_UNSUBSCRIBE_SECRET={SECRET}\nDIGEST_UNSUBSCRIBE_PREVIOUS_SECRET={OLD_SECRET}\n"
        )
        (folder / "unsubscribe.env").write_text(secrets)
        digest = Path(sys.executable).with_name("digest")
        assert digest.exists()
        script = (
            ENDPOINT.replace("/etc/digest/unsubscribe.env", str(folder / "unsubscribe.env"))
            .replace("/srv/digest/.venv/bin/digest", str(digest))
            .replace("/srv/digest/feeds.yaml", str(folder / "feeds.yaml"))
        )
        (folder / "unsubscribe.cgi").write_text(script)

    def request(self, method: str, token: str) -> tuple[str, str]:
        """The status line and the page the endpoint answers with."""
        environment = {
            "PATH": "/usr/bin:/bin",
            "REQUEST_METHOD": method,
            "QUERY_STRING": f"token={token}",
        }
        run = subprocess.run(
            ["sh", str(self.folder / "unsubscribe.cgi")],
            env=environment,
            input=b"List-Unsubscribe=One-Click" if method == "POST" else b"",
            capture_output=True,
        )
        head, _, page = run.stdout.decode("utf-8").partition("\r\n\r\n")  # CGI's own line ends
        return head.splitlines()[0].removeprefix("Status: "), page

    def statuses(self) -> dict[str, str]:
        db = sqlite3.connect(self.folder / "state.db")
        try:
            return dict(db.execute("SELECT email, status FROM subscribers").fetchall())
        finally:
            db.close()


@pytest.fixture
def folder(tmp_path) -> Path:
    with Store.open(tmp_path / "state.db") as store:
        for address in ("ada@example.org", "bob@example.org"):
            Subscribers(store).add(address, None, "cli", NOW)
    return tmp_path


def test_a_reader_is_told_they_left_once_they_have(folder):
    site = Site(folder)
    status, page = site.request("POST", token("ada@example.org"))
    assert status == "200 OK" and "You are unsubscribed" in page
    assert site.statuses() == {"ada@example.org": "unsubscribed", "bob@example.org": "active"}


def test_a_wrong_database_path_answers_an_error_and_creates_nothing(folder):
    site = Site(folder, db="typo/state.db")
    status, page = site.request("POST", token("ada@example.org"))
    assert status == "500 Internal Server Error" and "could not unsubscribe you" in page
    assert not (folder / "typo").exists()
    assert site.statuses()["ada@example.org"] == "active"


def test_a_token_signed_before_the_rotation_still_unsubscribes_in_the_grace_period(folder):
    site = Site(folder)
    status, _ = site.request("POST", token("bob@example.org", OLD_SECRET))
    assert status == "200 OK"
    assert site.statuses()["bob@example.org"] == "unsubscribed"


def test_after_the_grace_period_an_old_token_is_refused(folder):
    site = Site(folder, until="2000-01-01")
    status, page = site.request("POST", token("bob@example.org", OLD_SECRET))
    assert status == "400 Bad Request" and "not valid any more" in page
    assert site.statuses()["bob@example.org"] == "active"


@pytest.mark.parametrize(
    "bad",
    [token("ada@example.org", list_id="monthly"), token("ada@example.org")[:-2], "ada@example.org"],
    ids=["another list's", "cut short", "a plain address"],
)
def test_a_bad_token_is_refused_and_changes_nothing(folder, bad):
    site = Site(folder)
    status, _ = site.request("POST", bad)
    assert status == "400 Bad Request"
    assert set(site.statuses().values()) == {"active"}


def test_opening_the_link_shows_a_button_and_changes_nothing(folder):
    site = Site(folder)
    status, page = site.request("GET", token("ada@example.org"))
    assert status == "200 OK" and '<form method="post">' in page and "One-Click" in page
    assert site.statuses()["ada@example.org"] == "active"
