"""Signed unsubscribe tokens: what `{token}` in sending.one_click_url becomes.

A token is `base64url(address) + "." + base64url(HMAC-SHA256(secret, address))`, unpadded, so
it fits in a URL path or query as it is. The address travels in it, so the site's endpoint needs
no lookup table, and the signature means nobody can write a token for someone else's address:
a one-click URL that carried the plain address would let anyone unsubscribe anyone.

The secret comes from the environment variable sending.unsubscribe_key_env names, never from
feeds.yaml. It is never printed, logged, written, nor put in an exception: errors name the
variable only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from digest.core.errors import DigestError
from digest.delivery.subscribers import AddressError, SubscriberError, Subscribers, normalise_email

TOKEN_PLACEHOLDER = "{token}"
TOKEN_SOURCE = "one-click"  # the subscriber's `source` after a token unsubscribed it
# HMAC-SHA256 is only as strong as its key: a short one could be guessed from one token.
MIN_SECRET_LENGTH = 16


class MissingSecret(DigestError):
    """The signing secret is not in the environment (or too short to be one)."""

    exit_code = 2


class BadToken(DigestError):
    """A token that is malformed, tampered with, or signed with another secret. No hint: the
    site's endpoint gets exactly one line."""


@dataclass(frozen=True)
class TokenUnsubscribe:
    email: str
    previous: str | None  # its status before; None when it is not on the list


def signing_secret(variable: str, environ: Mapping[str, str] = os.environ) -> bytes:
    """The secret held in `variable`, or MissingSecret naming the variable (never its value)."""
    secret = environ.get(variable, "").strip()
    hint = (
        f"export {variable} with a random value of at least {MIN_SECRET_LENGTH} characters "
        "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), never in "
        "feeds.yaml; the site's unsubscribe endpoint needs the same value"
    )
    if not secret:
        raise MissingSecret(
            f"{variable} is not set, and sending.one_click_url uses {{token}}", hint
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise MissingSecret(f"{variable} is shorter than {MIN_SECRET_LENGTH} characters", hint)
    return secret.encode()


def make_token(address: str, secret: bytes) -> str:
    """The token for `address` (normalised first, so Ann@ and ann@ get the same token)."""
    normalised = normalise_email(address)
    return f"{_encode(normalised.encode())}.{_encode(_signature(normalised, secret))}"


def read_token(token: str, secret: bytes) -> str:
    """The address a token carries, once its signature checks out; BadToken otherwise."""
    encoded_address, dot, encoded_signature = token.strip().partition(".")
    try:
        address = _decode(encoded_address).decode("ascii")
        signature = _decode(encoded_signature)
    except (binascii.Error, ValueError):
        raise BadToken("the unsubscribe token is malformed") from None
    if not dot or not hmac.compare_digest(signature, _signature(address, secret)):
        raise BadToken("the unsubscribe token's signature does not match") from None
    try:
        return normalise_email(address)
    except AddressError:
        raise BadToken("the unsubscribe token does not carry an address") from None


def one_click_link(template: str, address: str, secret: bytes) -> str:
    """`template` with `{token}` replaced by the recipient's token."""
    return template.replace(TOKEN_PLACEHOLDER, make_token(address, secret))


def unsubscribe_by_token(
    subscribers: Subscribers, token: str, secret: bytes, now: datetime
) -> TokenUnsubscribe:
    """Unsubscribe the address a valid token carries; a bad token changes nothing. Asking
    twice, or for an address no longer on the list, is not an error: the endpoint answers
    the same to a reader who clicks again."""
    address = read_token(token, secret)
    try:
        previous = subscribers.remove(address, now, source=TOKEN_SOURCE)
    except SubscriberError:  # not on the list (forgotten): there is nothing to stop
        previous = None
    return TokenUnsubscribe(address, previous)


def _signature(address: str, secret: bytes) -> bytes:
    return hmac.new(secret, address.encode(), hashlib.sha256).digest()


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("not base64url")
    # validate=True refuses characters outside the URL-safe alphabet instead of skipping them.
    padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
    raw = base64.b64decode(padded, validate=True)
    if _encode(raw) != text:  # one spelling per token: stray bits in the last character refused
        raise ValueError("not canonical base64url")
    return raw
