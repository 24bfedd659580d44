"""The live preview server: a real server on 127.0.0.1, real files in tmp_path, real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from digest.core.errors import ConfigError, DigestError
from digest.publish.serve import PreviewPage, PreviewServer

EMAIL = (
    "<!doctype html><html><head><title>Weeknote 48</title></head><body>"
    '<a href="https://ok.example/a?x=1&amp;y=2">fine</a>'
    '<a href="https://dead.example/gone">dead</a></body></html>'
)
PAGE = PreviewPage(
    subject="Weeknote 48: the widening gaps",
    preheader="Two new reports and a video pilot",
    html=EMAIL,
    text="Weeknote 48\n\nThe widening gaps report.\n",
    issue_id="2024-W48",
    sources=(("Partner", "error", "HTTP 500 from partner.example"), ("Research", "new", "3")),
)


def wait_for(condition, timeout: float = 5.0):
    """Poll `condition` every 20 ms until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s")


def get(server: PreviewServer, path: str, **kwargs) -> httpx.Response:
    return httpx.get(server.url + path.lstrip("/"), trust_env=False, **kwargs)


def version(server: PreviewServer) -> dict:
    return get(server, "/version").json()


@pytest.fixture
def serve():
    """Start a PreviewServer (fast polling unless told otherwise); every one is stopped after."""
    servers: list[PreviewServer] = []

    def start(render, watch=(), poll_interval=0.05, **kwargs) -> PreviewServer:
        server = PreviewServer(render, list(watch), poll_interval=poll_interval, **kwargs)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def template_render(template: Path, calls: list[int] | None = None):
    """A render() that puts the template file's text into the email, like a real template."""

    def render() -> PreviewPage:
        if calls is not None:
            calls.append(1)
        body = template.read_text(encoding="utf-8")
        if "BROKEN" in body:
            raise DigestError("templates/email.html: unexpected '}}' on line 3", hint="close {{")
        return replace(PAGE, html=f"<html><body>{body}</body></html>", text=body)

    return render


def test_shell_page_shows_the_issue_escaped(serve):
    hostile = replace(
        PAGE,
        subject="<script>alert(1)</script> & more",
        preheader='He said "hi" <b>',
        text="a <tag> in the text",
        sources=(*PAGE.sources, ("<i>Evil</i>", "error", "<img src=x onerror=alert(2)>")),
    )
    server = serve(lambda: hostile)
    reply = get(server, "/")
    assert reply.status_code == 200 and reply.headers["content-type"] == "text/html; charset=utf-8"
    page = reply.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "He said &quot;hi&quot; &lt;b&gt;" in page
    assert "2024-W48" in page
    assert '<iframe src="/email.html"' in page
    assert "<pre>a &lt;tag&gt; in the text</pre>" in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<i>Evil" not in page
    assert (
        "<tr class=failed><td>Partner</td><td>error</td><td>HTTP 500 from partner.example</td>"
        in page
    )
    assert "<tr><td>Research</td><td>new</td><td>3</td></tr>" in page
    assert "<tr class=failed><td>&lt;i&gt;Evil&lt;/i&gt;</td>" in page
    assert "Sources: 2 of 3 failed" in page
    assert f'data-version="{server.version}"' in page and '<script src="/desk.js">' in page
    script = get(server, "/desk.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert 'fetch("/version"' in script.text
    assert get(server, "/desk.css").headers["content-type"] == "text/css; charset=utf-8"


def test_email_routes_version_and_404(serve):
    server = serve(lambda: PAGE)
    html = get(server, "/email.html")
    assert html.content == EMAIL.encode() and html.headers["content-type"].startswith("text/html")
    text = get(server, "/email.txt?cachebust=1")
    assert text.text == PAGE.text and text.headers["content-type"] == "text/plain; charset=utf-8"
    state = get(server, "/version")
    assert state.json() == {"version": 1, "error": None}
    assert state.headers["cache-control"] == "no-store"
    assert get(server, "/nope").status_code == 404
    assert get(server, "/email.html/").status_code == 404
    head = httpx.head(server.url + "email.html", trust_env=False)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(EMAIL.encode()))
    post = httpx.post(server.url, trust_env=False)
    assert post.status_code == 403  # not from the preview's own page


def test_binds_loopback_only_and_checks_host(serve):
    server = serve(lambda: PAGE)
    assert server.url.startswith("http://127.0.0.1:")
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    # Linux routes all of 127/8 to loopback: a server bound to 0.0.0.0 would answer here.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", port), timeout=1).close()
    assert get(server, "/", headers={"Host": f"localhost:{port}"}).status_code == 200
    assert get(server, "/", headers={"Host": f"attacker.example:{port}"}).status_code == 403


def test_port_in_use_is_a_digest_error(serve):
    server = serve(lambda: PAGE)
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(DigestError, match=f"127.0.0.1:{port}") as caught:
        PreviewServer(lambda: PAGE, [], port=port)
    assert "--port" in caught.value.hint


