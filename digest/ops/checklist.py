"""The checklist `digest doctor` prints: each check passed, failed or skipped, with a hint."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    hint: str  # on a pass, what was found; on a failure, what to do
    skipped: bool = False  # does not apply to this config (counts as ok)


def not_run(name: str, why: str) -> Check:
    return Check(name, False, f"not checked: {why}")


def ready(checks: list[Check]) -> bool:
    return all(check.ok for check in checks)


def as_json(checks: list[Check]) -> dict:
    return {"ready": ready(checks), "checks": [asdict(check) for check in checks]}


def lines(checks: list[Check], unicode: bool) -> list[str]:
    """One line per check: a mark, the name and the hint; then the verdict."""
    marks = ("✓", "✗", "-") if unicode else ("ok  ", "FAIL", "skip")
    width = max(len(check.name) for check in checks)
    out = []
    for check in checks:
        mark = marks[2] if check.skipped else marks[0] if check.ok else marks[1]
        out.append(f"{mark} {check.name:<{width}}  {check.hint}")
    failed = sum(not check.ok for check in checks)
    out.append("ready to send" if not failed else f"not ready: {failed} checks failed")
    return out
