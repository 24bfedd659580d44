"""The deployment recipes in deploy/ work as written: cron's bare environment finds digest and the
key, and systemd accepts the units."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parent.parent / "deploy"
DEMO = Path(__file__).parent.parent / "examples" / "demo"
INSTALL = "/srv/digest"
KEY_FILE = "/etc/digest/digest.env"


def cron_command() -> str:
    """The command of the crontab's one job: the line after its five time fields."""
    jobs = [
        line
        for line in (DEPLOY / "crontab").read_text().splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(jobs) == 1, jobs
    return jobs[0].split(None, 5)[5]


def test_the_cron_job_uses_absolute_paths_and_no_key_on_its_line():
    command = cron_command()
    assert "SENDGRID_API_KEY" not in command
    assert f"{INSTALL}/.venv/bin/digest send --publish --config {INSTALL}/feeds.yaml" in command


CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}


def cron_job(tmp_path: Path) -> str:
    """The cron job with its paths pointed at a copy of the offline example and `check` in
    place of the send, which would need the wall clock."""
    shutil.copytree(DEMO, tmp_path / "demo")
    env_file = tmp_path / "digest.env"
    env_file.write_text("SENDGRID_API_KEY=SG.cron-test\n")
    digest = Path(sys.executable).parent / "digest"
    return (
        cron_command()
        .replace(KEY_FILE, str(env_file))
        .replace(f"{INSTALL}/.venv/bin/digest", str(digest))
        .replace(f"{INSTALL}/feeds.yaml", str(tmp_path / "demo" / "feeds.yaml"))
        .replace(f"{INSTALL}/send.log", str(tmp_path / "send.log"))
        .replace("send --publish", "check")
    )


def run_as_cron(command: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """As cron runs a job (PATH=/usr/bin:/bin, nothing else); its output is what cron mails."""
    env = {**CRON_ENV, "HOME": str(tmp_path)}
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True)


def test_the_cron_job_runs_in_crons_bare_environment_and_a_good_run_mails_nothing(tmp_path):
    command = cron_job(tmp_path)
    digest = str(Path(sys.executable).parent / "digest")
    # What the job's environment holds when digest starts: the key, read from the file.
    probe = command[: command.index(digest)] + f"printenv SENDGRID_API_KEY > {tmp_path}/key"
    assert run_as_cron(probe, tmp_path).returncode == 0
    assert (tmp_path / "key").read_text() == "SG.cron-test\n"
    result = run_as_cron(command, tmp_path)
    assert result.returncode == 0, (tmp_path / "send.log").read_text()
    assert "feeds.yaml is valid" in (tmp_path / "send.log").read_text()
    assert result.stdout == result.stderr == ""  # nothing for cron to mail


def test_a_failed_cron_run_prints_what_cron_mails(tmp_path):
    command = cron_job(tmp_path)
    (tmp_path / "demo" / "feeds.yaml").write_text("newsletter: {}\n")
    result = run_as_cron(command, tmp_path)
    mailed = result.stdout.splitlines()
    assert mailed[0].startswith("digest send exited 2 (1 not all sent, 2 refused or a broken")
    assert any(line.startswith("Error: ") and "feeds.yaml" in line for line in mailed[1:])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_service_and_timer(tmp_path):
    """systemd-analyze verify checks syntax, directives and that ExecStart exists: the units are
    copied with /srv/digest pointed at a folder that has an executable there."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    executable = tmp_path / ".venv" / "bin" / "digest"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    units = ("digest.service", "digest-failed.service", "digest.timer")
    for unit in units:
        text = (DEPLOY / unit).read_text().replace(INSTALL, str(tmp_path))
        (tmp_path / unit).write_text(text)
    timer = (DEPLOY / "digest.timer").read_text()
    assert "Persistent=true" in timer
    result = subprocess.run(
        ["systemd-analyze", "verify", *units],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "digest" not in result.stderr, result.stderr


def test_the_container_runs_as_a_user_with_the_state_on_a_volume():
    recipe = (DEPLOY / "Dockerfile").read_text()
    assert "\nUSER digest\n" in recipe and "\nVOLUME /data\n" in recipe
    assert "SENDGRID_API_KEY" not in recipe


def test_a_failed_send_unit_starts_the_unit_that_tells_the_editor():
    service = (DEPLOY / "digest.service").read_text()
    assert "\nOnFailure=digest-failed.service\n" in service
    failed = (DEPLOY / "digest-failed.service").read_text()
    assert f"ExecStart={INSTALL}/.venv/bin/digest notify --config {INSTALL}/feeds.yaml " in failed
    assert f"EnvironmentFile={KEY_FILE}" in failed
