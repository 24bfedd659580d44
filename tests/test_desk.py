"""The editor's desk in a real browser: Debian's Chromium driven by Playwright against the
preview server on 127.0.0.1, a real state database and real files in tmp_path. The browser is
never downloaded: without /usr/bin/chromium (`.ci/run` installs it) these tests are skipped."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from digest.core.config import load_config
from digest.core.store import Store
from digest.pipeline import build_issue
from digest.publish.desk import open_desk
from tests.resolver import table_resolver
from tests.samples import NOW, cli, local_site, mark_sent

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Chromium still asks for its own services (autofill, updates): no name resolves, so
    # nothing leaves 127.0.0.1, which the desk is reached at.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (apt-get install chromium; .ci/run does)",
    ),
    pytest.mark.realclock,  # Chromium runs under libfaketime too, and loads no page there
]

WEEKNOTE = """<html><head><title>Weeknote 48</title></head><body><article><h1>Weeknote 48</h1>
<p>A short week, but a busy one: two reports and four video pilots to share with you.</p>
<h2>Inequalities</h2>
<ul><li><a href="https://reports.example/gaps">The widening gaps report</a>, out now.</li>
<li><a href="https://reports.example/second">The second gaps report</a>, on housing.</li></ul>
</article></body></html>"""

OVERRIDES = """\
# The editor's overrides: the desk keeps this comment.
2026-W47:
  intro: Last week's words.  # another week, left alone
# This week: the desk writes below.
2026-W48:
  theme_order: [Video consultations]  # videos first this week
"""


def apart(call, *args, **kwargs):
    """`call` in a thread of its own: Playwright's sync API keeps an event loop running in
    this one, and digest's fetches and checks run their own with asyncio.run."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call, *args, **kwargs).result()


def pilot(n: int, name: str, extra: str = "") -> str:
    when = NOW - timedelta(hours=n + 1)
    return (
        f"<item><title>Video pilot {name}{extra}</title>"
        f"<link>https://partner.example/{name}</link>"
        f"<pubDate>{when:%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
    )


def write_site(folder: Path, items: str, extra: str = "") -> Path:
    site = local_site(folder, items, WEEKNOTE, extra)
    assert apart(cli, "fetch", "-c", site).exit_code == 0
    return site


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def desk(browser):
    """Open the desk for a site as of `now`: (server, page); both closed after the test."""
    opened = []

    def open_it(site: Path, now=NOW):
        server = open_desk(site, None, None, None, None, lambda: now)
        apart(server.start)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        opened.append((server, page))
        page.goto(server.url)
        page.wait_for_selector("body[data-ready]", state="attached")
        return server, page

    yield open_it
    for server, page in opened:
        page.close()
        server.stop()


def act(page, control, key: str | None = None) -> None:
    """Use a control (click, or press `key` on it) and wait for the page to come back."""
    with page.expect_response("**/action") as answer, page.expect_navigation():
        if key:
            control.press(key)
        else:
            control.click()
    assert answer.value.status == 200  # the action was done, and the page reloads
    page.wait_for_selector("body[data-ready]", state="attached")


def email(server) -> str:
    return httpx.get(server.url + "email.html", trust_env=False).text


