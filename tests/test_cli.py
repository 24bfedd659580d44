import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from digest.cli import main
from digest.core.settings import settings
from digest.curation.overrides import IssueOverrides
from tests.samples import cli, rss
from tests.server import Reply

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def invoke(*args):
    return cli(*args)


def test_check_valid_and_invalid(make_config, tmp_path):
    path = make_config([("Partner", "https://partner.example/feed")])
    result = invoke("check", "-c", path)
    assert result.exit_code == 0 and "is valid: 2 themes, 1 feeds (1 enabled)" in result.output
    path.write_text(path.read_text().replace("title:", "titel:"))
    result = invoke("check", "-c", path)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0] == f"{path}:2: newsletter.titel: unknown key (did you mean 'title'?)"
    assert lines[-2] == f"Error: {path}: 2 problems"
    assert lines[-1].startswith("Hint: ")
    assert "Traceback" not in result.output


def test_missing_config_exits_2_with_hint(tmp_path):
    result = invoke("check", "-c", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "no such file" in result.output and "Hint: pass --config PATH" in result.output


def test_config_path_from_the_environment(make_config):
    path = make_config([])
    result = cli("check", env={"DIGEST_CONFIG": str(path)})
    assert result.exit_code == 0


def test_fetch_exit_codes_all_ok_some_failed_all_failed(server, make_config, tmp_path):
    server.routes["/ok"] = Reply(200, rss(2))
    ok, bad = server.url("/ok"), server.url("/missing")
    assert invoke("fetch", "-c", make_config([("Ok", ok)])).exit_code == 0
    assert invoke("fetch", "-c", make_config([("Ok", ok), ("Bad", bad)])).exit_code == 3
    assert invoke("fetch", "-c", make_config([("Bad", bad)])).exit_code == 1


def test_fetch_table_and_db_option(server, make_config, tmp_path):
    server.routes["/ok"] = Reply(200, rss(2))
    path = make_config([("Partner", server.url("/ok")), ("Gone", server.url("/missing"))])
    result = invoke("fetch", "-c", path, "--db", tmp_path / "other.db")
    header, ok_row, bad_row, summary = result.output.splitlines()
    assert header.split() == ["source", "status", "items", "new", "time", "error", "/", "note"]
    assert ok_row.split()[:4] == ["Partner", "new", "2", "2"]
    assert "HTTP 404 Not Found" in bad_row
    assert summary == "2 sources: 1 new, 1 error; 2 new items"
    assert (tmp_path / "other.db").exists() and not (tmp_path / "state.db").exists()


def test_fetch_json_has_rows_and_summary(server, make_config):
    server.routes["/ok"] = Reply(200, rss(2))
    result = invoke("fetch", "-c", make_config([("Partner", server.url("/ok"))]), "--json")
    data = json.loads(result.output)
    assert data["summary"]["new_items"] == 2 and data["summary"]["new"] == 1
    assert set(data["sources"][0]) >= {"name", "url", "status", "items", "new_items", "error"}


def test_the_readme_example_sends_to_the_outbox(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "examples/demo", demo, ignore=shutil.ignore_patterns("*.db*", "outbox"))
    config = demo / "feeds.yaml"
    preview = invoke("preview", "-c", config)
    assert preview.exit_code == 0 and "warning" not in preview.output, preview.output
    data = json.loads((demo / "preview" / "issue.json").read_text(encoding="utf-8"))
    assert data["intro"] and data["counts"]["from_weeknote"] > 20
    imported = invoke("subscribers", "import", demo / "subscribers.csv", "-c", config)
    assert imported.exit_code == 0, imported.output
    sent = invoke("send", "--publish", "-c", config)
    assert sent.exit_code == 0, sent.output
    assert "sent: 4 recipients in 1 batch" in sent.output
    assert len(list((demo / "outbox").glob("*.eml"))) == 4
    assert (demo / "site" / "feed.xml").exists()
    assert "already sent" in invoke("send", "-c", config).output


def test_the_example_issue_tells_each_story_once_and_no_pick_repeats_the_intro(tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "examples/demo", demo, ignore=shutil.ignore_patterns("*.db*", "outbox"))
    built = invoke("build", "-c", demo / "feeds.yaml", "--json")
    assert built.exit_code == 0, built.output
    issue = json.loads(built.output)
    items = [item for theme in issue["themes"] for item in (*theme["items"], *theme["more"])]
    # The guide and the templates: each linked by the weeknote and posted by the partner.
    for words in ("run charts", "templates"):
        assert len([i for i in items if words in i["title"].casefold()]) == 1, words
    picks = [item for item in items if item["lead"]]
    assert picks
    assert all(not p["blurb"] or p["blurb"][:60] not in issue["intro"] for p in picks)


def test_check_reads_the_overrides_file_too_with_its_lines(make_config):
    path = make_config([("Partner", "https://partner.example/feed")])
    overrides = path.parent / "overrides.yaml"
    overrides.write_text(
        "# the editor's\n2026-W48:\n  items:\n    - url: https://partner.example/a\n"
        "      titel: Better\n2026-W49:\n  subject: [not, one, line]\n",
        encoding="utf-8",
    )
    result = invoke("check", "-c", path)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{overrides}:5: 2026-W48.items[0].titel: unknown key (did you mean 'title'?)",
        f"{overrides}:7: 2026-W49.subject: expected text",
        f"Error: {overrides}: 2 problems",
        "Hint: fix the lines above and run `digest check`; every key is described in README.md",
    ]
    overrides.write_text("2026-W48:\n  subject: Fine\n", encoding="utf-8")
    result = invoke("check", "-c", path)
    assert result.exit_code == 0 and f"{overrides} is valid" in result.output


