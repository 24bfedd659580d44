"""The errors digest raises. Each carries a one-line message and a hint saying what to do.

DigestError         base; `cli/base.py` turns it into "Error: …" / "Hint: …" and an exit code
├── ConfigError     feeds.yaml is missing, unreadable or invalid (exit 2); lists every problem
├── StateError      the SQLite state file cannot be opened, is too new, or is not a digest db
├── RenderError     a template is broken or produced an unsafe or invalid email (exit 2)
└── SourceError     one source failed; reported in its row, never stops the other sources
    ├── FetchError  network failure, HTTP status, size cap, timeout, redirect loop
    └── FeedError   the body arrived but is not a usable feed
"""

from __future__ import annotations

from digest.core.text import fold, plural


class DigestError(Exception):
    """An expected failure with a human sentence and a hint, each on one line. Messages quote
    what servers and files said; control characters in that text (a terminal escape sequence
    from a hostile feed, say) are folded away here, so neither the terminal nor the state
    database, where a source's last error is kept, ever receives them."""

    exit_code = 1
    hint = ""

    def __init__(self, message: str, hint: str | None = None):
        message = fold(message)
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = fold(hint)


class ConfigError(DigestError):
    exit_code = 2
    hint = "fix the lines above and run `digest check`; every key is described in README.md"

    def __init__(self, path: str, problems: list[str], hint: str | None = None):
        count = plural(len(problems), "problem")
        super().__init__(f"{path}: {count}", hint)
        self.problems = problems


class StateError(DigestError):
    hint = "check the --db path (or DIGEST_DB); move a damaged file aside and run again"


class RenderError(DigestError):
    exit_code = 2
    hint = "fix the template named above; nothing is sent while the email does not render"


class SourceError(DigestError):
    """A failure of one source, named in its report row."""


class FetchError(SourceError):
    pass


class FeedError(SourceError):
    pass
