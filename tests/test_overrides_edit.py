"""Changes the desk makes to overrides.yaml: the file the editor wrote stays as written, comments
and all, but for the change; what it writes reads back as the overrides meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.core.errors import ConfigError
from digest.curation.overrides import IssueOverrides, ItemOverride, load_overrides
from digest.curation.overrides_edit import OverridesEditError, OverridesEditor
from tests.test_overrides import CONFIG

WRITTEN = """\
# The editor's overrides
2026-W47:
  intro: Last week.   # kept as it was
# This week, below
2026-W48:
  # the subject first
  subject: "Quoted, as written"
  theme_order: [Video consultations]
  items:
    - url: https://partner.example/news/a   # the report
      title: A title
    # the old news
    - url: https://partner.example/news/b
      drop: true
# next week
2026-W49:
  intro: Later.
"""


def editor(tmp_path: Path, text: str = WRITTEN) -> OverridesEditor:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return OverridesEditor(path)


def test_nothing_changed_is_the_file_as_written(tmp_path):
    assert editor(tmp_path).text() == WRITTEN


def test_a_new_key_goes_where_the_schema_puts_it_and_comments_stay_in_place(tmp_path):
    edit = editor(tmp_path)
    edit.set_issue("2026-W48", "preheader", "Two reports")
    edit.set_item("2026-W48", "https://PARTNER.example/news/a/?utm_source=x", "order", 2)
    edit.set_item("2026-W48", "https://partner.example/news/c", "lead", True)
    assert edit.text() == WRITTEN.replace(
        '  subject: "Quoted, as written"\n',
        '  subject: "Quoted, as written"\n  preheader: Two reports\n',
    ).replace(
        "      drop: true\n# next week\n",
        "      drop: true\n    - url: https://partner.example/news/c\n      lead: true\n"
        "# next week\n",
    ).replace("      title: A title\n", "      title: A title\n      order: 2\n")


def test_taking_keys_away_keeps_the_comment_lines_and_drops_emptied_entries(tmp_path):
    edit = editor(tmp_path)
    edit.set_item("2026-W48", "https://partner.example/news/b", "drop", None)
    edit.set_issue("2026-W48", "theme_order", None)
    assert edit.text() == WRITTEN.replace(
        "    # the old news\n    - url: https://partner.example/news/b\n      drop: true\n",
        "    # the old news\n",
    ).replace("  theme_order: [Video consultations]\n", "")
    for key in ("subject", "items"):
        edit.set_issue("2026-W48", key, None)
    text = edit.text()
    assert "2026-W48" not in text and "# the subject first" in text and "# next week" in text
    assert text.endswith("# next week\n2026-W49:\n  intro: Later.\n")


def test_what_it_writes_reads_back_as_meant(tmp_path):
    edit = editor(tmp_path, "")
    edit.set_issue("2026-W48", "intro", "Two lines:\nthe second.")
    edit.set_issue("2026-W48", "subject", "Gaps: a report # not a comment")
    edit.set_item("2026-W48", "https://partner.example/news/a", "blurb", "")
    edit.set_item("2026-W48", "https://partner.example/news/a", "lead", False)
    edit.path.write_text(edit.text(), encoding="utf-8")
    assert load_overrides(edit.path, "2026-W48", CONFIG) == IssueOverrides(
        subject="Gaps: a report # not a comment",
        intro="Two lines:\nthe second.",
        items=(ItemOverride("https://partner.example/news/a", blurb="", lead=False),),
    )
    assert "intro: |-\n    Two lines:\n    the second.\n" in edit.text()


def test_an_issue_with_nothing_under_it_takes_keys(tmp_path):
    edit = editor(tmp_path, "# soon\n2026-W48:\n")
    edit.set_issue("2026-W48", "subject", "Now")
    assert edit.text() == "# soon\n2026-W48:\n  subject: Now\n"


def test_a_file_it_cannot_read_is_left_alone_with_its_line(tmp_path):
    with pytest.raises(ConfigError, match="1 problem") as caught:
        editor(tmp_path, "2026-W48:\n  items:\n    - url: [\n")
    assert caught.value.problems[0].endswith(
        "overrides.yaml:3: a [ or { on this line or above is never closed "
        "(expected a closing ] or })"
    )
    with pytest.raises(OverridesEditError, match="not a mapping of issue ids"):
        editor(tmp_path, "- 2026-W48\n")