@pytest.mark.realclock
def test_saving_a_template_reloads_within_a_second(serve, tmp_path, capsys):
    template = tmp_path / "email.html"
    template.write_text("<p>first draft</p>", encoding="utf-8")
    server = serve(template_render(template), [tmp_path], poll_interval=0.25)  # the default
    assert "first draft" in get(server, "/email.html").text
    before = version(server)["version"]

    saved = time.monotonic()
    template.write_text("<p>final draft</p>", encoding="utf-8")
    wait_for(lambda: "final draft" in get(server, "/email.html").text)
    latency = time.monotonic() - saved

    assert version(server)["version"] == before + 1
    assert latency < 2.0
    with capsys.disabled():
        print(f"\npreview reload latency: {latency * 1000:.0f} ms (poll interval 250 ms)")


@pytest.mark.realclock
def test_a_burst_of_saves_renders_once(serve, tmp_path):
    template = tmp_path / "email.html"
    template.write_text("v0", encoding="utf-8")
    calls: list[int] = []
    server = serve(template_render(template, calls), [template], poll_interval=0.1)
    for n in range(1, 9):  # saves 40 ms apart for 0.3 s, longer than three polls
        template.write_text(f"v{n}" + "." * n, encoding="utf-8")
        time.sleep(0.04)
    wait_for(lambda: get(server, "/email.txt").text.startswith("v8"))
    time.sleep(0.3)  # three more polls: no late second render
    assert len(calls) == 2 and server.version == 2


@pytest.mark.realclock
def test_directory_watch_sees_new_and_nested_files_but_not_editor_scratch(serve, tmp_path):
    templates = tmp_path / "templates"
    (templates / "partials").mkdir(parents=True)
    nested = templates / "partials" / "footer.html"
    nested.write_text("footer", encoding="utf-8")
    calls: list[int] = []

    def render() -> PreviewPage:
        calls.append(1)
        files = sorted(templates.rglob("*.html"))
        return replace(PAGE, text=" ".join(f.read_text(encoding="utf-8") for f in files))

    server = serve(render, [templates])
    (templates / "header.html").write_text("header", encoding="utf-8")
    wait_for(lambda: get(server, "/email.txt").text == "header footer")
    nested.write_text("new footer", encoding="utf-8")
    wait_for(lambda: get(server, "/email.txt").text == "header new footer")
    assert server.version == 3

    (templates / ".header.html.swp").write_text("vim", encoding="utf-8")
    (templates / "header.html~").write_text("backup", encoding="utf-8")
    time.sleep(0.25)  # five polls
    assert server.version == 3 and len(calls) == 3


@pytest.mark.realclock
def test_a_missing_watched_file_that_appears_triggers_a_render(serve, tmp_path):
    overrides = tmp_path / "overrides.yaml"

    def render() -> PreviewPage:
        text = overrides.read_text(encoding="utf-8") if overrides.exists() else "no overrides"
        return replace(PAGE, text=text)

    server = serve(render, [overrides, tmp_path / "no-such-folder"])
    assert get(server, "/email.txt").text == "no overrides"
    overrides.write_text("pin: story-1", encoding="utf-8")
    wait_for(lambda: get(server, "/email.txt").text == "pin: story-1")
    assert server.version == 2


@pytest.mark.realclock
def test_a_failed_render_shows_the_error_and_keeps_the_last_good_email(serve, tmp_path):
    template = tmp_path / "email.html"
    template.write_text("<p>good</p>", encoding="utf-8")
    server = serve(template_render(template), [template])

    template.write_text("<p>BROKEN }}</p>", encoding="utf-8")
    state = wait_for(lambda: (s := version(server))["error"] and s)
    assert state == {"version": 2, "error": "templates/email.html: unexpected '}}' on line 3"}
    page = get(server, "/").text
    assert "The last render failed" in page
    assert "templates/email.html: unexpected &#x27;}}&#x27; on line 3" in page
    assert "Hint: close {{" in page and "The last good email is shown below." in page
    assert "Weeknote 48" in page and '<iframe src="/email.html"' in page
    assert get(server, "/email.html").text == "<html><body><p>good</p></body></html>"

    template.write_text("<p>fixed</p>", encoding="utf-8")
    wait_for(lambda: version(server) == {"version": 3, "error": None})
    assert "fixed" in get(server, "/email.html").text
    assert "The last render failed" not in get(server, "/").text


