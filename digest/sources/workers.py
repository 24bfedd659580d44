"""Worker processes that parse feed bodies: started when a body needs parsing (or before the
first request, when a source was never fetched), and sure to die with digest.

Workers are spawned, not forked: they must not inherit the parent's threads or open database
handle. A worker waits on its task queue, whose write end every worker holds open too
(multiprocessing hands each the whole queue), so if digest dies without shutting the pool down
(SIGKILL, or SIGTERM, which Python does not handle) the queue never ends and the workers would
wait forever. So each worker dies with its parent: on Linux the kernel kills it
(PR_SET_PDEATHSIG); elsewhere a thread in the worker watches the parent's pid. multiprocessing's
resource tracker then sees its pipe close and ends.

Ctrl-C in a terminal sends SIGINT to the whole process group. Workers ignore it: the parent
stops the run and shuts the pool down, so the user sees one "Aborted!", not a traceback per
worker. They are even spawned with SIGINT blocked, so one still starting up is not interrupted.

This module is imported by every worker, so it imports little.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor

# Each worker costs ~32 MB and ~0.2 s to start, and a feed parses in tens of milliseconds, so
# more than two buy a few seconds of a weekly run for memory that then grows with the cores; the
# event loop, which fetches and stores, needs a core too.
MAX_WORKERS = 2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL = 0.5  # seconds between two looks at the parent where the kernel cannot watch it


class ParsePool:
    """Runs functions in worker processes, which start with the first call or `start`; `close`
    (or leaving the `with` block) stops them."""

    def __init__(self, workers: int = MAX_WORKERS):
        self.workers = workers
        self._executor: Executor | None = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    async def run(self, function: Callable, *args):
        """`function(*args)` in a worker; BrokenExecutor when a worker died."""
        import asyncio  # here, not on top: with the ssl it pulls in, ~7 MB more in each worker

        # Made outside the block: making the pool starts multiprocessing's resource tracker,
        # which unblocks SIGINT when it is started.
        executor = self._started()
        # submit spawns a worker when none is idle, in this thread: the kernel kills the worker
        # when this thread ends, which is after close() has stopped it.
        with _sigint_blocked():
            future = executor.submit(function, *args)
        return await asyncio.wrap_future(future)

    def start(self) -> None:
        """Start every worker now, not with the first call (each takes ~0.2 s to start)."""
        executor = self._started()
        with _sigint_blocked():  # as in run(), in the thread the workers' lives are tied to
            for _ in range(self.workers):
                executor.submit(os.getpid)  # spawns a worker while none is idle

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)

    def _started(self) -> Executor:
        if self._executor is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._executor = ProcessPoolExecutor(
                self.workers,
                multiprocessing.get_context("spawn"),
                initializer=start_worker,
                initargs=(os.getpid(),),
            )
        return self._executor


def start_worker(parent: int) -> None:
    """Set up a worker process of `parent`: ignore Ctrl-C, and die when the parent does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _kernel_kills_orphan():
        threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before anything watched it: already an orphan
        os._exit(1)


def watch_parent(parent: int, every: float = PARENT_POLL) -> None:
    """End this process once `parent` is no longer its parent: it died and the orphan was
    adopted by init or a subreaper."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _kernel_kills_orphan() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that cannot be."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back in this thread meanwhile; it is delivered afterwards, not lost. A process
    spawned meanwhile starts with it blocked (the signal mask survives exec)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: a worker starting up is exposed
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
