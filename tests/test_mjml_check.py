"""The MJML checks official MJML's strict mode would make and mjml-python does not: unknown
attributes, values of the wrong type and tags in the wrong place, each named by the template
file and line that wrote it."""

from __future__ import annotations

import pytest

from digest.core.errors import RenderError
from digest.email.mjml_check import mjml_problems
from tests.samples import cli, config_text, rss
from tests.test_render import FOOTER, custom, render

THEME = "partials/theme.mjml.j2"


def section(body: str) -> str:
    return f"<mj-section>\n  <mj-column>\n{body}  </mj-column>\n</mj-section>\n"


def problems_of(tmp_path, name: str, text: str) -> str:
    with pytest.raises(RenderError) as raised:
        render(folders=custom(tmp_path, name, text))
    return raised.value.message


def test_the_shipped_templates_have_no_problem():
    assert mjml_problems(render().mjml) == []


@pytest.mark.parametrize(
    "body, line, message",
    [
        (
            '    <mj-text colour="#1f1f1f">x</mj-text>\n',
            3,
            "<mj-text> has no attribute colour= (did you mean color?)",
        ),
        ('\n    <mj-text padding="12">x</mj-text>\n', 4, "<mj-text padding='12'>: expected 1 to 4"),
        ('    <mj-text align="middle">x</mj-text>\n', 3, "expected one of left, right, center"),
        ('    <mj-text color="#12">x</mj-text>\n', 3, "<mj-text color='#12'>: expected a colour"),
        (
            '    <mj-image src="https://x.example/a.png" fluid-on-mobile="yes" />\n',
            3,
            "fluid-on-mobile='yes'>: expected true or false",
        ),
        ('    <mj-divider border-width="2em" />\n', 3, "expected a number with px"),
        ('    <mj-button href="https://x.example" align="justify">Go</mj-button>\n', 3, "center"),
        ('    <mj-table cellpadding="4px"><tr><td>x</td></tr></mj-table>\n', 3, "a whole number"),
    ],
    ids=["unknown", "unit", "align", "colour", "boolean", "px-only", "button-align", "integer"],
)
def test_attribute_problems_name_the_template_line(tmp_path, body, line, message):
    found = problems_of(tmp_path, FOOTER, section(body))
    assert f"{tmp_path / FOOTER}:{line}: " in found
    assert message in found.split(f"{tmp_path / FOOTER}:{line}: ", 1)[1]


@pytest.mark.parametrize(
    "text, line, message",
    [
        (
            "<mj-column>\n  <mj-text>x</mj-text>\n</mj-column>\n",
            1,
            "<mj-column> cannot be inside <mj-body> (expected inside <mj-section> or <mj-group>)",
        ),
        (
            "<mj-section>\n  <mj-text>x</mj-text>\n</mj-section>\n",
            2,
            "<mj-text> cannot be inside <mj-section> (expected inside <mj-column>",
        ),
        (
            "<mj-wrapper>\n  <mj-section><mj-column><mj-social>\n"
            '    <mj-navbar-link href="https://x.example">a</mj-navbar-link>\n'
            "  </mj-social></mj-column></mj-section>\n</mj-wrapper>\n",
            3,
            "<mj-navbar-link> cannot be inside <mj-social> (expected inside <mj-navbar>)",
        ),
        (
            "<mj-section><mj-group><mj-column>\n"
            '  <mj-spacer height="8px" /><mj-image src="https://x.example/a.png" />\n'
            "</mj-column></mj-group></mj-section>\n"
            "<mj-group><mj-column></mj-column></mj-group>\n",
            4,
            "<mj-group> cannot be inside <mj-body>",
        ),
    ],
    ids=["column-in-body", "text-in-section", "navbar-link-in-social", "group-in-body"],
)
def test_wrong_nesting_is_named_with_its_line(tmp_path, text, line, message):
    found = problems_of(tmp_path, FOOTER, text)
    assert f"{tmp_path / FOOTER}:{line}: {message}" in found
    assert found.count("cannot be inside") == 1


def test_a_partial_included_in_a_loop_is_named_once_per_rendering(tmp_path):
    text = section('    <mj-text font-size="large">{{ theme.name }}</mj-text>\n')
    found = problems_of(tmp_path, THEME, text)
    assert f"{tmp_path / THEME}:3: <mj-text font-size='large'>: expected a number" in found


def test_every_problem_is_reported_at_once(tmp_path):
    text = section('    <mj-text colour="red" align="middle">x</mj-text>\n') + (
        '<mj-column width="50"></mj-column>\n'
    )
    found = problems_of(tmp_path, FOOTER, text)
    assert "colour=" in found and "align='middle'" in found
    assert f"{tmp_path / FOOTER}:6: <mj-column> cannot be inside <mj-body>" in found
    assert f"{tmp_path / FOOTER}:6: <mj-column width='50'>" in found


