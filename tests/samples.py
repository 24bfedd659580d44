"""Feed documents written for the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OUTBOX = ("outbox", "outbox")  # a ledger send's transport and destination


def cli(*args, now: datetime = NOW, command=None, **kwargs) -> Result:
    """digest's command line, in this process, with its clock stopped at `now`."""
    from digest.cli import World, main

    world = World(clock=lambda: now, sleep=lambda seconds: None)
    return CliRunner().invoke(command or main, [str(a) for a in args], obj=world, **kwargs)


def rss(
    count: int = 3,
    *,
    site: str = "https://partner.example",
    extra: str = "",
    encoding: str = "utf-8",
    prolog: str = "",
) -> bytes:
    items = "".join(
        f"""<item><title>Story {i}</title><link>{site}/news/{i}</link>
        <guid isPermaLink="false">story-{i}</guid>
        <pubDate>{(NOW - timedelta(hours=i + 1)):%a, %d %b %Y %H:%M:%S +0000}</pubDate>
        <category>Health inequalities</category>
        <description>&lt;p&gt;Summary of story {i}.&lt;/p&gt;</description></item>"""
        for i in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>{prolog}<rss version="2.0"><channel>'
        f"<title>Partner news</title><link>{site}/</link>{items}{extra}</channel></rss>"
    ).encode(encoding)


def atom(count: int = 3, *, site: str = "https://research.example") -> bytes:
    entries = "".join(
        f"""<entry><id>tag:research.example,2026:{i}</id>
        <title type="html">Paper &lt;b&gt;{i}&lt;/b&gt;</title>
        <link rel="alternate" href="{site}/papers/{i}"/>
        <published>{(NOW - timedelta(days=i)):%Y-%m-%dT%H:%M:%SZ}</published>
        <updated>{(NOW - timedelta(days=i)):%Y-%m-%dT%H:%M:%SZ}</updated>
        <category term="Rapid learning"/><summary>Paper {i} in brief.</summary></entry>"""
        for i in range(count)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Research</title><id>tag:research.example,2026:feed</id>"
        f'<updated>{NOW:%Y-%m-%dT%H:%M:%SZ}</updated><link href="{site}/"/>{entries}</feed>'
    ).encode()


def rdf(count: int = 2) -> bytes:
    items = "".join(
        f"""<item rdf:about="https://care.example/news/{i}"><title>Care story {i}</title>
        <link>https://care.example/news/{i}</link><dc:date>2026-11-2{i}T09:00:00Z</dc:date>
        <dc:subject>Social care</dc:subject><description>Care {i}.</description></item>"""
        for i in range(count)
    )
    return (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b'<channel rdf:about="https://care.example/"><title>Care</title>'
        b"<link>https://care.example/</link></channel>" + items.encode() + b"</rdf:RDF>"
    )


def local_site(folder: Path, items: str, weeknote: str, extra: str = "") -> Path:
    """A feeds.yaml of two themes, a local feed of RSS `items` and a local weeknote page, with
    an unsubscribe link; `extra` appends keys. Nothing fetched yet."""
    (folder / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>{items}</channel></rss>',
        encoding="utf-8",
    )
    (folder / "weeknote.html").write_text(weeknote, encoding="utf-8")
    path = folder / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Test digest\n  website: https://community.example\n"
        "  sender: Test <digest@community.example>\n"
        "themes:\n  - name: Health inequalities\n    aliases: [Inequalities]\n"
        "  - name: Video consultations\n    keywords: [video]\n"
        "feeds:\n  - name: Partner\n    url: feed.xml\n"
        "weeknote:\n  url: weeknote.html\n"
        "email:\n  unsubscribe_url: https://community.example/unsubscribe\n"
        f"state:\n  db: state.db\n{extra}",
        encoding="utf-8",
    )
    return path


def config_text(feeds: list[tuple[str, str]], *, fetch: str = "", extra: str = "") -> str:
    """A valid feeds.yaml listing `feeds` as (name, url)."""
    feed_lines = "".join(f"  - name: {name}\n    url: {url}\n" for name, url in feeds)
    fetch_block = f"fetch:\n{fetch}" if fetch else ""
    return f"""newsletter:
  title: Test digest
  website: https://community.example
  sender: Test <digest@community.example>
themes:
  - name: Health inequalities
  - name: Rapid learning and improvement
feeds:
{feed_lines or "  []"}
state:
  db: state.db
{fetch_block}{extra}"""


def mark_sent(store, issue, when: datetime) -> None:
    """Record `issue` as sent at `when` the way digest send does: through the ledger."""
    from digest.delivery.ledger import Ledger
    from digest.delivery.message import FrozenEmail

    ledger = Ledger(store)
    content = FrozenEmail("subject", "<p>html</p>", "text")
    ledger.start(issue, content, [("a@x.org", None)], 1, when, OUTBOX)
    (batch,) = ledger.batches(issue.id)
    assert ledger.accept(batch, "message-1", when)