def test_the_desk_writes_exactly_the_editors_changes_and_the_email_shows_them(tmp_path, desk):
    items = "".join(pilot(n, name) for n, name in enumerate(["one", "two", "three", "four"]))
    site = write_site(tmp_path, items)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text(OVERRIDES, encoding="utf-8")
    server, page = desk(site)
    button = page.get_by_role

    act(page, button("button", name="Pick Video pilot four"))
    act(page, button("button", name="Drop Video pilot two"))
    page.get_by_label("Theme of The second gaps report").select_option("Video consultations")
    act(page, button("button", name="Move The second gaps report to the chosen theme"))
    up = button("button", name="Move Video pilot three up")
    up.focus()
    act(page, up, "Enter")  # the keyboard works, and the focus comes back to the same control
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == (
        "Move Video pilot three up"
    )
    title = page.locator('li.item[data-url="https://partner.example/three"] input[name=title]')
    title.fill("Pilot three, retitled")
    act(page, title, "Enter")
    page.get_by_label("Subject").fill("Pilots and gaps")
    page.get_by_label("Preheader").fill("Four pilots and a report")
    act(page, button("button", name="Save the subject, preheader and intro"))
    act(page, button("button", name="Drop The widening gaps report"))
    assert "The widening gaps report" not in email(server)
    act(page, button("button", name="Undo the last change"))

    assert overrides.read_text(encoding="utf-8") == OVERRIDES.replace(
        "  theme_order:",
        "  subject: Pilots and gaps\n  preheader: Four pilots and a report\n  theme_order:",
    ) + (
        "  items:\n"
        "    - url: https://partner.example/four\n      lead: true\n"
        "    - url: https://partner.example/two\n      drop: true\n"
        "    - url: https://reports.example/second\n      theme: Video consultations\n"
        "    - url: https://partner.example/three\n      title: Pilot three, retitled\n"
        "      order: 2\n"
    )
    html = email(server)
    assert "<title>Pilots and gaps</title>" in html and "Four pilots and a report" in html
    soup = BeautifulSoup(html, "html.parser")
    picks = [h3.get_text() for h3 in soup.find(id="editors-picks").find_all_next("h3")]
    # Moved, the second report is the top of the videos, so a pick beside the one marked.
    assert picks == ["Video pilot four", "The second gaps report", "The widening gaps report"]
    video = soup.find(id="video-consultations").parent
    titles = [a.get_text() for a in video.find_all("a") if "partner.example" in a["href"]]
    assert titles == ["Pilot three, retitled", "Video pilot one"]
    assert "Video pilot two" not in html
    assert page.title() == "Preview: Pilots and gaps"
    # The desk is around the email, never in it.
    assert "data-action" not in html and server.token not in html and "desk" not in html
    saved = (tmp_path / "preview" / "issue.html").read_text(encoding="utf-8")
    assert saved == html


def test_approve_on_the_desk_freezes_what_is_shown_and_says_when_it_differs(tmp_path, desk):
    site = write_site(tmp_path, pilot(0, "one") + pilot(1, "two"))
    server, page = desk(site)
    act(page, page.get_by_role("button", name="Approve this issue"))
    assert page.get_by_text("it is the email shown here").is_visible()
    with Store.open(load_config(site).db_path()) as store:
        (approved,) = store.db.execute("SELECT html FROM approvals").fetchone()
    assert approved == email(server)
    act(page, page.get_by_role("button", name="Drop Video pilot two"))
    assert page.get_by_text("differs from it: approve again").is_visible()


def test_a_dropped_item_is_listed_and_restored_this_week_or_after_an_earlier_one(tmp_path, desk):
    site = write_site(tmp_path, pilot(0, "one") + pilot(1, "two") + pilot(2, "three"))
    overrides = tmp_path / "overrides.yaml"
    earlier = "# Last week's.\n2026-W47:\n  items:\n    - url: https://partner.example/two\n"
    overrides.write_text(earlier + "      drop: true\n", encoding="utf-8")
    server, page = desk(site)
    dropped = page.get_by_role("region", name="Dropped")
    assert "Video pilot two dropped in an earlier week" in dropped.inner_text()
    assert "Video pilot two" not in email(server)
    act(page, page.get_by_role("button", name="Drop Video pilot three"))
    assert "Video pilot three dropped this week" in dropped.inner_text()

    act(page, page.get_by_role("button", name="Restore Video pilot three"))
    act(page, page.get_by_role("button", name="Restore Video pilot two"))
    assert overrides.read_text(encoding="utf-8") == earlier + (
        "      drop: true\n2026-W48:\n  items:\n"
        "    - url: https://partner.example/two\n      drop: false\n"
    )
    html = email(server)
    assert "Video pilot two" in html and "Video pilot three" in html
    assert not page.get_by_role("region", name="Dropped").count()


def test_a_refused_action_is_said_on_the_page_and_changes_nothing(tmp_path, desk):
    site = write_site(tmp_path, pilot(0, "one") + pilot(1, "two"))
    _, page = desk(site)
    page.get_by_role("button", name="Undo the last change").click()
    status = page.get_by_role("status")
    status.get_by_text("nothing to undo").wait_for()
    assert not (tmp_path / "overrides.yaml").exists()


