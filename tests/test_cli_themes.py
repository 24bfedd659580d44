"""`digest themes show | learn | evaluate` through the command line, on real SQLite files; the
backfill reads a blog feed and its weeknote posts from a loopback server."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

from tests.samples import NOW, cli
from tests.server import Reply
from tests.test_build import blog_feed

THEMES = """themes:
  - name: Video consultations
    aliases: [Remote consultations]
    keywords: [telehealth]
  - name: Health inequalities
    aliases: [Inequalities]
"""


def write_config(tmp_path, weeknote: str = "") -> str:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "newsletter:\n  title: Test digest\n  website: https://community.example\n"
        f"  sender: Test <digest@community.example>\n{THEMES}feeds: []\n"
        f"{weeknote}state:\n  db: state.db\n",
        encoding="utf-8",
    )
    return str(path)


def page(n: int, video_heading: str = "Remote consultations") -> bytes:
    return f"""<html><body><article><h1>Weeknote {n}</h1>
    <p>A busy week for the network: two new reports, a video pilot and a lot to share.</p>
    <h2>{video_heading}</h2>
    <p><a href="https://clinic.example/video-{n}">Video clinic notes {n}</a> from the team.</p>
    <p><a href="https://shared.example/guide">The consent guide</a>, updated.</p>
    <h2>Inequalities</h2>
    <p><a href="https://data.example/gap-{n}">Deprivation data {n}</a> for our wards.</p>
    </article></body></html>""".encode()


def stored(tmp_path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(tmp_path / "state.db") as db:
        return db.execute(
            "SELECT canonical_url, theme, issue, origin FROM theme_examples ORDER BY canonical_url"
        ).fetchall()


def test_learn_from_files_then_show(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "w1.html").write_bytes(page(1))
    (tmp_path / "w2.html").write_bytes(page(2, video_heading="Inequalities"))
    result = cli("themes", "learn", "-c", config, tmp_path / "w1.html", tmp_path / "w2.html")
    assert result.exit_code == 0, result.output
    assert "w1.html: 3 examples" in result.output
    assert "+4    Health inequalities" in result.output
    assert "2 pages: 6 examples stored" in result.output
    rows = stored(tmp_path)
    # The guide was filed under another heading in the later page: its label won.
    guide = [row for row in rows if row[0] == "https://shared.example/guide"]
    assert guide == [
        (
            "https://shared.example/guide",
            "Health inequalities",
            (tmp_path / "w2.html").as_uri(),
            "learn",
        )
    ]
    shown = cli("themes", "show", "-c", config, "--json")
    data = json.loads(shown.output)
    assert data["themes"][0] == {
        "name": "Video consultations",
        "aliases": ["Remote consultations"],
        "keywords": ["telehealth"],
        "examples": 1,
    }
    assert data["themes"][1]["examples"] == 4  # the guide counts once, under its new label
    table = cli("themes", "show", "-c", config).output
    assert "Health inequalities  (4 examples)" in table and "keywords: telehealth" in table


def test_learn_reports_unreadable_pages_and_exits_3(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "w1.html").write_bytes(page(1))
    (tmp_path / "empty.html").write_text("<p>nothing here</p>", encoding="utf-8")
    result = cli(
        "themes",
        "learn",
        "-c",
        config,
        tmp_path / "w1.html",
        tmp_path / "missing.html",
        tmp_path / "empty.html",
    )
    assert result.exit_code == 3, result.output
    assert "missing.html: cannot read" in result.output
    assert "empty.html: " in result.output and "1 pages" not in result.output
    only_bad = cli("themes", "learn", "-c", config, tmp_path / "missing.html")
    assert only_bad.exit_code == 1


def test_learn_says_why_a_page_taught_nothing_and_reads_sub_headings(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "nested.html").write_bytes(
        b"<html><body><article><h1>Weeknote 5</h1><p>A longer opening paragraph for the week "
        b"that has passed.</p><h2>Community news</h2><h3>Remote consultations</h3>"
        b'<p><a href="https://clinic.example/v">Video clinic notes</a> from the team.</p>'
        b'<h2>Jobs</h2><p><a href="https://jobs.example/1">A post</a> is open.</p>'
        b"</article></body></html>"
    )
    flat = cli("themes", "learn", "-c", config, "--depth", "0", tmp_path / "nested.html")
    assert flat.exit_code == 1
    assert "no heading over its links names a theme ('Community news', 'Jobs')" in flat.output
    nested = cli("themes", "learn", "-c", config, tmp_path / "nested.html")
    assert nested.exit_code == 0 and "nested.html: 1 examples" in nested.output
    assert stored(tmp_path)[0][:2] == ("https://clinic.example/v", "Video consultations")


def test_learn_needs_something_to_learn_from(tmp_path):
    result = cli("themes", "learn", "-c", write_config(tmp_path))
    assert result.exit_code == 1
    assert "Error: nothing to learn from" in result.output


def test_backfill_learns_the_newest_matching_posts_politely(server, tmp_path):
    posts = [
        ("Our new website", server.url("/news"), NOW - timedelta(hours=2)),
        ("Weeknote 3", server.url("/weeknote-3"), NOW - timedelta(days=1)),
        ("Weeknote 2", server.url("/weeknote-2"), NOW - timedelta(days=8)),
        ("Weeknote 1", server.url("/weeknote-1"), NOW - timedelta(days=15)),
    ]
    server.routes["/blog.xml"] = Reply(200, blog_feed(posts))
    server.routes["/weeknote-3"] = Reply(200, page(3, video_heading="Inequalities"))
    server.routes["/weeknote-2"] = Reply(200, page(2))
    weeknote = f"weeknote:\n  feed: {server.url('/blog.xml')}\n  title_pattern: weeknote\n"
    config = write_config(tmp_path, weeknote)
    result = cli("themes", "learn", "-c", config, "--backfill", "2")
    assert result.exit_code == 0, result.output
    assert "2 pages: 6 examples stored" in result.output
    assert not server.hits("/news") and not server.hits("/weeknote-1")
    assert all("digest/" in h["user-agent"] for h in server.hits("/weeknote-2"))
    guide = [row for row in stored(tmp_path) if row[0] == "https://shared.example/guide"]
    # Learnt oldest first, so the newest weeknote's label is the one kept.
    assert guide[0][1:3] == ("Health inequalities", server.url("/weeknote-3"))


def test_backfill_needs_a_weeknote_feed(tmp_path):
    result = cli("themes", "learn", "-c", write_config(tmp_path), "--backfill", "3")
    assert result.exit_code == 1
    assert "no weeknote.feed" in result.output


def test_evaluate_prints_scores_and_confusion(tmp_path):
    config = write_config(tmp_path)
    for n in range(1, 4):
        (tmp_path / f"w{n}.html").write_bytes(page(n))
    cli("themes", "learn", "-c", config, *(tmp_path / f"w{n}.html" for n in range(1, 4)))
    result = cli("themes", "evaluate", "-c", config, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["examples"] == 7 and data["method"] == "svm"
    assert [theme["theme"] for theme in data["themes"]] == [
        "Video consultations",
        "Health inequalities",
    ]
    table = cli("themes", "evaluate", "-c", config, "--method", "nb").output
    assert "7 links (nb, threshold" in table and "labelled as / classified as" in table


def learnt(tmp_path, pages: int) -> str:
    config = write_config(tmp_path)
    for n in range(1, pages + 1):
        (tmp_path / f"w{n}.html").write_bytes(page(n))
    cli("themes", "learn", "-c", config, *(tmp_path / f"w{n}.html" for n in range(1, pages + 1)))
    return config


def test_evaluate_keeps_the_calibrated_model_for_builds(tmp_path):
    config = learnt(tmp_path, 4)
    result = cli("themes", "evaluate", "-c", config)
    assert result.exit_code == 0, result.output
    assert "leaves at most 5% of the held-out links to the catch-all" in result.output
    assert "kept with the model builds use" in result.output
    with sqlite3.connect(tmp_path / "state.db") as db:
        threshold, held_out, trained = db.execute(
            "SELECT threshold, held_out, trained FROM theme_models"
        ).fetchone()
    assert held_out == 9 and trained == NOW.isoformat()
    assert f"threshold {threshold:.2f}:" in result.output
    held_back = cli("themes", "evaluate", "-c", config, "--last", "1", "--json")
    data = json.loads(held_back.output)
    assert data["examples"] == 2 and data["kept"] is False  # w4: its guide link is w1's


def test_evaluate_beside_the_baselines(tmp_path):
    config = learnt(tmp_path, 4)
    result = cli("themes", "evaluate", "-c", config, "--baseline", "--json")
    assert result.exit_code == 0, result.output
    baselines = json.loads(result.output)["baselines"]
    assert [b["name"] for b in baselines] == [
        "TF-IDF + logistic regression",
        "TF-IDF + linear SVM",
    ]
    assert all(b["links"] == 9 and 0 <= b["accuracy"] <= 1 for b in baselines)
    table = cli("themes", "evaluate", "-c", config, "--baseline").output
    assert "TF-IDF + logistic regression: " in table and "points)" in table


def test_forget_removes_examples_by_url_or_page(tmp_path):
    config = learnt(tmp_path, 2)
    one = cli("themes", "forget", "-c", config, "https://clinic.example/video-1?utm_source=x")
    assert one.exit_code == 0 and "1 examples forgotten" in one.output
    by_page = cli("themes", "forget", "-c", config, "--page", tmp_path / "w2.html")
    assert by_page.exit_code == 0 and "2 examples forgotten" in by_page.output  # guide: w1's
    assert {url for url, *_ in stored(tmp_path)} == {
        "https://data.example/gap-1",
        "https://shared.example/guide",
    }
    assert cli("themes", "forget", "-c", config, "https://none.example/").exit_code == 1
    nothing = cli("themes", "forget", "-c", config)
    assert nothing.exit_code == 1 and "Hint: name example URLs" in nothing.output


def test_evaluate_without_examples_says_what_to_do(tmp_path):
    config = write_config(tmp_path)
    cli("themes", "learn", "-c", config, tmp_path / "missing.html")
    result = cli("themes", "evaluate", "-c", config)
    assert result.exit_code == 1
    assert "Error: no labelled examples stored" in result.output
    assert "Hint: run digest themes learn first" in result.output
