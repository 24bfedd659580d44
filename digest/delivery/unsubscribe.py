"""Signed unsubscribe tokens: what `{token}` in sending.one_click_url becomes.

A token is `KEY.ADDRESS.SIGNATURE`, each part base64url without padding, so it fits in a URL
path or query as it is. ADDRESS is the recipient's address, so the site's endpoint needs no
lookup table; SIGNATURE is HMAC-SHA256 over the list's identity (sending.list_id) and that
address, so nobody can write a token for someone else's address (a one-click URL that carried
the plain address would let anyone unsubscribe anyone), and another newsletter signing with the
same secret cannot write one for this list. KEY names the secret that signed it (a digest of
the secret, never the secret), so that after the secret is rotated the tokens in mail already
sent are checked with the previous one, during the grace period sending.unsubscribe_previous_until
states.

Tokens from before key ids (`ADDRESS.SIGNATURE`, over the address alone) are still honoured,
with the current secret or a previous one in its grace period: they are in mail already sent.

The secrets come from the environment variables sending.unsubscribe_key_env and
sending.unsubscribe_previous_key_env name, never from feeds.yaml. They are never printed,
logged, written, nor put in an exception: errors name the variables only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.subscribers import AddressError, SubscriberError, Subscribers, normalise_email

TOKEN_PLACEHOLDER = "{token}"
TOKEN_VARIABLE = "DIGEST_UNSUBSCRIBE_TOKEN"  # where the command reads a token, never argv
TOKEN_SOURCE = "one-click"  # the subscriber's `source` after a token unsubscribed it
# HMAC-SHA256 is only as strong as its key: a short one could be guessed from one token.
MIN_SECRET_LENGTH = 16
KEY_ID_BYTES = 6  # 8 characters: enough to tell a list's few secrets apart


class MissingSecret(DigestError):
    """A secret is not in the environment, is too short to be one, or is kept with no stated
    end to its grace period."""

    exit_code = 2


class BadToken(DigestError):
    """A token that is malformed, tampered with, another list's, or signed with a secret this
    digest does not hold (any more). No hint: the site's endpoint gets exactly one line."""

    exit_code = 3


class MissingToken(DigestError):
    exit_code = 2
    hint = f"pass it in {TOKEN_VARIABLE} or on standard input, never on the command line"


@dataclass(frozen=True)
class TokenKeys:
    """What signs and checks one list's tokens: its identity, the current secret, and the
    previous secrets while their grace period lasts."""

    list_id: str
    secret: bytes
    previous: tuple[bytes, ...] = ()
    grace_ended: str | None = None  # the grace period's last day, once it has passed

    def secrets(self) -> tuple[bytes, ...]:
        return (self.secret, *self.previous)


@dataclass(frozen=True)
class TokenUnsubscribe:
    email: str
    previous: str | None  # its status before; None when it is not on the list


def signing_secret(variable: str, environ: Mapping[str, str] = os.environ) -> bytes:
    """The secret held in `variable`, or MissingSecret naming the variable (never its value)."""
    secret = environ.get(variable, "").strip()
    if not secret:
        raise MissingSecret(
            f"{variable} is not set, and sending.one_click_url uses {{token}}", _hint(variable)
        )
    return _long_enough(secret, variable)


def signing_keys(config: Config, environ: Mapping[str, str] = os.environ) -> TokenKeys:
    """The keys a send signs with: the list's identity and the current secret."""
    sending = config.sending
    list_id = sending.list_id or config.newsletter.title
    return TokenKeys(list_id, signing_secret(sending.unsubscribe_key_env, environ))


def checking_keys(
    config: Config, now: datetime, environ: Mapping[str, str] = os.environ
) -> TokenKeys:
    """The keys that check a token at `now`: the signing keys, and the previous secrets until
    the end of sending.unsubscribe_previous_until in the newsletter's time zone."""
    keys = signing_keys(config, environ)
    variable = config.sending.unsubscribe_previous_key_env
    previous = tuple(_long_enough(s, variable) for s in environ.get(variable, "").split())
    until = config.sending.unsubscribe_previous_until
    if previous and until is None:
        raise MissingSecret(
            f"{variable} holds previous secrets, but sending.unsubscribe_previous_until does "
            "not say until when to accept them",
            "set it to the last day of the grace period (at least 30 days after the last send "
            f"signed with them), or empty {variable}",
        )
    if until is None:
        return keys
    today = now.astimezone(ZoneInfo(config.newsletter.timezone)).date()
    if today > date.fromisoformat(until):
        return dataclasses.replace(keys, grace_ended=until)
    return dataclasses.replace(keys, previous=previous)


