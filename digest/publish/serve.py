"""The live preview for editors: a local web server that shows the email as subscribers get it,
the editor's desk beside it (digest.publish.page, digest.publish.desk), and re-renders when a
watched file changes or the desk changes one; the page reloads itself.

Standard library only. Files are polled (mtime and size) rather than watched with inotify so it
works the same on every platform and editor. Renders happen one at a time (the watcher's and the
desk's); request threads only read the latest immutable snapshot.

Only this machine may use it: it listens on 127.0.0.1, answers only requests whose Host is its
own address (a page elsewhere can point its own name at 127.0.0.1), and takes a desk action only
from its own page: the right Origin, JSON, and the token that page carries, new for every run.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from digest.core.errors import ConfigError, DigestError
from digest.publish.page import Failure, PreviewPage, asset, shell_page

MAX_SETTLE = 2.0  # seconds: a file that never stops changing still gets rendered
MAX_ACTION = 64 * 1024  # bytes: a desk action is a few fields of text
UNEXPECTED_HINT = "this looks like a bug or a template error; the traceback below says where"

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
ASSETS = {"/desk.js": "text/javascript; charset=utf-8", "/desk.css": "text/css; charset=utf-8"}
Action = Callable[[dict, PreviewPage | None], str]

__all__ = ["PreviewPage", "PreviewServer"]


@dataclass(frozen=True)
class _Snapshot:
    """What the request threads serve; replaced whole, never changed."""

    version: int
    page: PreviewPage | None  # the last good rendering; None until one succeeds
    error: Failure | None  # why the latest render failed, if it did


class PreviewServer:
    """Serves the preview on `host:port` (0 picks a free port) and re-renders on file changes."""

    def __init__(
        self,
        render: Callable[[], PreviewPage],
        watch: Sequence[Path],
        port: int = 0,
        host: str = "127.0.0.1",
        poll_interval: float = 0.25,
        act: Action | None = None,
    ):
        self._render_page = render
        self._watch_paths = [Path(path) for path in watch]
        self._poll_interval = poll_interval
        self._act = act  # the desk: does an action of the page, says what it did
        self.token = secrets.token_urlsafe(24)
        self._snapshot = _Snapshot(0, None, None)
        self._stopping = threading.Event()
        self._rendering = threading.Lock()
        self._seen: dict[Path, tuple[int, int]] = {}
        try:
            self._httpd = _QuietServer((host, port), _handler(self))
        except OSError as exc:
            raise DigestError(
                f"cannot serve the preview on {host}:{port}: {exc.strerror}",
                hint="pass another --port, or --port 0 to pick a free one",
            ) from exc
        self._http_thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def version(self) -> int:
        """1 after the first render; +1 for each re-render, successful or not."""
        return self._snapshot.version

    def start(self) -> None:
        """Render once, then serve and watch. Idempotent, so `start()` to print the URL once the
        first render is done, then `serve_forever()`, works."""
        if self._watcher is not None:
            return
        self.refresh()
        self._http_thread.start()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def refresh(self) -> None:
        """Render now, as after a change of the watched files (the desk's own, say)."""
        with self._rendering:
            # Fingerprint before rendering so a save during the render is not missed.
            self._seen = _fingerprint(self._watch_paths)
            self._render()

    def stop(self) -> None:
        """Idempotent, and prompt: a render in progress is not waited for beyond a second."""
        self._stopping.set()
        if self._http_thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._watcher is not None:
            self._watcher.join(timeout=1.0)

    def __enter__(self) -> PreviewServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """For the CLI: serve until Ctrl+C (or `stop()` from another thread)."""
        try:
            self.start()
            self._stopping.wait()
        except KeyboardInterrupt:
            pass  # Ctrl+C is how an editor ends the preview, not an error
        finally:
            self.stop()

    def _render(self) -> None:
        last = self._snapshot
        try:
            page, error = self._render_page(), None
        except DigestError as exc:
            problems = tuple(exc.problems) if isinstance(exc, ConfigError) else ()
            page, error = last.page, Failure(exc.message, exc.hint, problems)
        except Exception as exc:  # the preview outlives any mistake in a template or overrides
            message = f"{type(exc).__name__}: {exc}"
            failure = Failure(message, UNEXPECTED_HINT, details=traceback.format_exc())
            page, error = last.page, failure
        self._snapshot = _Snapshot(last.version + 1, page, error)

    def _watch(self) -> None:
        while not self._stopping.wait(self._poll_interval):
            current = _fingerprint(self._watch_paths)
            if current == self._seen:
                continue
            settled = self._settle(current)
            if settled is None:
                return
            with self._rendering:
                if settled == self._seen:  # the desk's own change, rendered already
                    continue
                self._seen = settled
                self._render()

    def act(self, action: dict) -> tuple[int, dict]:
        """Do a desk action, render, and answer the page: (HTTP status, JSON)."""
        if self._act is None:
            return 404, {"ok": False, "error": "this preview has no desk"}
        try:
            said = self._act(action, self._snapshot.page)
        except DigestError as exc:
            return 409, {"ok": False, "error": exc.message, "hint": exc.hint}
        self.refresh()
        return 200, {"ok": True, "message": said, "version": self.version}

    def _settle(self, current: dict[Path, tuple[int, int]]) -> dict[Path, tuple[int, int]] | None:
        """Wait until the files stay unchanged for one poll, so a burst of saves (an editor
        writing several files, or save-all) renders once. None when stopping."""
        deadline = time.monotonic() + MAX_SETTLE
        while not self._stopping.wait(self._poll_interval):
            latest = _fingerprint(self._watch_paths)
            if latest == current or time.monotonic() > deadline:
                return latest
            current = latest
        return None


def _fingerprint(paths: Sequence[Path]) -> dict[Path, tuple[int, int]]:
    """(mtime, size) of every file under `paths`; a missing path simply has no files yet."""
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        # os.walk yields nothing for a missing path and skips folders that vanish mid-walk.
        for root, folders, names in os.walk(path):
            folders[:] = [name for name in folders if not _is_scratch(name)]
            files.extend(Path(root, name) for name in names if not _is_scratch(name))
    stamps = {}
    for file in files:
        try:
            info = file.stat()
        except OSError:  # deleted since it was listed; the next poll sees it gone
            continue
        stamps[file] = (info.st_mtime_ns, info.st_size)
    return stamps


def _is_scratch(name: str) -> bool:
    # Editors write swap, lock and backup files while the editor types; reloading the page for
    # those would be noise.
    return name.startswith((".", "#")) or name.endswith("~")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's open connection must not hold up stop()

    def handle_error(self, request, client_address) -> None:
        # A browser dropping a connection mid-reply is normal when the page reloads.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(server: PreviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(with_body=True)

        def do_HEAD(self) -> None:
            self._reply(with_body=False)

        def do_POST(self) -> None:
            refused = self._refusal() or self._foreign_action()
            if refused:
                status, payload = refused
            elif urlsplit(self.path).path != "/action":
                status, payload = 404, {"ok": False, "error": "not found"}
            else:
                status, payload = self._action()
            self._send(status, JSON, json.dumps(payload).encode())

        def _reply(self, with_body: bool) -> None:
            refused = self._refusal()
            if refused:
                status, content_type, body = refused[0], TEXT, refused[1]["error"].encode()
            else:
                status, content_type, body = _route(server, urlsplit(self.path).path)
            self._send(status, content_type, body if with_body else b"", len(body))

        def _send(self, status: int, content_type: str, body: bytes, length=None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.send_header("Cache-Control", "no-store")  # every request must see the latest
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            self.wfile.write(body)

        def _refusal(self) -> tuple[int, dict] | None:
            # A page on another site can point its own host name at 127.0.0.1 (DNS rebinding);
            # checking Host keeps the unpublished issue readable only from this machine's URLs.
            if self.headers.get("Host") in _own_hosts(server):
                return None
            return 403, {"ok": False, "error": "unexpected Host header\n"}

        def _foreign_action(self) -> tuple[int, dict] | None:
            """Why a POST is not the desk's own page acting, if it is not: another Origin (a
            page elsewhere posting a form here), no JSON, or not this run's token."""
            origins = {f"http://{host}" for host in _own_hosts(server)}
            token = self.headers.get("X-Digest-Token", "")
            if self.headers.get("Origin") not in origins:
                return 403, {"ok": False, "error": "refused: not from this preview's page"}
            if not hmac.compare_digest(token.encode(), server.token.encode()):
                return 403, {"ok": False, "error": "refused: this page is from an earlier run"}
            if self.headers.get_content_type() != JSON:
                return 415, {"ok": False, "error": "expected JSON"}
            return None

        def _action(self) -> tuple[int, dict]:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_ACTION:
                return 413, {"ok": False, "error": "too large for a desk action"}
            try:
                action = json.loads(self.rfile.read(length))
            except (ValueError, UnicodeDecodeError):
                return 400, {"ok": False, "error": "not a JSON action"}
            if not isinstance(action, dict):
                return 400, {"ok": False, "error": "not a JSON action"}
            return server.act(action)

        def log_message(self, format, *args) -> None:
            pass  # the browser polls twice a second; logging each request would flood the terminal

    return Handler


def _own_hosts(server: PreviewServer) -> set[str]:
    host, port = server._httpd.server_address[:2]
    return {f"{host}:{port}", f"localhost:{port}"}


def _route(server: PreviewServer, path: str) -> tuple[int, str, bytes]:
    snapshot = server._snapshot
    page = snapshot.page
    if path == "/":
        body = shell_page(page, snapshot.error, snapshot.version, server.token)
        return 200, HTML, body.encode()
    if path == "/version":
        error = snapshot.error.message if snapshot.error else None
        return 200, JSON, json.dumps({"version": snapshot.version, "error": error}).encode()
    if path in ASSETS:
        return 200, ASSETS[path], asset(path.lstrip("/"))
    if path in ("/email.html", "/email.txt") and page is None:
        return 503, TEXT, b"no email has rendered yet; the preview page shows why\n"
    if path == "/email.html":
        return 200, HTML, _highlight_broken(page.html, page.broken_links).encode()
    if path == "/email.txt":
        return 200, TEXT, page.text.encode()
    return 404, TEXT, b"not found\n"


def _highlight_broken(html: str, hrefs: frozenset[str]) -> str:
    """The email with a preview-only style outlining links to `hrefs`. CSS attribute selectors
    pick the links, so the email's own markup is left byte for byte as rendered."""
    if not hrefs:
        return html
    selectors = ",".join(f"a[href={_css_string(href)}]" for href in sorted(hrefs))
    style = (
        f"<style data-preview-only>{selectors}"
        "{outline:3px solid #d93025!important;background:#fde7e4!important}</style>"
    )
    head_end = re.search(r"</head\s*>", html, re.IGNORECASE)
    if head_end is None:
        return html + style  # never before the doctype: that would switch to quirks mode
    return html[: head_end.start()] + style + html[head_end.start() :]


def _css_string(value: str) -> str:
    # Hex-escape anything that could end the string or the <style> element.
    def safe(char: str) -> str:
        return f"\\{ord(char):x} " if char in '\\"<>' or ord(char) < 0x20 else char

    return '"' + "".join(safe(char) for char in value) + '"'
