"""The `digest` command line, one module per command family.

`base` holds the group (`main`), the `World` commands run in, the shared options and helpers;
each family module imports from `base` and the core only, and this module registers their
commands. Heavy modules are imported inside the commands, so `digest --help` stays quick.
"""

import atexit
import gc
import sys

# At exit, the interpreter's last garbage collections walk every object the command made: a
# sixth of a warm `digest fetch` (80 of 500 ms). Frozen first, those objects are left to the
# operating system. Nothing is lost by it: every file, database and connection digest opens it
# closes in a `with` block, never in a finaliser that only exit would run.
atexit.register(gc.freeze)

# httpx imports its own command line (`httpx.main`: rich, pygments, click) whenever those are
# installed, and rich is, for digest's progress bar. That is a tenth of a second of every
# digest command that fetches, for a function digest never calls: marked as not importable
# here, before any command imports httpx, httpx leaves it out (its fallback `main` only says
# the extras are missing).
sys.modules.setdefault("httpx._main", None)

from digest.cli import (  # noqa: E402
    approving,
    archive,
    checking,
    doctor,
    issue,
    links,
    sending,
    stats,
    subscribers,
    themes,
)
from digest.cli import init as setup  # noqa: E402
from digest.cli.base import DigestGroup, World, main  # noqa: E402

__all__ = ["DigestGroup", "World", "main"]

main.add_command(checking.check)
main.add_command(checking.fetch)
main.add_command(issue.build)
main.add_command(issue.preview)
main.add_command(approving.approve)
main.add_command(sending.send)
main.add_command(sending.status)
main.add_command(sending.cancel)
main.add_command(sending.notify_editor)
main.add_command(archive.archive)
main.add_command(links.links)
main.add_command(subscribers.subscribers)
main.add_command(themes.themes)
main.add_command(doctor.doctor)
main.add_command(stats.stats)
main.add_command(setup.init)
