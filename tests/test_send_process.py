"""`digest send` as cron runs it, in its own process: killed half-way, or started twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from digest.core.config import load_config
from digest.core.store import Store
from digest.delivery.ledger import Ledger
from tests.test_send import subscribe, write_site

# Both wait on real time: the send lock polls with sleeps, and so do these tests.
pytestmark = pytest.mark.realclock


def start_send(site, fake, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "SENDGRID_API_KEY": fake.api_key,
        "SENDGRID_API_HOST": fake.host,
        "no_proxy": "127.0.0.1",
    }
    command = [sys.executable, "-m", "digest", "send", "-c", str(site), *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    output, _ = process.communicate(timeout=60)
    return process.returncode, output.decode()


def resolve_and_resume(site, fake) -> str:
    """What an operator does after a stopped send: run it again, and settle each batch of
    unknown fate by looking for it in SendGrid's activity (here, the fake's log)."""
    for _ in range(5):
        code, output = finish(start_send(site, fake, "--resume", *resolutions(site, fake)))
        if code == 0:
            return output
    raise AssertionError(output)


def resolutions(site, fake) -> list[str]:
    """--accept-batch for each unknown batch SendGrid has, --retry-unknown for the rest."""
    config = load_config(site)
    with Store.open(config.db_path()) as store:
        ledger = Ledger(store)
        unknown = [
            b.number
            for r in ledger.issues()
            for b in ledger.batches(r.id)
            if b.status in ("unknown", "in_flight")
        ]
    arrived = {int(a.body["custom_args"]["batch"]) for a in fake.accepted}
    flags = [f"--accept-batch={n}" for n in unknown if n in arrived]
    return [*flags, "--retry-unknown"]


def test_killed_half_way_then_run_again_reaches_everyone_once(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 50\n")
    addresses = subscribe(load_config(site), 2000)
    fake_sendgrid.latency = 0.05
    process = start_send(site, fake_sendgrid)
    deadline = time.monotonic() + 30
    while len(fake_sendgrid.accepted) < 10:
        assert time.monotonic() < deadline and process.poll() is None, finish(process)
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    code, _ = finish(process)
    assert code == -signal.SIGKILL
    time.sleep(5 * fake_sendgrid.latency)  # the request it was waiting on lands all the same
    assert 10 <= len(fake_sendgrid.accepted) < 40  # really half-way
    output = resolve_and_resume(site, fake_sendgrid)
    assert "sent: 2000 recipients in 40 batches" in output
    deliveries = fake_sendgrid.deliveries()
    assert set(deliveries) == set(addresses) and set(deliveries.values()) == {1}


def test_two_sends_started_together_send_once(tmp_path, fake_sendgrid):
    site = write_site(tmp_path, "  batch_size: 25\n")
    addresses = subscribe(load_config(site), 2000)
    fake_sendgrid.latency = 0.25  # 80 batches, 4 at a time: far longer than the second waits
    first, second = start_send(site, fake_sendgrid), start_send(site, fake_sendgrid)
    outcomes = sorted([finish(first), finish(second)])
    (ok, sent), (busy, refused) = outcomes
    assert ok == 0 and "sent: 2000 recipients" in sent
    assert busy == 1 and "another digest send is in progress" in refused
    deliveries = fake_sendgrid.deliveries()
    assert set(deliveries) == set(addresses) and set(deliveries.values()) == {1}
