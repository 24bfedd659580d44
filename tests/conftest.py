from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from tests.samples import NOW, config_text
from tests.server import FeedServer


def _sleep_past_faketime(sleep):
    """time.sleep that sleeps again when libfaketime's clock_nanosleep fails with EINVAL, as
    it now and then does for a short sleep (subprocess.run's wait with a timeout polls with
    them): the date-shifted runs of .ci/faketime test digest, not that bug."""

    def patient(seconds: float) -> None:
        until = time.monotonic() + seconds
        while True:
            try:
                return sleep(max(0.0, until - time.monotonic()))
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                if time.monotonic() >= until:
                    return

    return patient


if "FAKETIME" in os.environ:  # set by the faketime command, with libfaketime preloaded
    time.sleep = _sleep_past_faketime(time.sleep)


@pytest.fixture
def server():
    with FeedServer() as running:
        yield running


@pytest.fixture
def make_config(tmp_path: Path):
    """Write a feeds.yaml into tmp_path and return its path."""

    def make(feeds: list[tuple[str, str]], **kwargs) -> Path:
        path = tmp_path / "feeds.yaml"
        path.write_text(config_text(feeds, **kwargs), encoding="utf-8")
        return path

    return make


@pytest.fixture
def fake_sendgrid(monkeypatch):
    """A fake SendGrid API on 127.0.0.1, whose clock reads NOW like the tests' digest does;
    urllib must not send loopback calls through a proxy."""
    from tests.fake_sendgrid import FakeSendGrid

    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with FakeSendGrid(now=NOW.timestamp) as fake:
        yield fake


@pytest.fixture
def site(tmp_path) -> Path:
    """feeds.yaml of a small newsletter with a local feed and weeknote, sending through
    SendGrid (tests/test_send.py's write_site)."""
    from tests.test_send import write_site

    return write_site(tmp_path)
