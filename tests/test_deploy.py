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


def test_the_cron_job_runs_in_crons_bare_environment(tmp_path):
    """Run as cron would (PATH=/usr/bin:/bin, nothing else), with the paths pointed at a copy of
    the offline example and `check` in place of the send, which would need the wall clock."""
    shutil.copytree(DEMO, tmp_path / "demo")
    env_file = tmp_path / "digest.env"
    env_file.write_text("SENDGRID_API_KEY=SG.cron-test\n")
    digest = Path(sys.executable).parent / "digest"
    command = (
        cron_command()
        .replace(KEY_FILE, str(env_file))
        .replace(f"{INSTALL}/.venv/bin/digest", str(digest))
        .replace(f"{INSTALL}/feeds.yaml", str(tmp_path / "demo" / "feeds.yaml"))
        .replace(f"{INSTALL}/send.log", str(tmp_path / "send.log"))
        .replace("send --publish", "check")
    )
    # What the job's environment holds when digest starts: the key, read from the file.
    probe = command[: command.index(str(digest))] + f"printenv SENDGRID_API_KEY > {tmp_path}/key"
    cron_env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}
    subprocess.run(["/bin/sh", "-c", probe], env=cron_env, check=True)
    assert (tmp_path / "key").read_text() == "SG.cron-test\n"
    result = subprocess.run(["/bin/sh", "-c", command], env=cron_env, check=False)
    assert result.returncode == 0, (tmp_path / "send.log").read_text()
    assert "feeds.yaml is valid" in (tmp_path / "send.log").read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_service_and_timer(tmp_path):
    """systemd-analyze verify checks syntax, directives and that ExecStart exists: the units are
    copied with /srv/digest pointed at a folder that has an executable there."""
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    executable = tmp_path / ".venv" / "bin" / "digest"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    for unit in ("digest.service", "digest.timer"):
        text = (DEPLOY / unit).read_text().replace(INSTALL, str(tmp_path))
        (tmp_path / unit).write_text(text)
    timer = (DEPLOY / "digest.timer").read_text()
    assert "Persistent=true" in timer
    result = subprocess.run(
        ["systemd-analyze", "verify", "digest.service", "digest.timer"],
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
