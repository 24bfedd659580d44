"""Signed one-click unsubscribe tokens, the config rules around them, and the command the
site's endpoint calls."""

import base64
import sqlite3

import pytest

from digest.core.config import config_warnings, load_config
from digest.core.errors import ConfigError
from digest.core.store import Store
from digest.delivery.subscribers import Subscribers
from digest.delivery.unsubscribe import (
    BadToken,
    MissingSecret,
    make_token,
    read_token,
    signing_secret,
)
from tests.samples import NOW, cli, config_text

SECRET = b"correct-horse-battery-staple-42"
VARIABLE = "DIGEST_UNSUBSCRIBE_SECRET"


def test_a_token_round_trips_the_normalised_address():
    token = make_token("  Ada.Morgan@Example.org ", SECRET)
    assert read_token(token, SECRET) == "ada.morgan@example.org"
    assert token == make_token("ada.morgan@example.org", SECRET)


def test_a_token_is_url_safe_and_unpadded():
    for address in ("ada.morgan@example.org", "a+b/c?=@example.org", "~~~@example.org"):
        token = make_token(address, SECRET)
        assert set(token) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
        )
        assert "=" not in token and "ada.morgan" not in token


def test_a_tampered_token_is_refused():
    token = make_token("ada.morgan@example.org", SECRET)
    signature = token.split(".")[1]
    other = base64.urlsafe_b64encode(b"bob@example.org").rstrip(b"=").decode()
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{other}.{signature}", f"{token.split('.')[0]}.{flipped}", token + "x"):
        with pytest.raises(BadToken):
            read_token(bad, SECRET)


@pytest.mark.parametrize("bad", ["", ".", "no-dot", "***.***", "é.é", "YQ.YQ", "a.b.c"])
def test_malformed_tokens_are_refused_in_one_line(bad):
    with pytest.raises(BadToken) as raised:
        read_token(bad, SECRET)
    assert "\n" not in raised.value.message and raised.value.hint == ""


def test_a_token_signed_with_another_secret_is_refused():
    token = make_token("ada.morgan@example.org", b"another-secret-of-some-length")
    with pytest.raises(BadToken, match="signature"):
        read_token(token, SECRET)


def test_a_missing_or_short_secret_names_the_variable_and_never_the_value():
    with pytest.raises(MissingSecret) as missing:
        signing_secret(VARIABLE, {})
    assert VARIABLE in missing.value.message
    with pytest.raises(MissingSecret) as short:
        signing_secret(VARIABLE, {VARIABLE: "hunter2"})
    assert VARIABLE in short.value.message
    assert "hunter2" not in f"{short.value.message} {short.value.hint} {short.value!r}"
    assert signing_secret(VARIABLE, {VARIABLE: SECRET.decode()}) == SECRET


def write_config(tmp_path, extra: str):
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([], extra=extra), encoding="utf-8")
    return path


def test_config_refuses_the_plain_address_in_a_one_click_url(tmp_path):
    url = "https://community.example/unsubscribe?e={email}"
    path = write_config(tmp_path, f"sending:\n  one_click_url: {url}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert "sending.one_click_url" in problem and "{token}" in problem and ":13:" in problem


@pytest.mark.parametrize(
    "url", ["https://community.example/unsubscribe", "https://community.example/u/{who}"]
)
def test_config_wants_exactly_the_token_placeholder(tmp_path, url):
    path = write_config(tmp_path, f"sending:\n  one_click_url: {url}\n")
    with pytest.raises(ConfigError, match="1 problem"):
        load_config(path)


def test_check_warns_when_no_unsubscribe_is_configured(tmp_path):
    bare = load_config(write_config(tmp_path, ""))
    (warning,) = config_warnings(bare)
    assert "email.unsubscribe_group" in warning and "sending.one_click_url" in warning
    url = "https://community.example/u/{token}"
    configured = load_config(write_config(tmp_path, f"sending:\n  one_click_url: {url}\n"))
    assert configured.sending.unsubscribe_key_env == VARIABLE
    assert config_warnings(configured) == []


@pytest.fixture
def listed(tmp_path):
    """A feeds.yaml and a real state file with two subscribers."""
    path = write_config(tmp_path, "")
    with Store.open(tmp_path / "state.db") as store:
        Subscribers(store).add("ada.morgan@example.org", "Ada", "cli", NOW)
        Subscribers(store).add("bob@example.org", None, "cli", NOW)
    return path


def statuses(tmp_path) -> dict[str, tuple[str, str]]:
    db = sqlite3.connect(tmp_path / "state.db")
    try:
        rows = db.execute("SELECT email, status, source FROM subscribers").fetchall()
    finally:
        db.close()
    return {email: (status, source) for email, status, source in rows}


def unsubscribe(path, token: str, env: dict | None = None):
    environment = {VARIABLE: SECRET.decode()} if env is None else env
    return cli("subscribers", "unsubscribe", "--token", token, "-c", path, env=environment)


def test_the_command_unsubscribes_the_address_a_token_carries(listed, tmp_path):
    token = make_token("ada.morgan@example.org", SECRET)
    result = unsubscribe(listed, token)
    assert result.exit_code == 0, result.output
    assert result.output == "unsubscribed ada.morgan@example.org\n"
    assert statuses(tmp_path) == {
        "ada.morgan@example.org": ("unsubscribed", "one-click"),
        "bob@example.org": ("active", "cli"),
    }
    again = unsubscribe(listed, token)
    assert again.exit_code == 0 and "already unsubscribed" in again.output


def test_a_bad_token_is_one_line_exit_1_and_changes_nothing(listed, tmp_path):
    good = make_token("bob@example.org", SECRET)
    forged = make_token("bob@example.org", b"guessed-secret-guessed-secret")
    for token in (forged, good[:-3], "bob@example.org"):
        result = unsubscribe(listed, token)
        assert result.exit_code == 1
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith("Error: the unsubscribe token")
    assert {status for status, _ in statuses(tmp_path).values()} == {"active"}


def test_the_command_without_the_secret_names_the_variable(listed, tmp_path):
    result = unsubscribe(listed, make_token("bob@example.org", SECRET), env={VARIABLE: ""})
    assert result.exit_code == 2
    assert VARIABLE in result.output and SECRET.decode() not in result.output
    assert statuses(tmp_path)["bob@example.org"] == ("active", "cli")
