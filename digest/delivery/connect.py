"""Which transport a command uses: SendGrid's API or the outbox folder, as `sending.transport`
says. Nothing switches between them on its own: without its key, the SendGrid transport is an
error, never the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.delivery.outbox import OutboxTransport
from digest.delivery.transports import SendGridTransport

REGION_HOSTS = {"global": "https://api.sendgrid.com", "eu": "https://api.eu.sendgrid.com"}
HOST_VARIABLE = "SENDGRID_API_HOST"


class MissingKey(DigestError):
    """The SendGrid transport has no API key: nothing can be sent, and nothing is recorded."""

    exit_code = 2


def make_transport(
    config: Config,
    clock: Callable[[], datetime],
    outbox: Path | None = None,
    environ: Mapping[str, str] = os.environ,
):
    """The transport `sending.transport` names; `outbox` writes to that folder instead."""
    if outbox is not None:
        return OutboxTransport(outbox)
    if config.sending.transport == "outbox":
        return OutboxTransport(config.path.parent / config.sending.outbox)
    return sendgrid_transport(config, clock, environ)


def sendgrid_transport(
    config: Config, clock: Callable[[], datetime], environ: Mapping[str, str] = os.environ
) -> SendGridTransport:
    """SendGrid's API with the key from the environment variable sending.key_env names."""
    variable = config.sending.key_env
    key = environ.get(variable, "").strip()
    if not key:
        raise MissingKey(
            f"{variable} is not set",
            f"export {variable} with a SendGrid API key (never in feeds.yaml), or set "
            "sending.transport: outbox to write the messages to a folder instead",
        )
    # SENDGRID_API_HOST points digest at another host (a proxy, a test server); otherwise the
    # region's.
    host = environ.get(HOST_VARIABLE, "").strip() or REGION_HOSTS[config.sending.region]
    return SendGridTransport(key, host, config.sending.timeout, clock=clock)
