"""The outbox transport: every mail/send request digest would give SendGrid, written to a folder
as its JSON and one .eml file per message it would deliver, so the whole flow runs with no
SendGrid account. A batch is written whole or not at all; when it cannot be, `OutboxError`."""

from __future__ import annotations

import email.header
import email.message
import email.policy
import email.utils
import itertools
import json
import uuid
from collections.abc import Iterable
from pathlib import Path

from digest.core.errors import DigestError
from digest.core.files import write_files
from digest.core.text import plural
from digest.delivery.transports import Accepted

FOLD_AT = 78  # RFC 5322's recommended line length; a longer word stays whole (up to 998)


class OutboxError(DigestError):
    """The outbox folder cannot be written; nothing of the batch was left in it."""

    hint = (
        "free some disk space or make the folder writable (sending.outbox), then run the "
        "command again"
    )


class OutboxTransport:
    """Writes each request as JSON and each message it would deliver as an .eml file
    (multipart/alternative, text first), so the whole flow runs with no SendGrid account."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder
        self.destination = str(folder)
        self._numbers = itertools.count(1)

    def delivered(self, messages: int) -> str:
        return f"{plural(messages, 'message')} written to {self.folder}/ (nothing was emailed)"

    def send(self, body: dict) -> Accepted:
        args = body.get("custom_args", {})
        stem = f"{args.get('issue', 'test')}-batch{args.get('batch', '0')}-{uuid.uuid4().hex[:8]}"
        request = json.dumps(body, indent=2, ensure_ascii=False)
        messages = (
            (f"{stem}-{n:04d}.eml", _eml(body, personalization).as_string())
            for n, personalization in enumerate(body["personalizations"], 1)
        )
        self._write_all([(f"{stem}.json", request), *messages])
        return Accepted(f"outbox-{stem}")

    def create_batch(self) -> str:
        return f"outbox-batch-{next(self._numbers)}"

    def cancel_batch(self, batch_id: str) -> None:
        self._write_all([(f"cancelled-{batch_id}.txt", batch_id + "\n")])

    def _write_all(self, files: Iterable[tuple[str, str]]) -> None:
        """Every file or none, none of them half-written (digest.core.files.write_files)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_files({self.folder / name: text for name, text in files})
        except OSError as exc:
            where = exc.filename or self.folder
            raise OutboxError(f"cannot write the outbox: {where}: {exc.strerror}") from None


def _eml(body: dict, personalization: dict) -> email.message.EmailMessage:
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    sender = body["from"]
    message["From"] = email.utils.formataddr((sender.get("name", ""), sender["email"]))
    message["To"] = ", ".join(
        email.utils.formataddr((to.get("name", ""), to["email"])) for to in personalization["to"]
    )
    message["Subject"] = WrittenHeader("Subject", personalization.get("subject", body["subject"]))
    if "reply_to" in body:
        message["Reply-To"] = body["reply_to"]["email"]
    for name, value in {**body.get("headers", {}), **personalization.get("headers", {})}.items():
        message[name] = WrittenHeader(name, value)
    contents = {part["type"]: part["value"] for part in body["content"]}
    message.set_content(contents["text/plain"])
    message.add_alternative(contents["text/html"], subtype="html")
    return message


class WrittenHeader(str):
    """A header value the email package writes as folded here instead of refolding it itself.

    Its own folder turns a long URL into RFC 2047 encoded words, which List-Unsubscribe must
    not carry (clients read the <URL> in it literally), and before a non-ASCII word it can
    write an empty encoded word (=?utf-8?q??=). Here an ASCII value is only folded at spaces,
    and any other is encoded whole by the older `email.header` encoder, which does neither.
    The email package keeps any value with a `name` and a `fold()` as it is."""

    name: str

    def __new__(cls, name: str, value: str):
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy) -> str:
        if not self.isascii():
            encoded = email.header.Header(str(self), "utf-8", header_name=self.name)
            return f"{self.name}: {encoded.encode(linesep=policy.linesep)}{policy.linesep}"
        lines, words = [], str(self).split(" ")
        line = f"{self.name}: {words[0]}"
        for word in words[1:]:
            # A folded line may not be only white space, so a run of spaces is never split.
            if word and len(line) + 1 + len(word) > FOLD_AT and line.strip():
                lines.append(line)
                line = ""
            line += " " + word
        return policy.linesep.join([*lines, line.rstrip()]) + policy.linesep
