"""The command line package's shape: no module of digest/cli/ imports a module that imports it,
family modules take what they share from `digest.cli.base`, never from the package, and every
registered command is defined inside the package."""

import ast
import subprocess
import sys
from pathlib import Path

import click

import digest.cli
from digest.cli import main

PACKAGE = Path(digest.cli.__file__).parent


def module_name(path: Path) -> str:
    return "digest.cli" if path.stem == "__init__" else f"digest.cli.{path.stem}"


MODULES = {module_name(path): path for path in sorted(PACKAGE.glob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every module an import statement anywhere in the file names, including those inside
    functions; `from digest.cli import x` names the submodule digest.cli.x when there is one."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path.name}: use absolute imports")
    return names


def import_graph() -> dict[str, set[str]]:
    """Which modules of the package each module of the package imports."""
    return {name: imported_names(path) & MODULES.keys() for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A path that comes back to where it started, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        for target in sorted(graph[name]):
            if found := visit(target, [*path, name]):
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        if found := visit(name, []):
            return found
    return None


def all_commands(group: click.Group, prefix: str = "digest"):
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix} {name}")


def test_the_package_has_a_base_and_family_modules():
    assert {"digest.cli", "digest.cli.base"} < MODULES.keys()
    assert len(MODULES) > 3


def test_no_module_of_the_package_imports_one_that_imports_it():
    graph = import_graph()
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_family_modules_import_the_base_not_the_package_or_each_other():
    for name, targets in import_graph().items():
        if name == "digest.cli":
            continue
        allowed = set() if name == "digest.cli.base" else {"digest.cli.base"}
        assert targets <= allowed, f"{name} imports {sorted(targets - allowed)}"
        assert "digest.cli" not in imported_names(MODULES[name]), name


def test_the_cycle_check_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_every_registered_command_lives_in_the_package():
    commands = dict(all_commands(main))
    assert "digest send" in commands and "digest subscribers add" in commands
    for name, command in commands.items():
        assert command.callback.__module__ in MODULES, (name, command.callback.__module__)
        assert command.callback.__module__ != "digest.cli", name


# What a command does not need, it does not import: every command pays for what `digest
# fetch` loads, and a warm fetch is mostly start-up.
NOT_FOR_FETCHING = (
    "digest.curation.curate",  # the build's stages: stemmer, classifier, tidy rules
    "digest.curation.classify",
    "snowballstemmer",
    "digest.weeknote.extract",
    "bs4",
    "email_validator",  # the subscriber commands'
    "httpx._main",  # httpx's own command line, with rich and pygments
    "pygments",
    "rich",  # the progress bar, on a terminal only
)
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>A</title>
<link>https://a.example/</link><item><title>One</title><link>https://a.example/1</link>
<pubDate>Mon, 23 Nov 2026 09:00:00 GMT</pubDate></item></channel></rss>"""


def imported_after(command: list[str], config, names: tuple[str, ...]) -> list[str]:
    """Run `digest COMMAND -c CONFIG` in a fresh interpreter: its output, its exit status and
    which of `names` it had imported, as lines."""
    code = (
        "import sys\nfrom digest.cli import main\n"
        f"try:\n    main({command!r} + ['-c', sys.argv[1]])\nexcept SystemExit as exit:\n"
        "    print('exit', exit.code)\n"
        f"print(*[name for name in {names!r} if sys.modules.get(name)])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(config)], capture_output=True, text=True, check=True
    )
    return run.stdout.splitlines()


def test_digest_fetch_imports_nothing_it_does_not_need(make_config, tmp_path):
    (tmp_path / "a.xml").write_text(FEED, encoding="utf-8")
    lines = imported_after(["fetch"], make_config([("A", "a.xml")]), NOT_FOR_FETCHING)
    assert "1 sources: 1 new; 1 new items" in lines, lines
    assert lines[-2:] == ["exit 0", ""], lines


def test_a_build_without_a_weeknote_does_not_load_the_html_parser(make_config, tmp_path):
    (tmp_path / "a.xml").write_text(FEED, encoding="utf-8")
    config = make_config([("A", "a.xml")])
    names = ("digest.curation.curate", "bs4", "digest.weeknote.extract")
    lines = imported_after(["build", "--no-enrich"], config, names)
    assert lines[-1] == "digest.curation.curate", lines  # it built, without them