def test_the_panel_lists_every_warning_open(tmp_path, desk):
    long = " with a long title that takes room in the email" * 3
    items = "".join(pilot(n % 60, f"p{n}", long) for n in range(260))
    broken = pilot(0, "broken").replace("partner.example/", "news.example.org/")
    site = write_site(tmp_path, items + broken, "curation:\n  per_theme: 300\n")
    config = load_config(site)

    def send_last_week() -> None:  # with this very weeknote
        with Store.open(config.db_path()) as store:
            mark_sent(store, build_issue(config, store, NOW - timedelta(7)), NOW - timedelta(6))

    apart(send_last_week)
    (tmp_path / "overrides.yaml").write_text(
        "2026-W49:\n  items:\n    - url: https://elsewhere.example/gone\n      drop: true\n"
    )
    check_one_link_broken(site, NOW + timedelta(days=7))
    _, page = desk(site, NOW + timedelta(days=7))
    panel = page.locator(".panel")
    for said in (
        "overrides: https://elsewhere.example/gone is not among this issue's items",
        "weeknote: the same weeknote was sent in issue 2026-W47",
        "moved to nowhere (no email.archive_url) to keep the email under 100,000 bytes",
        "bytes as sent, close to Gmail's 102,000",
        "broken link: https://news.example.org/broken: HTTP 404 Not Found",
        "the footer has no postal address: set branding.postal_address",
    ):
        assert panel.get_by_text(said).is_visible(), (said, panel.inner_text())

    (tmp_path / "overrides.yaml").write_text("2026-W49:\n  items:\n    - url: [oops\n")
    page.wait_for_function("document.querySelector('.panel li.error') !== null")
    problem = "overrides.yaml:3: the [ opened here is never closed"
    assert panel.get_by_text(problem).is_visible(), panel.inner_text()
    assert panel.get_by_text("The last render failed").is_visible()


def check_one_link_broken(site: Path, now) -> None:
    """The link on a name that is not reserved checked as broken: a 404 from httpx's mock
    transport, so nothing leaves the machine."""
    from digest.sources.links import check_links

    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(404)))
    url, config = "https://news.example.org/broken", load_config(site)
    public = table_resolver({"news.example.org": ["93.184.215.14"]})  # no DNS asked

    def check() -> list:
        with Store.open(config.db_path()) as store:
            return check_links([url], config, store, now, client=client, resolver=public)

    (result,) = apart(check)
    assert result.broken


def test_the_offline_samples_links_are_example_links_not_red(tmp_path, desk):
    from digest.cli.base import for_run
    from digest.sources.links import check_links, issue_links

    folder = tmp_path / "demo"
    flags = ("--name", "Northfield digest", "--website", "https://northfield.example")
    sender = ("--sender", "Northfield <digest@northfield.example>")
    assert apart(cli, "init", folder, "--offline", *flags, *sender).exit_code == 0
    site = folder / "feeds.yaml"
    assert apart(cli, "preview", "-c", site).exit_code == 0
    config = for_run(load_config(site), offline=False, no_enrich=False)

    def no_request(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"asked {request.url}")

    client = httpx.AsyncClient(transport=httpx.MockTransport(no_request))

    def check() -> list:  # as digest preview --serve checks the links when it starts
        with Store.open(config.db_path()) as store:
            issue = build_issue(config, store, NOW)
            return check_links(issue_links(issue), config, store, NOW, client=client)

    results = apart(check)
    assert results and {r.outcome for r in results} == {"example"}
    _, page = desk(site)
    frame = page.frame_locator("iframe")
    links = frame.locator("a[href^='https://']")
    assert links.count() > 20
    outlines = links.evaluate_all("links => links.map(a => getComputedStyle(a).outlineStyle)")
    assert set(outlines) == {"none"}
    assert page.locator(".desk .link-note").first.inner_text() == "example link, not checked"
    assert not page.locator(".panel").get_by_text("broken").count()
