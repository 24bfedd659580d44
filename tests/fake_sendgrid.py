"""A fake SendGrid v3 API on 127.0.0.1 for tests and benchmarks.

`FakeSendGrid` is a context manager running a real HTTP server that the real `sendgrid` client
talks to (`SendGridAPIClient(fake.api_key, host=fake.host)`). It checks mail/send bodies the way
SendGrid does (every problem reported in one 400), records what it accepted, serves the scheduling
and suppression endpoints the digest uses, and injects faults on demand: 429, 5xx, dropped
connections before or after acceptance, and answers slower than the client's timeout.

The validation rules are written out here, so the test suite needs no schema file and no
third-party validator.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import json
import random
import re
import socket
import string
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_API_KEY = "SG.fake-key-for-tests.0123456789abcdef"
DEFAULT_SENDER = "digest@community.example"

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000  # to + cc + bcc over the whole request
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000  # merged message + personalization custom_args must stay below
MAX_SUBSTITUTIONS_BYTES = 10_000
MAX_GROUPS_TO_DISPLAY = 25
MAX_REPLY_TO_LIST = 1000
MAX_SCHEDULE_AHEAD = 72 * 3600
MAX_BODY_BYTES = 30 * 1024 * 1024
MAX_STOPPED_BATCHES = 100  # batches paused or cancelled at the same time
MAX_STATS_CATEGORIES = 10  # categories per /v3/categories/stats request
STATS_METRICS = (
    "blocks",
    "bounce_drops",
    "bounces",
    "clicks",
    "deferred",
    "delivered",
    "invalid_emails",
    "opens",
    "processed",
    "requests",
    "spam_report_drops",
    "spam_reports",
    "unique_clicks",
    "unique_opens",
    "unsubscribe_drops",
    "unsubscribes",
)
# What a full-access key is granted, in part (every scope an endpoint below needs): GET
# /v3/scopes lists these. The names are those of SendGrid's list of API key permissions; that
# sender_verification_eligible guards the verified senders is what keys made for the purpose
# carry, as the list itself does not say.
DEFAULT_SCOPES = (
    "mail.send",
    "mail.batch.create",
    "mail.batch.read",
    "user.scheduled_sends.create",
    "user.scheduled_sends.read",
    "user.scheduled_sends.update",
    "user.scheduled_sends.delete",
    "asm.groups.read",
    "asm.groups.suppressions.create",
    "asm.groups.suppressions.read",
    "asm.groups.suppressions.delete",
    "suppression.unsubscribes.read",
    "suppression.bounces.read",
    "suppression.spam_reports.read",
    "categories.stats.read",
    "sender_verification_eligible",
    "whitelabel.read",
)

# Fault kinds understood by the server. Any other 3-digit string of 400..599 answers with that
# status and an error body.
FAULT_KINDS = ("429", "500", "drop_before", "drop_after", "slow")
EXTRA_FAULT_KINDS = ("reset_before", "reset_after")
ACCEPTING_FAULTS = frozenset({"drop_after", "reset_after", "slow"})

TOP_LEVEL_KEYS = frozenset(
    {
        "personalizations",
        "from",
        "reply_to",
        "reply_to_list",
        "subject",
        "content",
        "attachments",
        "template_id",
        "sections",  # legacy section tags; still emitted by sendgrid-python's Mail helper
        "headers",
        "categories",
        "custom_args",
        "send_at",
        "batch_id",
        "asm",
        "ip_pool_name",
        "mail_settings",
        "tracking_settings",
    }
)
PERSONALIZATION_KEYS = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "from",
        "subject",
        "headers",
        "substitutions",
        "dynamic_template_data",
        "custom_args",
        "send_at",
    }
)
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
# setting name -> {property: expected type}; every setting may carry "enable" (a JSON boolean)
MAIL_SETTINGS: dict[str, dict[str, type]] = {
    "bypass_list_management": {},
    "bypass_spam_management": {},
    "bypass_bounce_management": {},
    "bypass_unsubscribe_management": {},
    "footer": {"text": str, "html": str},
    "sandbox_mode": {},
}
TRACKING_SETTINGS: dict[str, dict[str, type]] = {
    "click_tracking": {"enable_text": bool},
    "open_tracking": {"substitution_tag": str},
    "subscription_tracking": {"text": str, "html": str, "substitution_tag": str},
    "ganalytics": {
        name: str
        for name in ("utm_source", "utm_medium", "utm_term", "utm_content", "utm_campaign")
    },
}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    rf"@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}"
)
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without space and colon
_ID_ALPHABET = string.ascii_letters + string.digits
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")


def is_email(value: object) -> bool:
    """Syntactic check of a bare address (ASCII only, like SendGrid's `from`)."""
    return isinstance(value, str) and len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def error_body(message: str, field: str | None = None, help: Any = None) -> dict:
    return {"errors": [{"message": message, "field": field, "help": help}]}


@dataclass
class Accepted:
    """One mail/send request the fake accepted (202, or dropped/slowed after acceptance)."""

    message_id: str
    body: dict
    time: float
    fault: str | None = None  # "drop_after", "reset_after" or "slow": the client saw no 202


@dataclass
class RequestRecord:
    """Every request the fake saw. `status` is None when the connection was dropped unanswered.
    `body` is the decoded JSON, the raw bytes if it was not JSON, or None when empty/too large."""

    method: str
    path: str
    status: int | None
    headers: dict[str, str]  # lower-cased names, Authorization removed
    body: Any
    fault: str | None = None
    query: dict[str, list[str]] = field(default_factory=dict)


class FakeSendGrid:
    """A fake SendGrid v3 API. Use as `with FakeSendGrid() as fake:`; everything public may be
    read or changed while it runs (the handler threads take `self.lock` for shared state)."""

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        verified_senders: Iterable[str] = (DEFAULT_SENDER,),
        asm_groups: Iterable[int] = (42,),
        now: Callable[[], float] = time.time,
        latency: float = 0.0,
        slow_seconds: float = 2.0,
        faults: Callable[[int, dict], str | None] | None = None,
        seed: int = 0,
    ):
        self.api_key = api_key
        self.verified_senders: set[str] = set(verified_senders)
        self.asm_groups: set[int] = set(asm_groups)
        # account checks, set by tests
        self.scopes: list[str] = list(DEFAULT_SCOPES)
        self.unverified_senders: set[str] = set()  # created, verification mail not clicked
        self.authenticated_domains: dict[str, bool] = {}  # domain -> DNS records valid
        self.category_stats: dict[tuple[str, str], dict[str, int]] = {}  # (category, day)
        self.api_faults: dict[str, int] = {}  # path -> status answered instead (429, 500, …)
        self.raw_answers: dict[str, bytes] = {}  # path -> a 200 with this body (not JSON, say)
        self.group_names: dict[int, str] = {}  # group id -> its name, when not "Weekly digest"
        self.ip_pools: set[str] = set()
        self.now = now
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.faults = faults
        self.max_body_bytes = MAX_BODY_BYTES
        # Same address in two personalizations of one request: SendGrid's docs are ambiguous.
        self.reject_repeated_recipients = False
        # 429 details
        self.rate_limit = 600
        self.retry_after: int | None = None  # SendGrid doesn't document Retry-After; opt in
        # suppression data, set by tests
        self.group_suppressions: dict[int, list[str]] = {}
        self.unsubscribes: list[dict] = []
        self.bounces: list[dict] = []
        self.spam_reports: list[dict] = []
        self.max_page_size = 500  # limit above this is clamped; no limit → one page this size
        self.default_page_size = 500  # of the senders and domains, when no limit is given
        # scheduling state
        self.batches: set[str] = set()
        self.scheduled_sends: dict[str, str] = {}  # batch_id -> "pause" | "cancel"
        # logs
        self.accepted: list[Accepted] = []
        self.requests: list[RequestRecord] = []
        self.injected: list[tuple[int, str]] = []  # (n, fault kind) actually applied
        self.mail_send_count = 0  # POST /v3/mail/send requests seen, whatever the outcome
        self.lock = threading.RLock()
        self._validated = 0  # n for the fault hook
        self._ids = random.Random(seed)
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # wakes handlers sleeping for latency or slow faults
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def port(self) -> int:
        return self._httpd.server_port

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- inspection --------------------------------------------------------------------------

    def deliveries(self, *, skip_cancelled: bool = False) -> Counter[str]:
        """Recipient (lower-cased) → number of accepted messages (personalizations) that included
        it in to/cc/bcc. With skip_cancelled, messages whose batch_id is cancelled don't count."""
        counts: Counter[str] = Counter()
        with self.lock:
            accepted = list(self.accepted)
            cancelled = self.cancelled_batches
        for record in accepted:
            if skip_cancelled and record.body.get("batch_id") in cancelled:
                continue
            for personalization in record.body["personalizations"]:
                for kind in ("to", "cc", "bcc"):
                    for address in personalization.get(kind, ()):
                        counts[address["email"].lower()] += 1
        return counts

    @property
    def cancelled_batches(self) -> set[str]:
        with self.lock:
            return {b for b, status in self.scheduled_sends.items() if status == "cancel"}

    @property
    def paused_batches(self) -> set[str]:
        with self.lock:
            return {b for b, status in self.scheduled_sends.items() if status == "pause"}

    def requests_to(self, path: str, method: str | None = None) -> list[RequestRecord]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    def clear(self) -> None:
        """Forget logged requests and accepted mail (state such as batches stays)."""
        with self.lock:
            self.accepted.clear()
            self.requests.clear()
            self.injected.clear()
            self.mail_send_count = 0
            self._validated = 0

    # -- test data helpers -------------------------------------------------------------------

    def new_batch(self) -> str:
        """Create a batch id as POST /v3/mail/batch would."""
        with self.lock:
            batch_id = "".join(self._ids.choices(_ID_ALPHABET, k=32))
            self.batches.add(batch_id)
        return batch_id

    def suppress(self, group_id: int, *emails: str) -> None:
        with self.lock:
            self.group_suppressions.setdefault(group_id, []).extend(emails)

    def add_unsubscribe(self, email: str, created: int | None = None) -> None:
        with self.lock:
            self.unsubscribes.append({"email": email, "created": self._created(created)})

    def add_bounce(
        self,
        email: str,
        created: int | None = None,
        reason: str = "550 5.1.1 The email account that you tried to reach does not exist.",
        status: str = "5.1.1",
    ) -> None:
        with self.lock:
            self.bounces.append(
                {
                    "email": email,
                    "created": self._created(created),
                    "reason": reason,
                    "status": status,
                }
            )

    def add_spam_report(
        self, email: str, created: int | None = None, ip: str = "192.0.2.1"
    ) -> None:
        with self.lock:
            self.spam_reports.append({"email": email, "created": self._created(created), "ip": ip})

    def add_category_stats(self, category: str, day: str, **metrics: int) -> None:
        """SendGrid's counts for `category` on `day` (YYYY-MM-DD); unnamed metrics are 0."""
        unknown = set(metrics) - set(STATS_METRICS)
        if unknown:
            raise ValueError(f"unknown metrics {sorted(unknown)}")
        with self.lock:
            self.category_stats[(category, day)] = dict(metrics)

    def _created(self, created: int | None) -> int:
        return int(self.now()) if created is None else created

    # -- faults ------------------------------------------------------------------------------

    def fail_randomly(
        self, rate: float = 0.2, seed: int = 1, kinds: Iterable[str] = FAULT_KINDS
    ) -> Callable[[int, dict], str | None]:
        """Make about `rate` of validated mail/send requests fail with one of `kinds`. The choice
        for the n-th request depends only on (seed, n), so runs repeat exactly even when requests
        arrive concurrently."""
        kinds = tuple(kinds)
        for kind in kinds:
            _check_fault_kind(kind)

        def faults(n: int, body: dict) -> str | None:
            rng = random.Random(f"{seed}:{n}")
            return rng.choice(kinds) if rng.random() < rate else None

        self.faults = faults
        return faults

    def fail_next(self, *kinds: str | None) -> None:
        """The next len(kinds) validated mail/send requests get these faults (None = no fault);
        later ones none."""
        for kind in kinds:
            if kind is not None:
                _check_fault_kind(kind)
        with self.lock:
            start = self._validated
        script = dict(enumerate(kinds, start))
        self.faults = lambda n, body: script.get(n)

    # -- mail/send ---------------------------------------------------------------------------

    def validate(self, body: Any) -> list[dict]:
        """All problems SendGrid would report for this mail/send body (400), as error dicts."""
        return _Validator(self).run(body)

    def _next_fault(self, body: dict) -> str | None:
        with self.lock:
            n = self._validated
            self._validated += 1
            hook = self.faults
        kind = hook(n, body) if hook is not None else None
        if kind is not None:
            _check_fault_kind(kind)
            with self.lock:
                self.injected.append((n, kind))
        return kind

    def _accept(self, body: dict, fault: str | None) -> str:
        with self.lock:
            message_id = "".join(self._ids.choices(_ID_ALPHABET, k=22))
            self.accepted.append(Accepted(message_id, body, self.now(), fault))
        return message_id


