"""Signed one-click unsubscribe tokens (a key id, the list's identity, previous secrets in their
grace period), the config rules around them, and the command the site's endpoint calls."""

import base64
import dataclasses
import hashlib
import hmac
import sqlite3
from datetime import timedelta

import pytest

from digest.core.config import config_warnings, load_config
from digest.core.errors import ConfigError
from digest.core.store import Store
from digest.delivery.subscribers import Subscribers
from digest.delivery.unsubscribe import (
    BadToken,
    MissingSecret,
    TokenKeys,
    checking_keys,
    key_id,
    make_token,
    read_token,
    signing_secret,
)
from tests.samples import NOW, cli, config_text

SECRET = b"correct-horse-battery-staple-42"
OLD_SECRET = b"the-secret-before-the-rotation"
VARIABLE, PREVIOUS = "DIGEST_UNSUBSCRIBE_SECRET", "DIGEST_UNSUBSCRIBE_PREVIOUS_SECRET"
KEYS = TokenKeys("weekly.community.example", SECRET)


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_round_trips_the_normalised_address():
    token = make_token("  Ada.Morgan@Example.org ", KEYS)
    assert read_token(token, KEYS) == "ada.morgan@example.org"
    assert token == make_token("ada.morgan@example.org", KEYS)


def test_a_token_names_its_key_and_is_url_safe_and_unpadded():
    for address in ("ada.morgan@example.org", "a+b/c?=@example.org", "~~~@example.org"):
        token = make_token(address, KEYS)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
        assert set(token) <= set(alphabet) and "=" not in token and "ada.morgan" not in token
        key, _, _ = token.split(".")
        assert key == key_id(SECRET) != key_id(OLD_SECRET)
        assert SECRET.decode() not in token


def test_a_tampered_token_is_refused():
    token = make_token("ada.morgan@example.org", KEYS)
    key, address, signature = token.split(".")
    other = encode(b"bob@example.org")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (f"{key}.{other}.{signature}", f"{key}.{address}.{flipped}", token + "x"):
        with pytest.raises(BadToken):
            read_token(bad, KEYS)


@pytest.mark.parametrize("bad", ["", ".", "no-dot", "***.***", "é.é", "YQ.YQ", "a.b.c", "a.b.c.d"])
def test_malformed_tokens_are_refused_in_one_line(bad):
    with pytest.raises(BadToken) as raised:
        read_token(bad, KEYS)
    assert "\n" not in raised.value.message and raised.value.hint == ""
    assert raised.value.exit_code == 3


def test_another_lists_token_signed_with_the_same_secret_is_refused():
    theirs = make_token("ada.morgan@example.org", TokenKeys("monthly.community.example", SECRET))
    with pytest.raises(BadToken, match="signature does not match"):
        read_token(theirs, KEYS)


def test_a_token_signed_with_a_secret_digest_does_not_hold_is_refused():
    token = make_token("ada.morgan@example.org", TokenKeys(KEYS.list_id, OLD_SECRET))
    with pytest.raises(BadToken, match="signed with a secret this digest does not hold"):
        read_token(token, KEYS)
    rotated = dataclasses.replace(KEYS, previous=(OLD_SECRET,))
    assert read_token(token, rotated) == "ada.morgan@example.org"


def test_a_token_from_before_key_ids_is_still_honoured():
    address = "ada.morgan@example.org"
    signature = hmac.new(OLD_SECRET, address.encode(), hashlib.sha256).digest()
    token = f"{encode(address.encode())}.{encode(signature)}"
    with pytest.raises(BadToken, match="signature does not match"):
        read_token(token, KEYS)
    assert read_token(token, TokenKeys(KEYS.list_id, OLD_SECRET)) == address
    assert read_token(token, dataclasses.replace(KEYS, previous=(OLD_SECRET,))) == address


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


def rotated_config(tmp_path, until: str | None = None):
    lines = f"  unsubscribe_previous_until: '{until}'\n" if until else ""
    return load_config(write_config(tmp_path, f"sending:\n  list_id: weekly\n{lines}"))


