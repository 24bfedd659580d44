"""Files written whole or not at all.

Each file goes to a temporary file beside it (same folder, so the same disk) and is renamed over
the old one only once every byte is on the disk. A full disk, a quota or a killed process then
leaves the old file exactly as it was and no temporary file behind: an export that is cut
mid-row could re-import as a valid wrong address, or undo an unsubscribe.

A failure is an OSError whose filename is the file that could not be written, never the
temporary one: the disk's own error (ENOSPC, EFBIG) names no file at all.
"""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def write_file(path: Path, content: str | bytes, mode: int | None = None) -> None:
    """Replace `path` with `content` (text is written as UTF-8). `mode` sets its permissions;
    by default a file that exists keeps its own, and a new one gets what open() would give."""
    with _temporary(Path(path), mode) as (temporary, out):
        out.write(_bytes(content))
    _rename(temporary, Path(path))


def write_files(files: Mapping[Path, str | bytes]) -> None:
    """Replace every file of `files`, or none: each is on the disk before any is renamed."""
    ready: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            with _temporary(Path(path), None) as (temporary, out):
                out.write(_bytes(content))
            ready.append((temporary, Path(path)))
    except BaseException:
        for temporary, _ in ready:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, path in ready:
        _rename(temporary, path)


@contextmanager
def replacing(path: Path) -> Iterator[IO[str]]:
    """A text stream (UTF-8, lines ending as written) for `path`'s new content: `path` is
    replaced when the block ends, and left alone when it raises."""
    with _temporary(Path(path), None, text=True) as (temporary, out):
        yield out
    _rename(temporary, Path(path))


@contextmanager
def _temporary(path: Path, mode: int | None, text: bool = False) -> Iterator[tuple[Path, IO]]:
    """A new temporary file beside `path` and a stream into it; once the block is done its
    bytes are on the disk and it has its permissions. On any error it is removed."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        # O_EXCL: never through a file or link already there; 0o666 less the umask, as open().
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _naming(exc, path, temporary) from None
    try:
        encoding, newline = ("utf-8", "") if text else (None, None)
        with open(handle, "w" if text else "wb", encoding=encoding, newline=newline) as out:
            yield temporary, out
            out.flush()
            os.fsync(out.fileno())
        _set_mode(temporary, path, mode)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path, temporary) from None
        raise


def _rename(temporary: Path, path: Path) -> None:
    try:
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise _naming(exc, path, temporary) from None


def _set_mode(temporary: Path, path: Path, mode: int | None) -> None:
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            return
    os.chmod(temporary, mode)


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _naming(exc: OSError, path: Path, temporary: Path) -> OSError:
    """The failure, naming `path` where it named no file or the temporary one; a failure that
    names another file (of a set being written) keeps its name."""
    if exc.filename not in (None, str(temporary)):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(path))