@pytest.mark.realclock
def test_a_first_render_that_fails_still_serves_and_recovers(serve, tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("bad", encoding="utf-8")

    def render() -> PreviewPage:
        text = config.read_text(encoding="utf-8")
        if text == "bad":
            raise ConfigError(str(config), ["feeds.yaml:2: newsletter.titel: unknown key"])
        if text == "worse":
            raise ValueError("<unexpected> value")
        return PAGE

    server = serve(render, [config])
    assert version(server) == {"version": 1, "error": f"{config}: 1 problem"}
    page = get(server, "/").text
    assert "newsletter.titel: unknown key" in page and "Nothing has rendered yet." in page
    assert get(server, "/email.html").status_code == 503

    config.write_text("worse", encoding="utf-8")
    wait_for(lambda: version(server)["error"] == "ValueError: <unexpected> value")
    page = get(server, "/").text
    assert "ValueError: &lt;unexpected&gt; value" in page and "Traceback" in page

    config.write_text("good", encoding="utf-8")
    wait_for(lambda: version(server)["error"] is None)
    assert get(server, "/email.html").content == EMAIL.encode()


def test_broken_links_are_outlined_in_the_preview_only(serve):
    hostile_href = 'https://x.example/"]{}</style><script>alert(1)</script>'
    broken = replace(PAGE, broken_links=frozenset({"https://dead.example/gone", hostile_href}))
    server = serve(lambda: broken)
    html = get(server, "/email.html").text
    assert 'a[href="https://dead.example/gone"]' in html and "outline:3px solid" in html
    assert "ok.example" not in html.split("</style>")[0]
    assert html.count("</style>") == 1 and "<script>" not in html
    style_start = html.index("<style data-preview-only>")
    style_end = html.index("</style>") + len("</style>")
    assert html[:style_start] + html[style_end:] == EMAIL  # the email's own markup untouched
    assert style_end == html.index("</head>")
    assert "2 broken link(s) outlined" in get(server, "/").text
    assert PAGE.html == EMAIL  # the page the real send uses is not changed


def test_stop_is_prompt_and_closes_the_port(serve, tmp_path):
    server = serve(lambda: PAGE, [tmp_path])
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    get(server, "/version")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # a second stop is harmless


@pytest.mark.realclock
def test_serve_forever_blocks_until_stopped(tmp_path):
    server = PreviewServer(lambda: PAGE, [tmp_path], poll_interval=0.05)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    wait_for(lambda: server.version == 1)
    assert get(server, "/email.txt").text == PAGE.text
    server.stop()
    thread.join(timeout=1.0)
    assert not thread.is_alive()


def test_start_then_serve_forever_as_the_cli_does(tmp_path):
    calls: list[int] = []
    server = PreviewServer(lambda: calls.append(1) or PAGE, [tmp_path], poll_interval=0.05)
    server.start()
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    assert get(server, "/email.txt").text == PAGE.text
    server.stop()
    thread.join(timeout=1.0)
    assert not thread.is_alive() and calls == [1]


def test_context_manager_starts_and_stops(tmp_path):
    with PreviewServer(lambda: PAGE, [tmp_path]) as server:
        assert version(server) == {"version": 1, "error": None}
    with pytest.raises(httpx.ConnectError):
        get(server, "/version")


def test_the_emails_warnings_are_listed_in_the_panel(serve):
    note = "3 items moved to 'more in the archive' to keep the email under 60,000 bytes <as sent>"
    server = serve(lambda: replace(PAGE, warnings=(note,)))
    shell = get(server, "/").text
    assert '<li class="warning">3 items moved to' in shell and "&lt;as sent&gt;" in shell


def test_a_desk_action_needs_the_pages_origin_its_token_and_json(serve):
    done = []
    server = serve(lambda: PAGE, act=lambda action, page: done.append(action) or "done")
    origin = server.url.rstrip("/")
    good = {"Origin": origin, "X-Digest-Token": server.token}

    def post(headers, body=b'{"action": "undo"}', path="action"):
        return httpx.post(server.url + path, content=body, headers=headers, trust_env=False)

    json_type = {"Content-Type": "application/json"}
    assert post({**good, **json_type}).json() == {"ok": True, "message": "done", "version": 2}
    refused = [
        post({**json_type, "X-Digest-Token": server.token}),  # no Origin: not a page's request
        post({**good, **json_type, "Origin": "http://attacker.example"}),
        post({**good, **json_type, "X-Digest-Token": "an-earlier-run"}),
        post({**good, "Content-Type": "text/plain"}),  # a form's, which needs no preflight
        post({**good, **json_type, "Host": "attacker.example"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 415, 403]
    assert post({**good, **json_type}, b"[1]").status_code == 400
    assert post({**good, **json_type}, path="elsewhere").status_code == 404
    assert done == [{"action": "undo"}] and server.version == 2
    assert server.token not in get(server, "/email.html").text
    assert f'<meta name="desk-token" content="{server.token}">' in get(server, "/").text


def test_a_refused_desk_action_says_why_and_renders_nothing(serve):
    def refuse(action, page):
        raise DigestError("nothing to undo", hint="make a change first")

    server = serve(lambda: PAGE, act=refuse)
    headers = {
        "Origin": server.url.rstrip("/"),
        "X-Digest-Token": server.token,
        "Content-Type": "application/json",
    }
    reply = httpx.post(server.url + "action", content=b"{}", headers=headers, trust_env=False)
    assert reply.status_code == 409
    assert reply.json() == {"ok": False, "error": "nothing to undo", "hint": "make a change first"}
    assert server.version == 1