ROTATED = {VARIABLE: SECRET.decode(), PREVIOUS: f"{OLD_SECRET.decode()} another-old-secret-0001"}


def test_previous_secrets_are_accepted_through_the_grace_periods_last_day(tmp_path):
    config = rotated_config(tmp_path, until="2026-11-25")
    keys = checking_keys(config, NOW, ROTATED)
    assert keys.previous == (OLD_SECRET, b"another-old-secret-0001") and keys.list_id == "weekly"
    # 2026-11-25 ends at midnight in London (UTC+0 in November)
    assert checking_keys(config, NOW.replace(hour=23, minute=59), ROTATED).previous
    after = checking_keys(config, NOW.replace(hour=0) + timedelta(days=1), ROTATED)
    assert after.previous == () and after.grace_ended == "2026-11-25"
    old = make_token("ada.morgan@example.org", TokenKeys("weekly", OLD_SECRET))
    with pytest.raises(BadToken) as refused:
        read_token(old, after)
    assert refused.value.message.endswith("(previous secrets were accepted until 2026-11-25)")


def test_previous_secrets_with_no_stated_grace_period_are_an_error(tmp_path):
    with pytest.raises(MissingSecret) as raised:
        checking_keys(rotated_config(tmp_path), NOW, ROTATED)
    assert "sending.unsubscribe_previous_until" in raised.value.message
    assert OLD_SECRET.decode() not in f"{raised.value.message} {raised.value.hint}"
    short = {**ROTATED, PREVIOUS: "old"}
    with pytest.raises(MissingSecret, match=PREVIOUS):
        checking_keys(rotated_config(tmp_path, until="2026-12-31"), NOW, short)


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


def test_config_checks_the_grace_periods_day_and_the_list_id(tmp_path):
    path = write_config(
        tmp_path, "sending:\n  unsubscribe_previous_until: next March\n  list_id: ' '\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert [p.split(": ", 1)[1] for p in raised.value.problems] == [
        "sending.unsubscribe_previous_until: 'next March' is not valid "
        "(expected a date like 2027-03-31)",
        "sending.list_id: ' ' is not valid (expected one line of text)",
    ]


def test_check_warns_when_no_unsubscribe_or_no_list_id_is_configured(tmp_path):
    bare = load_config(write_config(tmp_path, ""))
    (warning,) = config_warnings(bare)
    assert "email.unsubscribe_group" in warning and "sending.one_click_url" in warning
    url = "https://community.example/u/{token}"
    unnamed = load_config(write_config(tmp_path, f"sending:\n  one_click_url: {url}\n"))
    assert unnamed.sending.unsubscribe_key_env == VARIABLE
    (warning,) = config_warnings(unnamed)
    assert "sending.list_id is not set" in warning and "'Test digest'" in warning
    named = write_config(tmp_path, f"sending:\n  one_click_url: {url}\n  list_id: weekly\n")
    assert config_warnings(load_config(named)) == []


# The command the site's endpoint runs -----------------------------------------------------------


@pytest.fixture
def listed(tmp_path):
    """A feeds.yaml (list weekly, previous secrets accepted through NOW's day) and a real state
    file with two subscribers."""
    extra = "sending:\n  list_id: weekly\n  unsubscribe_previous_until: '2026-11-25'\n"
    path = write_config(tmp_path, extra)
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


def token_for(address: str, secret: bytes = SECRET) -> str:
    return make_token(address, TokenKeys("weekly", secret))


def unsubscribe(path, token: str, env: dict | None = None, **kwargs):
    """The command, given the token in DIGEST_UNSUBSCRIBE_TOKEN."""
    environment = {VARIABLE: SECRET.decode()} if env is None else env
    environment = {**environment, "DIGEST_UNSUBSCRIBE_TOKEN": token}
    return cli("subscribers", "unsubscribe", "-c", path, env=environment, **kwargs)