def _check_fault_kind(kind: str) -> None:
    if kind in FAULT_KINDS or kind in EXTRA_FAULT_KINDS:
        return
    if kind.isdigit() and 400 <= int(kind) <= 599:
        return
    raise ValueError(f"unknown fault kind {kind!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        pass  # clients that time out or hang up are part of the tests


# -- validation ------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pairs_size(pairs: dict[str, str]) -> int:
    """Bytes of keys and values (UTF-8): the measure for the custom_args/substitutions limits."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in pairs.items())


class _Validator:
    def __init__(self, fake: FakeSendGrid):
        self.fake = fake
        self.errors: list[dict] = []

    def error(self, field: str | None, message: str) -> None:
        self.errors.append({"message": message, "field": field, "help": None})

    def run(self, body: Any) -> list[dict]:
        if not isinstance(body, dict):
            self.error(None, "The request body must be a JSON object.")
            return self.errors
        for key in body:
            if key not in TOP_LEVEL_KEYS:
                self.error(key, f"Unknown field {key!r} is not part of the mail/send request.")
        uses_template = "template_id" in body
        if uses_template and (not isinstance(body["template_id"], str) or not body["template_id"]):
            self.error("template_id", "The template_id must be a non-empty string.")
        dynamic = uses_template and str(body["template_id"]).startswith("d-")

        if "from" not in body:
            self.error("from", "The from object is required and must contain an email address.")
        else:
            self.address(body["from"], "from", check_name=False)

        has_subject = False
        if "subject" in body:
            subject = body["subject"]
            if not isinstance(subject, str) or not subject:
                self.error("subject", "The subject must be a non-empty string.")
            else:
                has_subject = True

        global_args = self.custom_args(body.get("custom_args"), "custom_args")
        global_args_size = _pairs_size(global_args) if global_args else 0

        self.personalizations(body, has_subject or uses_template, global_args, global_args_size)

        if "reply_to" in body and "reply_to_list" in body:
            self.error("reply_to", "Use either reply_to or reply_to_list, not both.")
        if "reply_to" in body:
            self.address(body["reply_to"], "reply_to", check_name=False)
        if "reply_to_list" in body:
            self.reply_to_list(body["reply_to_list"])

        if "content" in body:
            self.content(body["content"])
        elif not uses_template:
            self.error("content", "The content array is required unless a template_id is used.")

        if "attachments" in body:
            self.attachments(body["attachments"])
        if "headers" in body:
            self.headers(body["headers"], "headers")
        if "categories" in body:
            self.categories(body["categories"])
        if "send_at" in body:
            self.send_at(body["send_at"], "send_at")
        if "batch_id" in body:
            batch_id = body["batch_id"]
            with self.fake.lock:
                known = isinstance(batch_id, str) and batch_id in self.fake.batches
            if not known:
                self.error("batch_id", "The batch_id is not a valid batch ID (create one first).")
        if "asm" in body:
            self.asm(body["asm"])
        if "ip_pool_name" in body:
            pool = body["ip_pool_name"]
            if not isinstance(pool, str) or not 2 <= len(pool) <= 64:
                self.error("ip_pool_name", "The ip_pool_name must be 2 to 64 characters.")
            elif pool not in self.fake.ip_pools:
                self.error("ip_pool_name", f"The IP pool {pool!r} does not exist.")
        if "sections" in body and not self.string_map(body["sections"]):
            self.error("sections", "The sections must be an object of string values.")
        if "mail_settings" in body:
            self.settings(body["mail_settings"], "mail_settings", MAIL_SETTINGS)
            self.bypass_combination(body["mail_settings"])
        if "tracking_settings" in body:
            self.settings(body["tracking_settings"], "tracking_settings", TRACKING_SETTINGS)
        if dynamic:
            for i, p in enumerate(body.get("personalizations") or ()):
                if isinstance(p, dict) and "substitutions" in p:
                    self.error(
                        f"personalizations.{i}.substitutions",
                        "Substitutions cannot be used with a dynamic template (d-...); "
                        "use dynamic_template_data.",
                    )
        return self.errors

    # each checker reports into self.errors

    def address(self, value: Any, where: str, *, check_name: bool) -> str | None:
        """Check an {email, name?} object; return the email when it is valid."""
        if not isinstance(value, dict):
            self.error(where, "Expected an object with an email address.")
            return None
        email = value.get("email")
        valid = None
        if email is None:
            self.error(f"{where}.email", "The email address is required.")
        elif not is_email(email):
            self.error(f"{where}.email", f"Does not contain a valid address: {email!r}.")
        else:
            valid = email
        if "name" in value:
            name = value["name"]
            if not isinstance(name, str):
                self.error(f"{where}.name", "The name must be a string.")
            elif check_name and (";" in name or "," in name):
                self.error(f"{where}.name", "Recipient names cannot contain ';' or ','.")
        for key in value:
            if key not in ("email", "name"):
                self.error(f"{where}.{key}", f"Unknown field {key!r} in an address.")
        return valid

    def personalizations(
        self, body: dict, has_subject: bool, global_args: dict, global_args_size: int
    ) -> None:
        if "personalizations" not in body:
            self.error("personalizations", "The personalizations field is required.")
            return
        items = body["personalizations"]
        if not isinstance(items, list):
            self.error("personalizations", "The personalizations field must be an array.")
            return
        if not items:
            self.error("personalizations", "At least one personalization is required.")
        elif len(items) > MAX_PERSONALIZATIONS:
            self.error(
                "personalizations",
                f"At most {MAX_PERSONALIZATIONS} personalizations per request, got {len(items)}.",
            )
        recipients = 0
        seen_anywhere: set[str] = set()
        repeated_reported = False
        reject_repeated = self.fake.reject_repeated_recipients
        for i, p in enumerate(items):
            where = f"personalizations.{i}"
            if not isinstance(p, dict):
                self.error(where, "Each personalization must be an object.")
                continue
            for key in p:
                if key not in PERSONALIZATION_KEYS:
                    self.error(f"{where}.{key}", f"Unknown field {key!r} in a personalization.")
            if "to" in p and not isinstance(p["to"], list):
                self.error(f"{where}.to", "The to field must be an array.")
            elif not p.get("to"):
                self.error(f"{where}.to", "Each personalization needs at least one to address.")
            seen: set[str] = set()
            for kind in ("to", "cc", "bcc"):
                if kind not in p:
                    continue
                addresses = p[kind]
                if not isinstance(addresses, list):
                    if kind != "to":
                        self.error(f"{where}.{kind}", f"The {kind} field must be an array.")
                    continue
                recipients += len(addresses)
                for j, address in enumerate(addresses):
                    email = self.address(address, f"{where}.{kind}.{j}", check_name=True)
                    if email is None:
                        continue
                    key = email.lower()
                    if key in seen:
                        self.error(
                            f"{where}.{kind}.{j}.email",
                            f"{email} appears more than once in this personalization's "
                            "to/cc/bcc; each address may be included only once.",
                        )
                    seen.add(key)
                if reject_repeated:
                    repeated = seen & seen_anywhere
                    if repeated and not repeated_reported:
                        repeated_reported = True
                        self.error(
                            where,
                            f"{sorted(repeated)[0]} is in more than one personalization.",
                        )
            if reject_repeated:
                seen_anywhere |= seen
            if "from" in p:
                self.address(p["from"], f"{where}.from", check_name=False)
            if "subject" in p:
                subject = p["subject"]
                if not isinstance(subject, str) or not subject:
                    self.error(f"{where}.subject", "The subject must be a non-empty string.")
            elif not has_subject:
                self.error(
                    f"{where}.subject",
                    "A subject is required: set it on the message or in every personalization.",
                )
            if "headers" in p:
                self.headers(p["headers"], f"{where}.headers")
            if "substitutions" in p:
                subs = p["substitutions"]
                if not self.string_map(subs):
                    self.error(
                        f"{where}.substitutions", "Substitutions must be an object of strings."
                    )
                elif _pairs_size(subs) > MAX_SUBSTITUTIONS_BYTES:
                    self.error(
                        f"{where}.substitutions",
                        f"Substitutions exceed {MAX_SUBSTITUTIONS_BYTES} bytes.",
                    )
            if "dynamic_template_data" in p and not isinstance(p["dynamic_template_data"], dict):
                self.error(f"{where}.dynamic_template_data", "Must be an object.")
            if "custom_args" in p:
                own = self.custom_args(p["custom_args"], f"{where}.custom_args")
                size = _pairs_size({**global_args, **own}) if own else global_args_size
            else:
                size = global_args_size
            if size >= MAX_CUSTOM_ARGS_BYTES:
                self.error(
                    f"{where}.custom_args",
                    f"The merged custom_args are {size} bytes; they must be less than "
                    f"{MAX_CUSTOM_ARGS_BYTES}.",
                )
            if "send_at" in p:
                self.send_at(p["send_at"], f"{where}.send_at")
        if recipients > MAX_RECIPIENTS:
            self.error(
                "personalizations",
                f"The request has {recipients} recipients (to+cc+bcc); at most {MAX_RECIPIENTS} "
                "are allowed per request.",
            )

    @staticmethod
    def string_map(value: Any) -> bool:
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())

    def custom_args(self, value: Any, where: str) -> dict:
        """Check custom_args; return the valid string pairs (for the merged-size rule)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(where, "custom_args must be an object of string values.")
            return {}
        good = {}
        for key, item in value.items():
            if isinstance(item, str):
                good[key] = item
            else:
                self.error(
                    f"{where}.{key}",
                    f"custom_args values must be strings; {key!r} is {type(item).__name__}.",
                )
        return good

    def headers(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            self.error(where, "Headers must be an object of string values.")
            return
        seen: set[str] = set()
        for name, item in value.items():
            lower = name.lower()
            if not _HEADER_NAME.fullmatch(name):
                self.error(
                    f"{where}.{name}", f"Invalid header name {name!r}: ASCII without spaces only."
                )
            elif lower in RESERVED_HEADERS:
                self.error(f"{where}.{name}", f"The header {name!r} is reserved and cannot be set.")
            elif lower in seen:
                self.error(f"{where}.{name}", f"The header {name!r} is given more than once.")
            seen.add(lower)
            if not isinstance(item, str):
                self.error(f"{where}.{name}", f"The value of header {name!r} must be a string.")

    def reply_to_list(self, value: Any) -> None:
        if not isinstance(value, list) or not value:
            self.error("reply_to_list", "reply_to_list must be a non-empty array of addresses.")
            return
        if len(value) > MAX_REPLY_TO_LIST:
            self.error("reply_to_list", f"reply_to_list allows at most {MAX_REPLY_TO_LIST}.")
        seen: set[str] = set()
        for j, address in enumerate(value):
            email = self.address(address, f"reply_to_list.{j}", check_name=False)
            if email is not None:
                if email.lower() in seen:
                    self.error(f"reply_to_list.{j}.email", f"{email} is listed twice.")
                seen.add(email.lower())

    def content(self, value: Any) -> None:
        if not isinstance(value, list) or not value:
            self.error("content", "The content must be a non-empty array of {type, value}.")
            return
        types: list[str] = []
        for j, part in enumerate(value):
            where = f"content.{j}"
            if not isinstance(part, dict):
                self.error(where, "Each content item must be an object with type and value.")
                continue
            for key in ("type", "value"):
                item = part.get(key)
                if not isinstance(item, str) or not item:
                    self.error(f"{where}.{key}", f"The content {key} must be a non-empty string.")
            types.append(str(part.get("type", "")).lower())
        if "text/plain" in types and types[0] != "text/plain":
            self.error(
                f"content.{types.index('text/plain')}.type",
                "If present, text/plain must be the first content item (before text/html).",
            )

    def attachments(self, value: Any) -> None:
        if not isinstance(value, list):
            self.error("attachments", "The attachments must be an array.")
            return
        for j, item in enumerate(value):
            where = f"attachments.{j}"
            if not isinstance(item, dict):
                self.error(where, "Each attachment must be an object.")
                continue
            content = item.get("content")
            if not isinstance(content, str) or not content:
                self.error(f"{where}.content", "The attachment content is required (base64).")
            else:
                try:
                    base64.b64decode(content, validate=True)
                except (binascii.Error, ValueError):
                    self.error(f"{where}.content", "The attachment content must be base64.")
            filename = item.get("filename")
            if not isinstance(filename, str) or not filename:
                self.error(f"{where}.filename", "The attachment filename is required.")
            for key in ("filename", "type", "content_id"):
                text = item.get(key)
                if text is not None and (
                    not isinstance(text, str) or any(c in text for c in ";\r\n")
                ):
                    self.error(f"{where}.{key}", f"The {key} cannot contain ';' or line breaks.")
            if item.get("disposition", "attachment") not in ("inline", "attachment"):
                self.error(f"{where}.disposition", "The disposition must be inline or attachment.")

    def categories(self, value: Any) -> None:
        if not isinstance(value, list):
            self.error("categories", "The categories must be an array of strings.")
            return
        if len(value) > MAX_CATEGORIES:
            self.error("categories", f"At most {MAX_CATEGORIES} categories, got {len(value)}.")
        seen: set[str] = set()
        for j, category in enumerate(value):
            where = f"categories.{j}"
            if not isinstance(category, str):
                self.error(where, "Each category must be a string.")
                continue
            if len(category) > MAX_CATEGORY_LENGTH:
                self.error(where, f"A category may have at most {MAX_CATEGORY_LENGTH} characters.")
            if not category.isascii():
                self.error(where, "Categories must be US-ASCII.")
            if category in seen:
                self.error(where, f"The category {category!r} is listed twice.")
            seen.add(category)

    def send_at(self, value: Any, where: str) -> None:
        if not _is_int(value):
            self.error(where, "send_at must be an integer unix timestamp.")
        elif value > self.fake.now() + MAX_SCHEDULE_AHEAD:
            self.error(where, "Scheduling more than 72 hours in advance is not allowed.")

    def asm(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.error("asm", "asm must be an object with a group_id.")
            return
        group = value.get("group_id")
        if not _is_int(group):
            self.error("asm.group_id", "asm.group_id is required and must be an integer.")
        elif group not in self.fake.asm_groups:
            self.error("asm.group_id", f"The unsubscribe group {group} does not exist.")
        if "groups_to_display" in value:
            shown = value["groups_to_display"]
            if not isinstance(shown, list):
                self.error("asm.groups_to_display", "groups_to_display must be an array.")
                return
            if len(shown) > MAX_GROUPS_TO_DISPLAY:
                self.error(
                    "asm.groups_to_display", f"At most {MAX_GROUPS_TO_DISPLAY} groups to display."
                )
            for j, item in enumerate(shown):
                if not _is_int(item):
                    self.error(f"asm.groups_to_display.{j}", "Group ids must be integers.")
                elif item not in self.fake.asm_groups:
                    self.error(f"asm.groups_to_display.{j}", f"The group {item} does not exist.")
        for key in value:
            if key not in ("group_id", "groups_to_display"):
                self.error(f"asm.{key}", f"Unknown field {key!r} in asm.")

    def settings(self, value: Any, where: str, known: dict[str, dict[str, type]]) -> None:
        if not isinstance(value, dict):
            self.error(where, f"{where} must be an object.")
            return
        for name, setting in value.items():
            here = f"{where}.{name}"
            if name not in known:
                self.error(here, f"Unknown setting {name!r}.")
                continue
            if not isinstance(setting, dict):
                self.error(here, "Each setting must be an object.")
                continue
            if "enable" in setting and not isinstance(setting["enable"], bool):
                self.error(f"{here}.enable", "enable must be a JSON boolean (true or false).")
            for key, item in setting.items():
                if key == "enable":
                    continue
                expected = known[name].get(key)
                if expected is None:
                    self.error(f"{here}.{key}", f"Unknown property {key!r}.")
                elif not isinstance(item, expected):
                    self.error(f"{here}.{key}", f"{key} must be a {expected.__name__}.")

    def bypass_combination(self, value: Any) -> None:
        if not isinstance(value, dict):
            return

        def on(name: str) -> bool:
            setting = value.get(name)
            return isinstance(setting, dict) and setting.get("enable") is True

        others = ("bypass_spam_management", "bypass_bounce_management")
        if on("bypass_list_management") and any(
            on(n) for n in (*others, "bypass_unsubscribe_management")
        ):
            self.error(
                "mail_settings.bypass_list_management",
                "bypass_list_management cannot be combined with the other bypass settings.",
            )


# -- HTTP ------------------------------------------------------------------------------------


class _Answered(Exception):
    """The handler has written its answer itself."""


class _Reply(Exception):
    """Raised inside a route to answer; carries status, JSON body (or None) and headers."""

    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _make_handler(fake: FakeSendGrid):
    routes: list[tuple[re.Pattern[str], dict[str, Callable]]] = []

    def route(pattern: str, **methods: tuple[Callable, str | None]) -> None:
        """`methods`: HTTP method → (handler, the scope SendGrid requires of the key)."""
        routes.append((re.compile(pattern), methods))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return "FakeSendGrid"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.dispatch()

        do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        # -- plumbing ------------------------------------------------------------------------

        def send_response(self, code: int, message: str | None = None) -> None:
            # Every answer comes `latency` after its request arrived, as a real server's answer
            # time includes its own work: the request is read and handled at once, and only
            # the rest of the time is waited out (or none, once the fake is shutting down).
            wait = self.answer_at - time.monotonic()
            if wait > 0:
                fake._stop.wait(wait)
            super().send_response(code, message)

        def dispatch(self) -> None:
            self.answer_at = time.monotonic() + fake.latency
            parts = urlsplit(self.path)
            self.route_path = unquote(parts.path)
            self.query = parse_qs(parts.query, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers.pop("authorization", None)
            self.record = RequestRecord(
                self.command, self.route_path, None, headers, None, query=self.query
            )
            with fake.lock:
                fake.requests.append(self.record)
                if self.command == "POST" and self.route_path == "/v3/mail/send":
                    fake.mail_send_count += 1
            try:
                self.raw = self.read_body()
                self.check_auth()
                handler, scope = self.find_route()
                self.require_scope(scope)
                self.injected_status()
                handler(self)
            except _Reply as reply:
                self.respond(reply.status, reply.body, reply.headers)
            except _Answered:
                self.record.status = 200
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > fake.max_body_bytes:
                remaining = length
                while remaining > 0:  # drain, so the client gets to read our answer
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                raise _Reply(413, error_body("content too large"))
            return self.rfile.read(length) if length else b""

        def check_auth(self) -> None:
            given = self.headers.get("Authorization")
            if given is None:
                raise _Reply(401, error_body("authorization required"))
            if given != f"Bearer {fake.api_key}":
                raise _Reply(
                    401,
                    error_body("The provided authorization grant is invalid, expired, or revoked"),
                )

        def find_route(self) -> tuple[Callable, str | None]:
            for pattern, methods in routes:
                match = pattern.fullmatch(self.route_path)
                if match:
                    self.params = match.groups()
                    if self.command not in methods:
                        allow = ", ".join(sorted(methods))
                        raise _Reply(405, error_body("method not allowed"), {"Allow": allow})
                    return methods[self.command]
            raise _Reply(404, error_body("resource not found"))

        def injected_status(self) -> None:
            with fake.lock:
                status = fake.api_faults.get(self.route_path)
                raw = fake.raw_answers.get(self.route_path)
            if raw is not None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                raise _Answered
            if status == 429:
                raise _Reply(
                    429,
                    {"errors": [{"field": None, "message": "too many requests"}]},
                    self.rate_limit_headers(),
                )
            if status is not None:
                raise _Reply(status, error_body(f"fake fault: HTTP {status}"))

        def require_scope(self, scope: str | None) -> None:
            with fake.lock:
                granted = scope is None or scope in fake.scopes
            if not granted:
                raise _Reply(403, {"errors": [{"field": None, "message": "access forbidden"}]})

        def json_body(self) -> Any:
            """Decode the request body once; 415 for bad UTF-8, 400 for bad JSON."""
            try:
                text = self.raw.decode("utf-8")
            except UnicodeDecodeError:
                self.record.body = self.raw
                raise _Reply(415, error_body("Invalid UTF8 in request")) from None
            try:
                body = json.loads(text) if text.strip() else None
            except ValueError as exc:
                self.record.body = self.raw
                raise _Reply(
                    400, error_body(f"Bad Request: the body is not valid JSON ({exc.msg}).")
                ) from None
            self.record.body = body
            return body

        def respond(
            self, status: int, body: Any = None, headers: Mapping[str, str] | None = None
        ) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.record.status = status
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        def drop(self, reset: bool) -> None:
            """Close the connection without writing a byte of response."""
            self.close_connection = True
            if reset:  # RST instead of FIN
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                # close now: socketserver would otherwise send a FIN (shutdown) before closing
                self.rfile.close()
                self.connection.close()
                return
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        # -- routes --------------------------------------------------------------------------

        def mail_send(self) -> None:
            body = self.json_body()
            problems = fake.validate(body)
            if problems:
                raise _Reply(400, {"errors": problems})
            senders = {s.lower() for s in fake.verified_senders}
            froms = [body["from"]["email"]]
            froms += [p["from"]["email"] for p in body["personalizations"] if "from" in p]
            for address in froms:
                if address.lower() not in senders:
                    raise _Reply(
                        403,
                        error_body(
                            f"The from address {address} does not match a verified Sender "
                            "Identity. Mail cannot be sent until this error is resolved."
                        ),
                    )
            sandbox = body.get("mail_settings", {}).get("sandbox_mode", {}).get("enable") is True
            fault = fake._next_fault(body)
            self.record.fault = fault
            if fault is None:
                if sandbox:
                    raise _Reply(200)
                raise _Reply(202, None, {"X-Message-Id": fake._accept(body, None)})
            if fault in ("drop_before", "reset_before"):
                self.drop(reset=fault == "reset_before")
                return
            if fault == "429":
                raise _Reply(
                    429,
                    {"errors": [{"field": None, "message": "too many requests"}]},
                    self.rate_limit_headers(),
                )
            if fault.isdigit():
                raise _Reply(int(fault), error_body(f"fake fault: HTTP {fault}"))
            message_id = None if sandbox else fake._accept(body, fault)
            if fault in ("drop_after", "reset_after"):
                self.drop(reset=fault == "reset_after")
                return
            # "slow": accepted; the answer comes after slow_seconds (or at shutdown)
            fake._stop.wait(fake.slow_seconds)
            if message_id is None:
                raise _Reply(200)
            raise _Reply(202, None, {"X-Message-Id": message_id})

        def rate_limit_headers(self) -> dict[str, str]:
            headers = {
                "X-RateLimit-Limit": str(fake.rate_limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(fake.now()) + 1),
            }
            if fake.retry_after is not None:
                headers["Retry-After"] = str(fake.retry_after)
            return headers

        def create_batch(self) -> None:
            self.json_body()
            raise _Reply(201, {"batch_id": fake.new_batch()})

        def get_batch(self) -> None:
            (batch_id,) = self.params
            if not _BATCH_ID.fullmatch(batch_id):
                raise _Reply(400, error_body("invalid batch id", "batch_id"))
            with fake.lock:
                known = batch_id in fake.batches
            if not known:
                raise _Reply(404, error_body("batch id not found", "batch_id"))
            raise _Reply(200, {"batch_id": batch_id})

        def list_scheduled(self) -> None:
            with fake.lock:
                items = [{"batch_id": b, "status": s} for b, s in fake.scheduled_sends.items()]
            raise _Reply(200, items)

        def get_scheduled(self) -> None:
            (batch_id,) = self.params
            with fake.lock:
                status = fake.scheduled_sends.get(batch_id)
            if status is None:
                raise _Reply(404, error_body("batch id not found", "batch_id"))
            raise _Reply(200, [{"batch_id": batch_id, "status": status}])

        def status_of(self, body: Any) -> str:
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("pause", "cancel"):
                raise _Reply(400, error_body("status must be 'pause' or 'cancel'", "status"))
            return status

        def create_scheduled(self) -> None:
            body = self.json_body()
            batch_id = body.get("batch_id") if isinstance(body, dict) else None
            status = self.status_of(body)
            with fake.lock:
                if batch_id not in fake.batches:
                    raise _Reply(400, error_body("invalid batch id", "batch_id"))
                if batch_id in fake.scheduled_sends:
                    raise _Reply(400, error_body("batch id already exists", "batch_id"))
                if len(fake.scheduled_sends) >= MAX_STOPPED_BATCHES:
                    raise _Reply(
                        400,
                        error_body(
                            f"at most {MAX_STOPPED_BATCHES} batches may be paused "
                            "or cancelled at once"
                        ),
                    )
                fake.scheduled_sends[batch_id] = status
            raise _Reply(201, {"batch_id": batch_id, "status": status})

        def update_scheduled(self) -> None:
            (batch_id,) = self.params
            status = self.status_of(self.json_body())
            with fake.lock:
                if batch_id not in fake.scheduled_sends:
                    raise _Reply(404, error_body("batch id not found", "batch_id"))
                fake.scheduled_sends[batch_id] = status
            raise _Reply(204)

        def delete_scheduled(self) -> None:
            (batch_id,) = self.params
            with fake.lock:
                if fake.scheduled_sends.pop(batch_id, None) is None:
                    raise _Reply(404, error_body("batch id not found", "batch_id"))
            raise _Reply(204)

        def number(self, name: str, default: int | None) -> int | None:
            """A whole-number query parameter; 400 for anything else."""
            values = self.query.get(name)
            if not values:
                return default
            try:
                value = int(values[-1])
            except ValueError:
                value = -1
            if value < 0:
                raise _Reply(400, error_body(f"{name} must be a non-negative integer", name))
            return value

        def page(self, items: list) -> list:
            """Apply limit/offset (and start_time/end_time on `created`) from the query."""
            number = self.number
            start = number("start_time", None)
            end = number("end_time", None)
            if start is not None or end is not None:
                items = [
                    item
                    for item in items
                    if (start is None or item["created"] >= start)
                    and (end is None or item["created"] <= end)
                ]
            limit = min(number("limit", fake.max_page_size) or 0, fake.max_page_size)
            offset = number("offset", 0) or 0
            return items[offset : offset + limit]

        def group_suppressions(self) -> None:
            """The whole list at once: the endpoint takes no paging parameters (and, like
            SendGrid, ignores any it is given)."""
            group_id = int(self.params[0])
            with fake.lock:
                items = list(fake.group_suppressions.get(group_id, ()))
            raise _Reply(200, items)

        def add_group_suppressions(self) -> None:
            group_id = int(self.params[0])
            body = self.json_body()
            emails = body.get("recipient_emails") if isinstance(body, dict) else None
            if not isinstance(emails, list) or not all(is_email(e) for e in emails):
                raise _Reply(400, error_body("recipient_emails must be email addresses"))
            with fake.lock:
                if group_id not in fake.asm_groups:
                    raise _Reply(404, error_body(f"group {group_id} not found", "group_id"))
                stored = fake.group_suppressions.setdefault(group_id, [])
                stored.extend(e for e in emails if e not in stored)
            raise _Reply(201, {"recipient_emails": emails})

        def remove_group_suppression(self) -> None:
            group_id, email = int(self.params[0]), self.params[1]
            with fake.lock:
                stored = fake.group_suppressions.get(group_id, [])
                if email not in stored:
                    raise _Reply(404, error_body("suppression not found"))
                stored.remove(email)
            raise _Reply(204)

        def get_scopes(self) -> None:
            with fake.lock:
                raise _Reply(200, {"scopes": list(fake.scopes)})

        def verified_senders(self) -> None:
            with fake.lock:
                senders = [(e, True) for e in sorted(fake.verified_senders)]
                senders += [(e, False) for e in sorted(fake.unverified_senders)]
            everyone = [
                {
                    "id": 1000 + n,
                    "nickname": email.partition("@")[0],
                    "from_email": email,
                    "from_name": "Community digest",
                    "reply_to": email,
                    "reply_to_name": "Community digest",
                    "address": "1 High Street",
                    "city": "Northfield",
                    "country": "United Kingdom",
                    "verified": verified,
                    "locked": False,
                }
                for n, (email, verified) in enumerate(senders)
            ]
            after = self.number("lastSeenID", None)
            later = [s for s in everyone if after is None or s["id"] > after]
            raise _Reply(200, {"results": later[: self.number("limit", fake.default_page_size)]})

        def authenticated_domains(self) -> None:
            with fake.lock:
                domains = sorted(fake.authenticated_domains.items())
            everyone = [
                {
                    "id": 500 + n,
                    "user_id": 7,
                    "subdomain": "em1234",
                    "domain": domain,
                    "username": "digest",
                    "ips": [],
                    "custom_spf": False,
                    "default": n == 0,
                    "legacy": False,
                    "automatic_security": True,
                    "valid": valid,
                    "dns": {
                        name: {
                            "valid": valid,
                            "type": "cname",
                            "host": f"{prefix}.{domain}",
                            "data": f"{prefix}.dkim.sendgrid.example",
                        }
                        for name, prefix in (
                            ("mail_cname", "em1234"),
                            ("dkim1", "s1._domainkey"),
                            ("dkim2", "s2._domainkey"),
                        )
                    },
                }
                for n, (domain, valid) in enumerate(domains)
            ]
            offset = self.number("offset", 0)
            limit = self.number("limit", fake.default_page_size)
            raise _Reply(200, everyone[offset : offset + limit])

        def asm_group(self) -> None:
            group_id = int(self.params[0])
            with fake.lock:
                known = group_id in fake.asm_groups
                unsubscribes = len(fake.group_suppressions.get(group_id, ()))
            if not known:
                raise _Reply(404, error_body(f"group {group_id} not found", "group_id"))
            raise _Reply(
                200,
                {
                    "id": group_id,
                    "name": fake.group_names.get(group_id, "Weekly digest"),
                    "description": "The weekly community digest",
                    "is_default": False,
                    "unsubscribes": unsubscribes,
                },
            )

        def stats_query(self) -> tuple[list[str], datetime.date, datetime.date]:
            """categories, start_date and end_date, checked as SendGrid checks them."""
            categories = self.query.get("categories", [])
            if not categories:
                raise _Reply(400, error_body("categories is required", "categories"))
            if len(categories) > MAX_STATS_CATEGORIES:
                raise _Reply(400, error_body("too many categories", "categories"))
            dates = []
            today = datetime.datetime.fromtimestamp(fake.now(), datetime.UTC).date()
            for name, default in (("start_date", None), ("end_date", today)):
                text = (self.query.get(name) or [None])[-1]
                try:
                    day = datetime.date.fromisoformat(text) if text else default
                except ValueError:
                    day = None
                if day is None:
                    raise _Reply(400, error_body(f"{name} must be a date (YYYY-MM-DD)", name))
                dates.append(day)
            start, end = dates
            if start > end or end > today:
                raise _Reply(400, error_body("end_date must be after start_date", "end_date"))
            if start < today - datetime.timedelta(days=13 * 31):
                raise _Reply(400, error_body("start_date is older than 13 months", "start_date"))
            if (self.query.get("aggregated_by") or ["day"])[-1] not in ("day", "week", "month"):
                raise _Reply(400, error_body("aggregated_by must be day, week or month"))
            return categories, start, end

        def category_stats(self) -> None:
            """One entry per day of the window, each with every category's metrics (zeros on
            days nothing happened), as with aggregated_by=day."""
            categories, start, end = self.stats_query()
            days = []
            day = start
            while day <= end:
                stats = []
                for category in categories:
                    with fake.lock:
                        counts = fake.category_stats.get((category, day.isoformat()), {})
                    metrics = {name: counts.get(name, 0) for name in STATS_METRICS}
                    stats.append({"type": "category", "name": category, "metrics": metrics})
                days.append({"date": day.isoformat(), "stats": stats})
                day += datetime.timedelta(days=1)
            raise _Reply(200, days)

    scheduled = "user.scheduled_sends"
    route(r"/v3/mail/send", POST=(Handler.mail_send, "mail.send"))
    route(r"/v3/mail/batch", POST=(Handler.create_batch, "mail.batch.create"))
    route(r"/v3/mail/batch/([^/]+)", GET=(Handler.get_batch, "mail.batch.read"))
    route(
        r"/v3/user/scheduled_sends",
        GET=(Handler.list_scheduled, f"{scheduled}.read"),
        POST=(Handler.create_scheduled, f"{scheduled}.create"),
    )
    route(
        r"/v3/user/scheduled_sends/([^/]+)",
        GET=(Handler.get_scheduled, f"{scheduled}.read"),
        PATCH=(Handler.update_scheduled, f"{scheduled}.update"),
        DELETE=(Handler.delete_scheduled, f"{scheduled}.delete"),
    )
    route(
        r"/v3/asm/groups/(\d+)/suppressions",
        GET=(Handler.group_suppressions, "asm.groups.suppressions.read"),
        POST=(Handler.add_group_suppressions, "asm.groups.suppressions.create"),
    )
    route(
        r"/v3/asm/groups/(\d+)/suppressions/([^/]+)",
        DELETE=(Handler.remove_group_suppression, "asm.groups.suppressions.delete"),
    )

    def suppression_list(attr: str) -> Callable:
        def handler(self: Handler) -> None:
            with fake.lock:
                items = list(getattr(fake, attr))
            raise _Reply(200, self.page(items))

        return handler

    for name in ("unsubscribes", "bounces", "spam_reports"):
        route(rf"/v3/suppression/{name}", GET=(suppression_list(name), f"suppression.{name}.read"))
    route(r"/v3/scopes", GET=(Handler.get_scopes, None))  # any key may read its own
    route(r"/v3/verified_senders", GET=(Handler.verified_senders, "sender_verification_eligible"))
    route(r"/v3/whitelabel/domains", GET=(Handler.authenticated_domains, "whitelabel.read"))
    route(r"/v3/asm/groups/(\d+)", GET=(Handler.asm_group, "asm.groups.read"))
    route(r"/v3/categories/stats", GET=(Handler.category_stats, "categories.stats.read"))
    return Handler