def offsets_to_lines(mjml: str) -> list[tuple[int, str]]:
    return [(mjml.count("\n", 0, offset) + 1, text) for offset, text in mjml_problems(mjml)]


def test_head_children_and_mj_attributes_are_checked():
    mjml = (
        "<mjml>\n<mj-head>\n<mj-attributes>\n"
        '<mj-all font-family="Arial" padding="0" />\n'
        '<mj-class name="big" font-size="20px" colour="red" />\n'
        '<mj-text line-height="1.5" padding="0 24px" align="top" />\n'
        "</mj-attributes>\n"
        '<mj-breakpoint width="480" /><mj-title>T</mj-title><mj-preview>P</mj-preview>\n'
        '<mj-font name="Inter" href="https://fonts.example/inter.css" />\n'
        '<mj-style inline="inline">.a { color: red; }</mj-style>\n'
        "<mj-section></mj-section>\n"
        "</mj-head>\n<mj-body></mj-body>\n</mjml>\n"
    )
    assert offsets_to_lines(mjml) == [
        (5, "<mj-class> has no attribute colour= (did you mean color?)"),
        (6, "<mj-text align='top'>: expected one of left, right, center, justify"),
        (8, "<mj-breakpoint width='480'>: expected a number with px (like 12px)"),
        (11, "<mj-section> cannot be inside <mj-head> (expected inside <mj-body> or <mj-wrapper>)"),
    ]


def test_content_of_text_raw_and_table_is_not_read_as_mjml():
    mjml = (
        "<mjml><mj-body><mj-section><mj-column>\n"
        "<mj-text><p>a <mj-column> in prose</p><br></mj-text>\n"
        "<mj-raw><!-- <mj-section> --><div>x</div></mj-raw>\n"
        '<mj-social><mj-social-element name="x" href="https://x.example">X</mj-social-element>'
        "</mj-social>\n"
        '<mj-navbar><mj-navbar-link href="/a" padding="4px 8px">A</mj-navbar-link></mj-navbar>\n'
        "</mj-column></mj-section></mj-body></mjml>\n"
    )
    assert mjml_problems(mjml) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0", True),
        ("12px 0", True),
        ("1px 2px 3px 4px", True),
        ("1px 2px 3px 4px 5px", False),
        ("12", False),
        ("10%", True),
        ("-4px", False),
    ],
)
def test_padding_follows_mjml_unit_rules(value, expected):
    mjml = f'<mjml><mj-body><mj-section padding="{value}"></mj-section></mj-body></mjml>'
    assert (mjml_problems(mjml) == []) is expected


def test_letter_spacing_may_be_negative_and_line_height_unitless():
    attributes = 'letter-spacing="-1px" line-height="1.4" color="rgba(0, 0, 0, 0.5)"'
    mjml = f"<mjml><mj-body><mj-section><mj-column><mj-text {attributes}>x</mj-text>"
    assert mjml_problems(mjml + "</mj-column></mj-section></mj-body></mjml>") == []


@pytest.fixture
def site(tmp_path):
    """A feeds.yaml with one local feed of two items, read offline (no enrichment)."""
    (tmp_path / "feed.xml").write_bytes(rss(2))
    (tmp_path / "feeds.yaml").write_text(
        config_text([("Partner", "feed.xml")], extra="enrich:\n  enabled: false\n"),
        encoding="utf-8",
    )
    return tmp_path / "feeds.yaml"


def test_mjml_that_does_not_compile_is_still_written_for_the_hint(site, tmp_path):
    mine = tmp_path / "mine" / FOOTER
    mine.parent.mkdir(parents=True)
    mine.write_text(section("    <mj-text>1 < 2</mj-text>\n"), encoding="utf-8")
    result = cli("preview", "-c", site, "--templates", tmp_path / "mine")
    assert result.exit_code == 2, result.output
    assert "does not compile" in result.output and "issue.mjml" in result.output
    written = (tmp_path / "preview" / "issue.mjml").read_text(encoding="utf-8")
    assert "<mj-text>1 < 2</mj-text>" in written
    assert not (tmp_path / "preview" / "issue.html").exists()


def test_a_template_problem_writes_no_preview_file(site, tmp_path):
    mine = tmp_path / "mine" / FOOTER
    mine.parent.mkdir(parents=True)
    mine.write_text(section('    <mj-text colour="red">x</mj-text>\n'), encoding="utf-8")
    result = cli("preview", "-c", site, "--templates", tmp_path / "mine")
    assert (
        result.exit_code == 2 and f"{mine}:3: <mj-text> has no attribute colour=" in result.output
    )
    assert not (tmp_path / "preview").exists()
