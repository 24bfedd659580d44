"""The parse workers die with digest: a command that fetches, killed or interrupted, leaves no
process behind (its parse workers and multiprocessing's resource tracker included), and a run
where nothing needs parsing starts none. Real processes, found through /proc."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.core.models import Source
from digest.core.store import Store
from digest.pipeline import fetch_sources
from digest.sources.update import POOL_THRESHOLD, parse_pool
from digest.sources.workers import MAX_WORKERS
from tests.samples import NOW, rss
from tests.server import Reply

SETTLE = 5.0  # seconds every process of the run has to end after the signal
START = 60.0  # seconds to wait for the run to reach its parse workers (a loaded machine is slow)


def fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, parent pid, …; None once the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()  # the name in parentheses may hold spaces


def descendants(root: int) -> list[int]:
    """Every process below `root` (this kernel has no /proc/PID/task/*/children)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := fields(int(name))) is not None:
            parents[int(name)] = int(stat[1])
    found, todo = [], [root]
    while todo:
        below = todo.pop()
        children = [pid for pid, parent in parents.items() if parent == below]
        found += children
        todo += children
    return found


def alive(pid: int) -> bool:
    """A zombie counts as dead: it runs nothing, and PID 1 in a container may never reap it."""
    stat = fields(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def is_parse_worker(pid: int) -> bool:
    try:
        return b"--multiprocessing-fork" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def busy_config(server, make_config):
    """Two feeds that answer at once, then three that answer only when the test is over: a run
    that has parse workers and is still fetching."""
    over = threading.Event()

    def stalled(headers):
        over.wait(30)
        return Reply(200, rss(1))

    for i in range(2):
        server.routes[f"/quick/{i}"] = Reply(200, rss(3))
    for i in range(3):
        server.routes[f"/stalled/{i}"] = stalled
    feeds = [(f"Quick {i}", server.url(f"/quick/{i}")) for i in range(2)]
    feeds += [(f"Stalled {i}", server.url(f"/stalled/{i}")) for i in range(3)]
    yield make_config(feeds)
    over.set()


def start_fetch(config: Path) -> subprocess.Popen:
    """`digest fetch` in a session of its own, as a terminal or cron would run it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DIGEST_DB", "DIGEST_CONFIG")}
    with (
        (config.parent / "out.txt").open("wb") as out,
        (config.parent / "err.txt").open("wb") as err,
    ):
        return subprocess.Popen(
            [sys.executable, "-m", "digest", "fetch", "-c", str(config)],
            stdout=out,
            stderr=err,
            cwd=config.parent,
            env=env,
            start_new_session=True,
        )


@pytest.mark.realclock
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [
        (signal.SIGKILL, False),
        (signal.SIGTERM, False),  # as cron's `timeout` sends it
        (signal.SIGINT, False),
        (signal.SIGINT, True),  # Ctrl-C in a terminal: the whole process group
    ],
    ids=["SIGKILL", "SIGTERM", "SIGINT", "SIGINT-to-group"],
)
def test_no_process_outlives_an_interrupted_fetch(busy_config, signum, to_group):
    digest = start_fetch(busy_config)
    tree: list[int] = []
    try:
        started = wait_for(lambda: any(map(is_parse_worker, descendants(digest.pid))), START)
        assert started, "the run never started a parse worker"
        tree = descendants(digest.pid)
        (os.killpg if to_group else os.kill)(digest.pid, signum)
        gone = wait_for(lambda: digest.poll() is not None and not any(map(alive, tree)), SETTLE)
        assert gone, f"still running {SETTLE:g} s after {signum.name}: {_described(tree)}"
    finally:
        _kill(digest, tree)
    if signum == signal.SIGINT:
        errors = (busy_config.parent / "err.txt").read_text()
        assert digest.returncode == 1 and "Traceback" not in errors, errors


def _described(pids: list[int]) -> list[str]:
    return [
        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[-80:]
        for pid in pids
        if alive(pid)
    ]


def _kill(digest: subprocess.Popen, tree: list[int]) -> None:
    """Leave nothing behind, whatever the outcome (pids of this run only)."""
    for pid in [digest.pid, *tree]:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    digest.wait(SETTLE)


# The two ways a worker notices its parent is gone, beside the kernel's PR_SET_PDEATHSIG

START_WORKER = """
import sys
from digest.sources.workers import start_worker
start_worker(int(sys.argv[1]))
print("still running")
"""


@pytest.mark.parametrize(("parent", "survives"), [("mine", True), ("another", False)])
def test_a_worker_whose_parent_already_died_exits_at_once(parent, survives):
    # When the parent dies before the worker asked the kernel to watch it, the worker's parent is
    # no longer the pid it was given, and it exits at once.
    pid = os.getpid() if parent == "mine" else 1
    command = [sys.executable, "-c", START_WORKER, str(pid)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == (0 if survives else 1)
    assert ("still running" in result.stdout) == survives


WATCHED_CHILD = """
import os, subprocess, sys
watch = "import sys; from digest.sources.workers import watch_parent; print(flush=True); "
watch += "watch_parent(int(sys.argv[1]), every=0.05)"
child = subprocess.Popen([sys.executable, "-c", watch, str(os.getpid())], stdout=subprocess.PIPE)
assert child.stdout.readline() == b"\\n"  # it is watching: now die
print(child.pid)
"""


@pytest.mark.realclock
def test_without_prctl_a_worker_watches_its_parent_itself():
    result = subprocess.run(
        [sys.executable, "-c", WATCHED_CHILD], stdout=subprocess.PIPE, text=True, timeout=60
    )
    orphan = int(result.stdout)
    try:
        assert wait_for(lambda: not alive(orphan), SETTLE)
    finally:
        if alive(orphan):
            os.kill(orphan, signal.SIGKILL)


def sources(hashes: list[str | None]) -> list[Source]:
    return [
        Source(f"https://a.example/{i}", f"Feed {i}", f"https://a.example/{i}", content_hash=hash_)
        for i, hash_ in enumerate(hashes)
    ]


def test_a_feed_never_fetched_starts_the_workers_before_any_body_arrives():
    before = set(descendants(os.getpid()))
    with parse_pool(sources(["h"] * POOL_THRESHOLD)):
        assert set(descendants(os.getpid())) <= before  # each may answer 304: none yet
    with parse_pool(sources([*["h"] * (POOL_THRESHOLD - 1), None])):
        started = set(descendants(os.getpid())) - before
        assert len(started) >= MAX_WORKERS  # the workers, and multiprocessing's tracker


# Nothing to parse, no process

WARM_RUN = """
import os, sys
from datetime import datetime
from digest.core.config import load_config
from digest.pipeline import fetch_sources
from digest.core.store import Store
from tests.test_workers import descendants

config = load_config(sys.argv[1])
with Store.open(config.db_path()) as store:
    reports = fetch_sources(config, store, datetime.fromisoformat(sys.argv[2]))
print(*sorted({report.status for report in reports}), len(descendants(os.getpid())))
"""


def test_a_run_where_every_feed_is_unchanged_starts_no_process(server, make_config):
    def answer(headers):
        if headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(200, rss(2), {"ETag": '"v1"'})

    for i in range(POOL_THRESHOLD):
        server.routes[f"/feed/{i}"] = answer
    path = make_config([(f"Feed {i}", server.url(f"/feed/{i}")) for i in range(POOL_THRESHOLD)])
    config = load_config(path)
    with Store.open(config.db_path()) as store:
        assert {report.status for report in fetch_sources(config, store, NOW)} == {"new"}
    root = Path(__file__).parent.parent
    command = [sys.executable, "-c", WARM_RUN, str(path), NOW.isoformat()]
    result = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=60)
    # No parse worker, and no resource tracker either: the pool was never made.
    assert result.stdout.split() == ["unchanged", "0"], result.stderr