def test_python_dash_m_and_help():
    run = subprocess.run([sys.executable, "-m", "digest", "-h"], capture_output=True, text=True)
    assert run.returncode == 0 and "fetch" in run.stdout and "check" in run.stdout


def test_readme_documents_every_command_config_key_and_overrides_key():
    for command in main.commands:
        assert f"digest {command}" in README, command
    documented = set(re.findall(r"^\| `([\w.\[\]]+)` \|", README, re.MULTILINE))
    missing = {key for key, _ in settings()} - documented
    assert not missing, f"README lacks config keys: {sorted(missing)}"
    missing = {key for key, _ in settings(IssueOverrides)} - documented
    assert not missing, f"README lacks overrides keys: {sorted(missing)}"


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^    (python3 -m venv .*pytest.*)$", README, re.MULTILINE).group(1)
    assert command in ci


def test_db_path_from_the_environment(server, make_config, tmp_path):
    server.routes["/ok"] = Reply(200, rss(1))
    path = make_config([("Partner", server.url("/ok"))])
    env = {"DIGEST_DB": str(tmp_path / "env.db")}
    result = cli("fetch", "-c", path, env=env)
    assert result.exit_code == 0 and (tmp_path / "env.db").exists()


def test_a_file_that_cannot_be_written_is_one_error_line(make_config, tmp_path):
    path = make_config([])
    (tmp_path / "taken").write_text("a file where a folder should be")
    result = invoke("build", "-c", path, "--out", tmp_path / "taken" / "build")
    assert result.exit_code == 1 and "Traceback" not in result.output
    error, hint = result.output.splitlines()[-2:]
    assert error == f"Error: {tmp_path / 'taken' / 'build'}: Not a directory"
    assert hint == (
        "Hint: check that the disk has space and the folder is writable, then run the command again"
    )


def test_check_warns_when_no_unsubscribe_is_configured(make_config):
    bare = cli("check", "-c", make_config([("Partner", "https://partner.example/feed")]))
    assert bare.exit_code == 0
    assert "warning: no unsubscribe is configured" in bare.output
    extra = "email:\n  unsubscribe_url: https://community.example/unsubscribe\n"
    path = make_config([("Partner", "https://partner.example/feed")], extra=extra)
    configured = cli("check", "-c", path)
    assert configured.exit_code == 0 and "warning" not in configured.output
