"""What `digest doctor` asks SendGrid: does the key work, what may it do, is the sender allowed
to send, does the unsubscribe group exist.

A plain send needs one permission (scope) of the key: mail.send. A key made with only that is
ready: the sender and group checks that its key may not read are skipped, saying which scope
would let them run (SendGrid refuses a send from an unverified sender, or to a group that does
not exist, with an error digest send reports), and each other feature's line names the scopes it
lacks. The scope names are those of SendGrid's list of API key permissions.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator, Mapping

from digest.core.errors import DigestError
from digest.core.settings import Config
from digest.core.text import fold
from digest.delivery.transports import ApiError
from digest.ops.checklist import Check, not_run

REACHABLE, SEND = "SendGrid reachable", "key scope mail.send"
SENDER, GROUP = "sender verified", "unsubscribe group"
SENDERS_SCOPE = "sender_verification_eligible"  # GET /v3/verified_senders
DOMAINS_SCOPE = "whitelabel.read"  # GET /v3/whitelabel/domains
GROUPS_SCOPE = "asm.groups.read"  # GET /v3/asm/groups/{id}
PAGE = 100  # senders and domains asked for at once
SETTINGS_HINT = "grant them to the key in SendGrid (Settings → API Keys)"


def feature_scopes(config: Config) -> list[tuple[str, tuple[str, ...]]]:
    """(what, the scopes it needs) for each feature beyond a plain send."""
    sync = ["suppression.unsubscribes.read", "suppression.bounces.read"]
    sync += ["suppression.spam_reports.read"]
    if config.email.unsubscribe_group:
        sync.insert(0, "asm.groups.suppressions.read")
    return [
        (
            "send --schedule and cancel",
            (
                "mail.batch.create",
                "user.scheduled_sends.read",
                "user.scheduled_sends.create",
                "user.scheduled_sends.update",
            ),
        ),
        ("stats", ("categories.stats.read",)),
        ("subscribers sync", tuple(sync)),
    ]


def sendgrid_checks(
    config: Config, environ: Mapping[str, str], connect: Callable[[Config], object]
) -> list[Check]:
    """The key's variable, then what SendGrid says of the key, the sender and the group, and
    what the key lets each other feature do."""
    if config.sending.transport == "outbox":
        why = "skipped: sending.transport is outbox (messages go to a folder; nothing is emailed)"
        return [Check("SendGrid", True, why, skipped=True)]
    variable = config.sending.key_env
    names = [
        REACHABLE,
        SEND,
        SENDER,
        GROUP,
        *(f"scopes for {f}" for f, _ in feature_scopes(config)),
    ]
    if not environ.get(variable, "").strip():
        hint = f"export {variable} with a SendGrid API key (sending.key_env names the variable)"
        return [
            Check(f"{variable} is set", False, hint),
            *(not_run(name, f"no API key in {variable}") for name in names),
        ]
    checks = [Check(f"{variable} is set", True, "the key is not shown")]
    api = connect(config)
    try:
        answer = api.get_json("scopes", {})
    except DigestError as exc:
        checks.append(Check(REACHABLE, False, f"{exc.message}; {exc.hint}"))
        return checks + [not_run(name, "SendGrid did not answer") for name in names[1:]]
    checks.append(Check(REACHABLE, True, f"{getattr(api, 'host', 'SendGrid')} answered"))
    scopes = answer.get("scopes") if isinstance(answer, dict) else None
    granted = {s for s in scopes if isinstance(s, str)} if isinstance(scopes, list) else set()
    send_hint = (
        f"the key in {variable} cannot send mail: create one with the Mail Send permission "
        "(Settings → API Keys)"
    )
    checks.append(
        Check(SEND, "mail.send" in granted, "granted" if "mail.send" in granted else send_hint)
    )
    checks += [sender_check(config, api, granted), group_check(config, api, granted)]
    return checks + [scope_check(what, needed, granted) for what, needed in feature_scopes(config)]


def scope_check(what: str, needed: tuple[str, ...], granted: set[str]) -> Check:
    """Whether the key may do `what`; a lack is not a failure, since a plain send does not
    need it: the line names what is missing."""
    missing = [scope for scope in needed if scope not in granted]
    if not missing:
        return Check(f"scopes for {what}", True, "granted: " + ", ".join(needed))
    hint = f"missing {', '.join(missing)}: digest {what} would be refused; {SETTINGS_HINT}"
    return Check(f"scopes for {what}", True, hint, skipped=True)


def sender_check(config: Config, api, granted: set[str]) -> Check:
    """The From address is a verified single sender, or its domain is authenticated: each
    looked up when the key may read it, through every page."""
    address = email.utils.parseaddr(config.newsletter.sender)[1].lower()
    domain = address.rpartition("@")[2]
    looked = []
    try:
        if SENDERS_SCOPE in granted:
            looked.append("verified senders")
            if any(_verified(sender, address) for sender in _senders(api)):
                return Check(SENDER, True, f"{address} is a verified sender")
        if DOMAINS_SCOPE in granted:
            looked.append("authenticated domains")
            if any(_covers(entry, domain) for entry in _domains(api)):
                return Check(SENDER, True, f"{domain} is an authenticated domain")
    except DigestError as exc:
        return Check(SENDER, False, f"{exc.message}; {exc.hint}")
    if not looked:
        return Check(
            SENDER,
            True,
            f"not checked: the key may read neither verified senders ({SENDERS_SCOPE}) nor "
            f"authenticated domains ({DOMAINS_SCOPE}); SendGrid refuses mail from an "
            "unverified sender, which digest send --test shows",
            skipped=True,
        )
    return Check(
        SENDER,
        False,
        f"{address} is not a verified sender and {domain} is not an authenticated domain "
        f"(looked up: {' and '.join(looked)}): verify one in SendGrid (Settings → Sender "
        "Authentication)",
    )


def _senders(api) -> Iterator[dict]:
    """Every verified sender, page by page: each page starts after the last id seen."""
    params: dict[str, int] = {"limit": PAGE}
    while True:
        answer = api.get_json("verified_senders", params)
        page = answer.get("results") if isinstance(answer, dict) else None
        page = [s for s in page if isinstance(s, dict)] if isinstance(page, list) else []
        yield from page
        ids = [s["id"] for s in page if isinstance(s.get("id"), int)]
        if len(page) < PAGE or not ids:
            return
        params = {"limit": PAGE, "lastSeenID": max(ids)}


def _domains(api) -> Iterator[dict]:
    offset = 0
    while True:
        page = api.get_json("whitelabel/domains", {"limit": PAGE, "offset": offset})
        page = [d for d in page if isinstance(d, dict)] if isinstance(page, list) else []
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def _verified(sender: dict, address: str) -> bool:
    return sender.get("verified") is True and str(sender.get("from_email", "")).lower() == address


def _covers(entry: dict, domain: str) -> bool:
    authenticated = str(entry.get("domain", "")).lower()
    valid = entry.get("valid") is True
    return (
        valid
        and bool(authenticated)
        and (domain == authenticated or domain.endswith("." + authenticated))
    )


def group_check(config: Config, api, granted: set[str]) -> Check:
    group = config.email.unsubscribe_group
    if group is None:
        why = "skipped: no email.unsubscribe_group (the unsubscribe link is your own)"
        return Check(GROUP, True, why, skipped=True)
    if GROUPS_SCOPE not in granted:
        return Check(
            GROUP,
            True,
            f"not checked: the key may not read unsubscribe groups ({GROUPS_SCOPE}); SendGrid "
            "refuses a send to a group that does not exist",
            skipped=True,
        )
    try:
        found = api.get_json(f"asm/groups/{group}", {})
    except ApiError as exc:
        if exc.status == 404:
            return Check(
                GROUP,
                False,
                f"group {group} does not exist: create it in SendGrid (Suppressions → "
                "Unsubscribe Groups) or fix email.unsubscribe_group",
            )
        return Check(GROUP, False, f"group {group}: {exc.message}; {exc.hint}")
    title = fold(str(found.get("name") or "")) if isinstance(found, dict) else ""
    return Check(GROUP, True, f"group {group}" + (f" ({title})" if title else ""))