def test_the_command_unsubscribes_the_address_a_token_carries(listed, tmp_path):
    token = token_for("ada.morgan@example.org")
    result = unsubscribe(listed, token)
    assert result.exit_code == 0, result.output
    assert result.output == "unsubscribed ada.morgan@example.org\n"
    assert statuses(tmp_path) == {
        "ada.morgan@example.org": ("unsubscribed", "one-click"),
        "bob@example.org": ("active", "cli"),
    }
    again = unsubscribe(listed, token)
    assert again.exit_code == 0 and "already unsubscribed" in again.output


def test_the_token_can_come_on_standard_input_but_never_on_the_command_line(listed, tmp_path):
    token = token_for("bob@example.org")
    environment = {VARIABLE: SECRET.decode()}
    on_argv = cli("subscribers", "unsubscribe", "--token", token, "-c", listed, env=environment)
    assert on_argv.exit_code == 2 and "No such option" in on_argv.output
    nothing = cli("subscribers", "unsubscribe", "-c", listed, env=environment, input="")
    assert nothing.exit_code == 2 and "Error: no unsubscribe token was given" in nothing.output
    assert statuses(tmp_path)["bob@example.org"] == ("active", "cli")
    on_stdin = cli("subscribers", "unsubscribe", "-c", listed, env=environment, input=token + "\n")
    assert on_stdin.exit_code == 0, on_stdin.output
    assert statuses(tmp_path)["bob@example.org"] == ("unsubscribed", "one-click")


def test_a_token_signed_before_the_rotation_unsubscribes_in_the_grace_period(listed, tmp_path):
    old = token_for("bob@example.org", OLD_SECRET)
    rotated = {VARIABLE: SECRET.decode(), PREVIOUS: OLD_SECRET.decode()}
    assert unsubscribe(listed, old, env={VARIABLE: SECRET.decode()}).exit_code == 3
    within = unsubscribe(listed, old, env=rotated)
    assert within.exit_code == 0, within.output
    assert statuses(tmp_path)["bob@example.org"] == ("unsubscribed", "one-click")
    late = {**rotated, "DIGEST_UNSUBSCRIBE_TOKEN": token_for("ada.morgan@example.org", OLD_SECRET)}
    after = cli("subscribers", "unsubscribe", "-c", listed, env=late, now=NOW + timedelta(days=1))
    assert after.exit_code == 3 and "accepted until 2026-11-25" in after.output
    assert statuses(tmp_path)["ada.morgan@example.org"] == ("active", "cli")


def test_a_bad_token_is_one_line_exit_3_and_changes_nothing(listed, tmp_path):
    good = token_for("bob@example.org")
    forged = make_token("bob@example.org", TokenKeys("weekly", b"guessed-secret-guessed-secret"))
    another_list = make_token("bob@example.org", TokenKeys("monthly", SECRET))
    for token in (forged, another_list, good[:-3], "bob@example.org"):
        result = unsubscribe(listed, token)
        assert result.exit_code == 3
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith("Error: the unsubscribe token")
    assert {status for status, _ in statuses(tmp_path).values()} == {"active"}


def test_the_command_without_the_secret_names_the_variable(listed, tmp_path):
    result = unsubscribe(listed, token_for("bob@example.org"), env={VARIABLE: ""})
    assert result.exit_code == 2
    assert VARIABLE in result.output and SECRET.decode() not in result.output
    assert statuses(tmp_path)["bob@example.org"] == ("active", "cli")


def test_a_mistyped_database_path_is_an_error_and_creates_nothing(listed, tmp_path):
    missing = tmp_path / "typo" / "state.db"
    environment = {VARIABLE: SECRET.decode(), "DIGEST_DB": str(missing)}
    result = unsubscribe(listed, token_for("bob@example.org"), env=environment)
    assert result.exit_code == 1
    assert f"Error: no state database at {missing}" in result.output
    assert not missing.parent.exists()
    assert statuses(tmp_path)["bob@example.org"] == ("active", "cli")