def make_token(address: str, keys: TokenKeys) -> str:
    """The token for `address` (normalised first, so Ann@ and ann@ get the same token)."""
    normalised = normalise_email(address)
    key = key_id(keys.secret)
    signature = _signature(keys.secret, key, keys.list_id, normalised)
    return f"{key}.{_encode(normalised.encode())}.{_encode(signature)}"


def read_token(token: str, keys: TokenKeys) -> str:
    """The address a token carries, once its signature checks out; BadToken otherwise."""
    parts = token.strip().split(".")
    if len(parts) == 2:
        return _read_unkeyed(*parts, keys)
    if len(parts) != 3:
        raise BadToken("the unsubscribe token is malformed")
    key, encoded_address, encoded_signature = parts
    address, signature = _decode_address(encoded_address), _decode(encoded_signature)
    secret = next((s for s in keys.secrets() if key_id(s) == key), None)  # key ids are public
    if secret is None:
        ended = f" (previous secrets were accepted until {keys.grace_ended})"
        raise BadToken(
            "the unsubscribe token was signed with a secret this digest does not hold"
            + (ended if keys.grace_ended else "")
        )
    if not hmac.compare_digest(signature, _signature(secret, key, keys.list_id, address)):
        raise BadToken(
            "the unsubscribe token's signature does not match (altered, or another list's)"
        )
    return _address(address)


def one_click_link(template: str, address: str, keys: TokenKeys) -> str:
    """`template` with `{token}` replaced by the recipient's token."""
    return template.replace(TOKEN_PLACEHOLDER, make_token(address, keys))


def unsubscribe_address(subscribers: Subscribers, address: str, now: datetime) -> TokenUnsubscribe:
    """Unsubscribe the address a valid token carried. Asking twice, or for an address no
    longer on the list, is not an error: the endpoint answers the same to a reader who clicks
    again."""
    try:
        previous = subscribers.remove(address, now, source=TOKEN_SOURCE)
    except SubscriberError:  # not on the list (forgotten): there is nothing to stop
        previous = None
    return TokenUnsubscribe(address, previous)


def key_id(secret: bytes) -> str:
    """The public name of a secret: a digest of it that reveals nothing of it."""
    digest = hmac.new(secret, b"digest unsubscribe key id", hashlib.sha256).digest()
    return _encode(digest[:KEY_ID_BYTES])


def _read_unkeyed(encoded_address: str, encoded_signature: str, keys: TokenKeys) -> str:
    """A token from before key ids: its signature covers the address only."""
    address, signature = _decode_address(encoded_address), _decode(encoded_signature)
    for secret in keys.secrets():
        expected = hmac.new(secret, address.encode(), hashlib.sha256).digest()
        if hmac.compare_digest(signature, expected):
            return _address(address)
    raise BadToken("the unsubscribe token's signature does not match")


def _signature(secret: bytes, key: str, list_id: str, address: str) -> bytes:
    # JSON keeps the parts apart whatever characters the list's identity holds.
    message = json.dumps(["digest unsubscribe", key, list_id, address], ensure_ascii=False)
    return hmac.new(secret, message.encode(), hashlib.sha256).digest()


def _address(address: str) -> str:
    try:
        return normalise_email(address)
    except AddressError:
        raise BadToken("the unsubscribe token does not carry an address") from None


def _decode_address(text: str) -> str:
    try:
        return _decode(text).decode("ascii")
    except UnicodeDecodeError:
        raise BadToken("the unsubscribe token is malformed") from None


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """base64url without padding, in its one canonical spelling; BadToken otherwise."""
    try:
        if not text or not text.isascii():
            raise ValueError("not base64url")
        # validate=True refuses characters outside the URL-safe alphabet instead of skipping them.
        padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
        raw = base64.b64decode(padded, validate=True)
        if _encode(raw) != text:  # stray bits in the last character: another spelling
            raise ValueError("not canonical base64url")
    except (binascii.Error, ValueError):
        raise BadToken("the unsubscribe token is malformed") from None
    return raw


def _long_enough(secret: str, variable: str) -> bytes:
    if len(secret) < MIN_SECRET_LENGTH:
        raise MissingSecret(
            f"{variable} holds a secret shorter than {MIN_SECRET_LENGTH} characters",
            _hint(variable),
        )
    return secret.encode()


def _hint(variable: str) -> str:
    return (
        f"export {variable} with a random value of at least {MIN_SECRET_LENGTH} characters "
        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), never in "
        "feeds.yaml; the site's unsubscribe endpoint needs the same value"
    )
