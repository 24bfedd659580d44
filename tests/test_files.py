"""Files digest writes are replaced whole or not at all, and a failure names the file.

The full disk is real: the command runs in a child process whose files the kernel will not let
grow past a limit (RLIMIT_FSIZE). A write past it fails part-way through a buffer with EFBIG,
as one on a full disk fails with ENOSPC, and Python ignores the SIGXFSZ that comes with it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from digest.core.files import replacing, write_file, write_files
from digest.core.store import Store
from digest.delivery.subscribers import Subscribers
from tests.samples import NOW, cli, config_text

ROOT = Path(__file__).parent.parent
# Above the 32 KB of SQLite's shared-memory file, which opening the state creates; below every
# file the commands write here.
LIMIT = 40_000
ON_A_FULL_DISK = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
exec(sys.argv[2], {"args": sys.argv[3:]})
"""
RUN_CLI = """
import sys
from tests.samples import cli
result = cli(*args)
sys.stdout.write(result.output)
sys.exit(result.exit_code)
"""


def on_a_full_disk(code: str, *args) -> subprocess.CompletedProcess:
    """Run `code` (with `args`) in a child process that cannot write past LIMIT bytes of any
    file. The child reads the tests' modules from the repository."""
    command = [sys.executable, "-c", ON_A_FULL_DISK, str(LIMIT), code, *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith("state.db")
    }


# The writers ------------------------------------------------------------------------------------


