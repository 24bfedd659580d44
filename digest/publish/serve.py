"""The live preview for editors: a local web server that shows the email as subscribers get it
and re-renders when a watched file changes; the page reloads itself.

Standard library only. Files are polled (mtime and size) rather than watched with inotify so it
works the same on every platform and editor. One watcher thread calls `render()`; request threads
only read the latest immutable snapshot, so no locks are needed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from digest.core.errors import ConfigError, DigestError

MAX_SETTLE = 2.0  # seconds: a file that never stops changing still gets rendered
UNEXPECTED_HINT = "this looks like a bug or a template error; the traceback below says where"

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass(frozen=True)
class PreviewPage:
    """One rendering of the issue, as the preview server shows it."""

    subject: str
    preheader: str
    html: str  # the email's HTML, complete document
    text: str  # the plain-text part
    issue_id: str
    sources: tuple[tuple[str, str, str], ...]  # (name, status, detail) per source
    broken_links: frozenset[str] = frozenset()  # hrefs to highlight in the preview only
    notes: tuple[str, ...] = ()  # what the editor should know: items moved to fit, the size


@dataclass(frozen=True)
class _Failure:
    message: str
    hint: str
    details: str = ""  # ConfigError problems, or a traceback for unexpected errors


@dataclass(frozen=True)
class _Snapshot:
    """What the request threads serve; replaced whole, never changed."""

    version: int
    page: PreviewPage | None  # the last good rendering; None until one succeeds
    error: _Failure | None  # why the latest render failed, if it did


class PreviewServer:
    """Serves the preview on `host:port` (0 picks a free port) and re-renders on file changes."""

    def __init__(
        self,
        render: Callable[[], PreviewPage],
        watch: Sequence[Path],
        port: int = 0,
        host: str = "127.0.0.1",
        poll_interval: float = 0.25,
    ):
        self._render_page = render
        self._watch_paths = [Path(path) for path in watch]
        self._poll_interval = poll_interval
        self._snapshot = _Snapshot(0, None, None)
        self._stopping = threading.Event()
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
        # Fingerprint before rendering so a save during the first render is not missed.
        seen = _fingerprint(self._watch_paths)
        self._render()
        self._http_thread.start()
        self._watcher = threading.Thread(target=self._watch, args=(seen,), daemon=True)
        self._watcher.start()

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
            details = "\n".join(exc.problems) if isinstance(exc, ConfigError) else ""
            page, error = last.page, _Failure(exc.message, exc.hint, details)
        except Exception as exc:  # the preview outlives any mistake in a template or overrides
            message = f"{type(exc).__name__}: {exc}"
            page, error = last.page, _Failure(message, UNEXPECTED_HINT, traceback.format_exc())
        self._snapshot = _Snapshot(last.version + 1, page, error)

    def _watch(self, seen: dict[Path, tuple[int, int]]) -> None:
        while not self._stopping.wait(self._poll_interval):
            current = _fingerprint(self._watch_paths)
            if current == seen:
                continue
            settled = self._settle(current)
            if settled is None:
                return
            seen = settled
            self._render()

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

        def _reply(self, with_body: bool) -> None:
            port = server._httpd.server_address[1]
            # A page on another site can point its own host name at 127.0.0.1 (DNS rebinding);
            # checking Host keeps the unpublished issue readable only from this machine's URLs.
            allowed = {f"{server._httpd.server_address[0]}:{port}", f"localhost:{port}"}
            if self.headers.get("Host") in allowed:
                status, content_type, body = _route(server._snapshot, urlsplit(self.path).path)
            else:
                status, content_type, body = 403, TEXT, b"unexpected Host header\n"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # every request must see the latest
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def log_message(self, format, *args) -> None:
            pass  # the browser polls twice a second; logging each request would flood the terminal

    return Handler


def _route(snapshot: _Snapshot, path: str) -> tuple[int, str, bytes]:
    page = snapshot.page
    if path == "/":
        return 200, HTML, _shell_page(snapshot).encode()
    if path == "/version":
        error = snapshot.error.message if snapshot.error else None
        return 200, JSON, json.dumps({"version": snapshot.version, "error": error}).encode()
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


def _shell_page(snapshot: _Snapshot) -> str:
    page = snapshot.page
    title = escape(page.subject) if page else "no email yet"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Preview: {title}</title><style>{SHELL_STYLE}</style></head>
<body data-version="{snapshot.version}">
{_header(page)}
{_error_panel(snapshot.error, has_page=page is not None)}
{_views(page)}
{_sources_table(page)}
<script>{SHELL_SCRIPT}</script>
</body></html>
"""


def _header(page: PreviewPage | None) -> str:
    if page is None:
        return "<header><h1>No email yet</h1></header>"
    broken = len(page.broken_links)
    flagged = f" · <strong>{broken} broken link(s) outlined</strong>" if broken else ""
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in page.notes)
    return f"""<header><h1>{escape(page.subject)}</h1>
<p class="preheader">{escape(page.preheader)}</p>
<p class="meta">Issue {escape(page.issue_id)}{flagged}</p>{notes}</header>"""


def _error_panel(error: _Failure | None, has_page: bool) -> str:
    if error is None:
        return ""
    below = "The last good email is shown below." if has_page else "Nothing has rendered yet."
    details = f"<details><summary>Details</summary><pre>{escape(error.details)}</pre></details>"
    return f"""<section class="error" role="alert"><h2>The last render failed</h2>
<p class="message">{escape(error.message)}</p>
<p class="hint">Hint: {escape(error.hint)}</p>
{details if error.details else ""}<p>{below} Save a file to try again.</p></section>"""


def _views(page: PreviewPage | None) -> str:
    if page is None:
        return ""
    return f"""<nav>
<button data-view="html">HTML</button><button data-view="text">Plain text</button>
<span class="gap"></span>
<button data-width="640">Desktop 640</button><button data-width="375">Mobile 375</button>
</nav>
<main>
<section id="html-view"><iframe src="/email.html" title="The email as HTML"
 sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe></section>
<section id="text-view" hidden><pre>{escape(page.text)}</pre></section>
</main>"""


def _sources_table(page: PreviewPage | None) -> str:
    if page is None or not page.sources:
        return ""
    rows = "\n".join(
        f"<tr{' class=failed' if status == 'error' else ''}><td>{escape(name)}</td>"
        f"<td>{escape(status)}</td><td>{escape(detail)}</td></tr>"
        for name, status, detail in page.sources
    )
    failed = sum(status == "error" for _, status, _ in page.sources)
    return f"""<section class="sources"><h2>Sources: {failed} of {len(page.sources)} failed</h2>
<table><tr><th>Source</th><th>Status</th><th>Detail</th></tr>
{rows}
</table></section>"""


SHELL_STYLE = """
body{margin:0;font:14px/1.45 system-ui,sans-serif;background:#eef0f3;color:#1d2430}
header{background:#fff;padding:12px 20px;border-bottom:1px solid #d5d9e0}
h1{font-size:18px;margin:0}h2{font-size:15px;margin:0 0 6px}
.preheader{margin:4px 0;color:#3d4654}.meta{margin:0;color:#6b7482}
.note{margin:4px 0 0;color:#8a4b00}
nav{display:flex;gap:6px;padding:10px 20px}.gap{flex:1}
button{font:inherit;padding:4px 10px;border:1px solid #b8bec8;border-radius:4px;background:#fff}
button[aria-pressed=true]{background:#1d2430;color:#fff;border-color:#1d2430}
main{display:flex;justify-content:center;padding:0 20px 20px}
iframe{display:block;width:640px;height:600px;border:1px solid #c5cad3;background:#fff}
pre{white-space:pre-wrap;max-width:76ch;margin:0;padding:16px;background:#fff}
.error{margin:12px 20px;padding:10px 14px;background:#fdecea;border:1px solid #e0a39b}
.error .message{font-weight:600}.error pre{background:transparent;padding:0;max-width:none}
.sources{padding:0 20px 24px}
table{border-collapse:collapse;background:#fff}
td,th{padding:4px 10px;border:1px solid #d5d9e0;text-align:left}
tr.failed td{background:#fdecea;color:#8a1c10;font-weight:600}
"""

# Remembers the chosen view and width across reloads, keeps the scroll position, and reloads
# when /version changes; a stopped server just leaves the last page up.
SHELL_SCRIPT = """
const KEY = "digest-preview", SCROLL = KEY + "-scroll";
const state = JSON.parse(sessionStorage.getItem(KEY) || '{"view":"html","width":"640"}');
const frame = document.querySelector("iframe");
function fit() {
  if (!frame || !frame.contentDocument || state.view !== "html") return;
  const y = scrollY;
  frame.style.height = "0";
  frame.style.height = frame.contentDocument.documentElement.scrollHeight + "px";
  scrollTo(0, y);
}
function apply() {
  if (!frame) return;
  document.getElementById("html-view").hidden = state.view !== "html";
  document.getElementById("text-view").hidden = state.view !== "text";
  frame.style.width = state.width + "px";
  for (const b of document.querySelectorAll("nav button")) {
    const on = b.dataset.view === state.view || b.dataset.width === state.width;
    b.setAttribute("aria-pressed", on);
  }
  sessionStorage.setItem(KEY, JSON.stringify(state));
  fit();
}
for (const b of document.querySelectorAll("nav button")) {
  b.onclick = () => { Object.assign(state, b.dataset); apply(); };
}
if (frame) frame.onload = () => {
  fit();
  const y = sessionStorage.getItem(SCROLL);
  if (y !== null) { scrollTo(0, Number(y)); sessionStorage.removeItem(SCROLL); }
};
apply();
const version = document.body.dataset.version;
setInterval(async () => {
  try {
    const reply = await fetch("/version", {cache: "no-store"});
    if (String((await reply.json()).version) !== version) {
      sessionStorage.setItem(SCROLL, scrollY);
      location.reload();
    }
  } catch (_) {}
}, 500);
"""