def test_a_file_is_replaced_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("old\n")
    path.chmod(0o600)
    write_file(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_file(path, b"page", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert files_in(tmp_path) == {"export.csv": b"page"}


def test_a_stream_that_fails_half_way_leaves_the_old_file_and_names_it(tmp_path):
    path = tmp_path / "backup.csv"
    path.write_text("email\nann@example.org\n")
    with pytest.raises(OSError) as raised, replacing(path) as stream:
        stream.write("email\nreader1324@example.or")
        stream.flush()
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() reports it: no file
    assert raised.value.filename == str(path) and raised.value.errno == errno.ENOSPC
    assert files_in(tmp_path) == {"backup.csv": b"email\nann@example.org\n"}


def test_a_set_of_files_is_written_all_or_none(tmp_path):
    first, second = tmp_path / "issue.html", tmp_path / "gone" / "issue.txt"
    first.write_text("old html")
    with pytest.raises(FileNotFoundError) as raised:
        write_files({first: "new html", second: "new text"})
    assert raised.value.filename == str(second)
    assert files_in(tmp_path) == {"issue.html": b"old html"}


def test_an_error_that_is_not_the_disks_passes_on_and_leaves_nothing(tmp_path):
    path = tmp_path / "backup.csv"
    with pytest.raises(KeyError), replacing(path) as stream:
        stream.write("half")
        raise KeyError("a bug in the writer")
    assert files_in(tmp_path) == {}


# Each file digest writes, on a full disk --------------------------------------------------------


def long_feed(count: int) -> bytes:
    """`count` items within the last day, each with a long title and summary."""
    words = "improvement " * 30
    items = "".join(
        f"<item><title>Story {i}: {words[:80]}</title><link>https://partner.example/{i}</link>"
        f"<guid>story-{i}</guid><pubDate>{NOW - timedelta(minutes=i + 1):%a, %d %b %Y %H:%M:%S}"
        f" +0000</pubDate><description>{words}{i}</description></item>"
        for i in range(count)
    )
    channel = f"<channel><title>Partner</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.fixture
def digest_folder(tmp_path) -> Path:
    """feeds.yaml with one local feed of 200 items, already fetched into its state."""
    (tmp_path / "feed.xml").write_bytes(long_feed(200))
    extra = (
        "email:\n  archive_url: https://community.example/digest\n"
        "  unsubscribe_url: https://community.example/leave\n"
        "sending:\n  transport: outbox\nlinks:\n  before_send: false\n"
    )
    path = tmp_path / "feeds.yaml"
    path.write_text(config_text([("Partner", "feed.xml")], extra=extra), encoding="utf-8")
    assert cli("fetch", "-c", path).exit_code == 0
    return tmp_path


def plant(folder: Path, *names: str) -> dict[str, bytes]:
    """The previous good copies of the files a command is about to write."""
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"the previous {name}\n")
    return files_in(folder)


def error_line(run: subprocess.CompletedProcess) -> str:
    return next(line for line in run.stdout.splitlines() if line.startswith("Error: "))


def test_build_on_a_full_disk_keeps_the_old_issue_json_and_names_it(digest_folder):
    before = plant(digest_folder, "build/2026-W48.json")
    args = ("build", "--offline", "--no-enrich", "--issue", "2026-W48")
    run = on_a_full_disk(RUN_CLI, *args, "-c", digest_folder / "feeds.yaml")
    assert run.returncode == 1, run.stdout + run.stderr
    assert error_line(run) == f"Error: {digest_folder / 'build/2026-W48.json'}: File too large"
    assert files_in(digest_folder) == before


def test_preview_on_a_full_disk_keeps_all_four_old_files(digest_folder):
    names = [f"preview/issue.{kind}" for kind in ("html", "txt", "mjml", "json")]
    before = plant(digest_folder, *names)
    args = ("preview", "--offline", "--no-enrich", "--issue", "2026-W48")
    run = on_a_full_disk(RUN_CLI, *args, "-c", digest_folder / "feeds.yaml")
    assert run.returncode == 1, run.stdout + run.stderr
    error = error_line(run)
    assert any(error == f"Error: {digest_folder / name}: File too large" for name in names), error
    assert files_in(digest_folder) == before


def test_export_on_a_full_disk_keeps_the_previous_export(digest_folder):
    with Store.open(digest_folder / "state.db") as store:
        subscribers = Subscribers(store)
        for n in range(2000):
            subscribers.add(f"reader{n}@example.org", None, "cli", NOW)
    before = plant(digest_folder, "backup.csv")
    run = on_a_full_disk(
        RUN_CLI,
        "subscribers",
        "export",
        digest_folder / "backup.csv",
        "-c",
        digest_folder / "feeds.yaml",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert error_line(run) == f"Error: cannot write {digest_folder / 'backup.csv'}: File too large"
    assert files_in(digest_folder) == before


def test_archive_on_a_full_disk_keeps_the_old_page_and_names_it(digest_folder):
    config = digest_folder / "feeds.yaml"
    assert cli("subscribers", "add", "ann@example.org", "-c", config).exit_code == 0
    sent = cli("send", "--issue", "2026-W48", "--no-enrich", "-c", config)
    assert sent.exit_code == 0, sent.output
    page = "site/issues/2026-W48/index.html"
    before = plant(digest_folder, page)
    run = on_a_full_disk(RUN_CLI, "archive", "-c", config)
    assert run.returncode == 1, run.stdout + run.stderr
    assert error_line(run).endswith(f": {digest_folder / page}: File too large")
    after = files_in(digest_folder)
    assert after[page] == before[page]
    # The pages written before it are whole; no temporary file is left anywhere.
    assert not [name for name in after if Path(name).name.startswith(".")]


OUTBOX_SEND = """
import json, sys
from pathlib import Path
from digest.delivery.outbox import OutboxTransport, OutboxError
try:
    OutboxTransport(Path(args[0])).send(json.loads(Path(args[1]).read_text()))
except OutboxError as error:
    print(error.message)
"""


def test_an_outbox_batch_on_a_full_disk_leaves_no_file(tmp_path):
    html = "<p>" + "improvement " * 5000 + "</p>"
    body = {
        "personalizations": [{"to": [{"email": f"r{n}@example.org"}]} for n in range(3)],
        "from": {"email": "digest@community.example"},
        "subject": "Weekly",
        "content": [{"type": "text/plain", "value": "text"}, {"type": "text/html", "value": html}],
        "custom_args": {"issue": "2026-W48", "batch": "1"},
    }
    (tmp_path / "body.json").write_text(json.dumps(body))
    outbox = tmp_path / "outbox"
    run = on_a_full_disk(OUTBOX_SEND, outbox, tmp_path / "body.json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"cannot write the outbox: {outbox}/2026-W48-batch1-")
    assert run.stdout.rstrip().endswith(": File too large")
    assert os.listdir(outbox) == []
