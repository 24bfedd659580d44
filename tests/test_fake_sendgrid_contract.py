"""The fake SendGrid answers as SendGrid's published OpenAPI documents say, for every request
digest makes: the status is one the operation documents (or an error of the documented error
shape), and the body validates against that response's schema. digest's own requests, made by
its commands against the fake, carry only the query parameters each operation declares.

The documents live outside the repository (`../shared/corpus/sendgrid-oai/`, or the folder
DIGEST_SENDGRID_OAI names); without them these tests are skipped, saying so. Known faults of the
documents are mended before use, each named below."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sendgrid import SendGridAPIClient

from tests.fake_sendgrid import FakeSendGrid
from tests.samples import NOW
from tests.test_send import invoke, subscribe

OAI = Path(
    os.environ.get("DIGEST_SENDGRID_OAI", Path(__file__).parents[2] / "shared/corpus/sendgrid-oai")
)
DOCUMENTS = (
    "tsg_mail_v3.json",
    "tsg_scheduled_sends_v3.json",
    "tsg_suppressions_v3.json",
    "tsg_scopes_v3.json",
    "tsg_verified_senders_v3.json",
    "tsg_domain_authentication_v3.json",
    "tsg_stats_v3.json",
)
pytestmark = pytest.mark.skipif(
    not all((OAI / name).is_file() for name in DOCUMENTS),
    reason=f"SendGrid's OpenAPI documents are not at {OAI} (set DIGEST_SENDGRID_OAI)",
)


def mended(node):
    """The documents' known faults mended: `nullable` (OpenAPI 3.0) in a 3.1 document becomes
    a null type, and an error's `help`, typed as an object, may be anything (SendGrid sends
    strings and null there)."""
    if isinstance(node, list):
        return [mended(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: mended(value) for key, value in node.items()}
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    help_field = node.get("properties", {}).get("help")
    if isinstance(help_field, dict):
        help_field.pop("type", None)
    return node


@pytest.fixture(scope="module")
def spec() -> dict:
    """Every operation: (path template, method) → (its document, the operation)."""
    operations = {}
    for name in DOCUMENTS:
        document = mended(json.loads((OAI / name).read_text(encoding="utf-8")))
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                if isinstance(operation, dict) and "responses" in operation:
                    operations[(path, method.upper())] = (document, operation)
    return operations


def template_of(path: str, operations) -> str:
    """The path template a concrete path matches, literal templates first."""
    for template, _ in sorted(operations, key=lambda key: key[0].count("{")):
        pattern = re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return template
    raise AssertionError(f"{path} is in none of SendGrid's documents")


def inlined(node, document: dict, depth: int = 0):
    """`node` with every local $ref replaced by what it points at."""
    assert depth < 40, "a $ref cycle"
    if isinstance(node, list):
        return [inlined(item, document, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return inlined(target, document, depth + 1)
    return {key: inlined(value, document, depth + 1) for key, value in node.items()}


def check(spec, method: str, path: str, status: int, body: bytes) -> None:
    """The answer is documented: its status, and its JSON against the status's schema; an
    error the operation does not list must have the documents' error shape."""
    document, operation = spec[(template_of(path, spec), method)]
    response = inlined(operation["responses"].get(str(status)), document)
    if response is None:
        assert status >= 400, f"{method} {path}: {status} is not documented"
        error_shape = spec[("/v3/mail/send", "POST")][0]["components"]["schemas"]["ErrorResponse"]
        schema = error_shape
    else:
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            assert not body, f"{method} {path} {status} documents no body"
            return
    errors = list(Draft202012Validator(schema).iter_errors(json.loads(body)))
    assert not errors, f"{method} {path} {status}: {errors[0].message}"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeSendGrid(now=NOW.timestamp) as running:
        yield running


def answer(fake, method: str, path: str, body: dict | None = None, key: str | None = None):
    """(status, body) of one request through the real client, errors included."""
    from python_http_client.exceptions import HTTPError

    client = SendGridAPIClient(key or fake.api_key, host=fake.host).client
    endpoint = client
    for part in path.removeprefix("/v3/").split("/"):
        endpoint = endpoint._(part)
    kwargs = {"request_body": body} if body is not None else {}
    try:
        response = getattr(endpoint, method.lower())(**kwargs)
    except HTTPError as exc:
        return exc.status_code, exc.body
    return response.status_code, response.body


MAIL = {
    "personalizations": [{"to": [{"email": "ann@example.org"}]}],
    "from": {"email": "digest@community.example"},
    "subject": "This week",
    "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}],
}


def test_mail_send_and_its_errors(spec, fake):
    check(spec, "POST", "/v3/mail/send", *answer(fake, "POST", "/v3/mail/send", MAIL))
    bad = {**MAIL, "personalizations": [{"to": [{"email": "x@example.c"}]}]}
    status, body = answer(fake, "POST", "/v3/mail/send", bad)
    assert status == 400
    check(spec, "POST", "/v3/mail/send", status, body)
    check(spec, "POST", "/v3/mail/send", *answer(fake, "POST", "/v3/mail/send", MAIL, "SG.x"))
    fake.scopes.remove("mail.send")
    status, body = answer(fake, "POST", "/v3/mail/send", MAIL)
    assert status == 403
    check(spec, "POST", "/v3/mail/send", status, body)


def test_scheduling_and_cancelling(spec, fake):
    status, body = answer(fake, "POST", "/v3/mail/batch")
    check(spec, "POST", "/v3/mail/batch", status, body)
    batch = f"/v3/mail/batch/{json.loads(body)['batch_id']}"
    check(spec, "GET", batch, *answer(fake, "GET", batch))
    one = f"/v3/user/scheduled_sends/{json.loads(body)['batch_id']}"
    check(spec, "GET", one, *answer(fake, "GET", one))  # nothing stopped yet: 404
    stops, pause = "/v3/user/scheduled_sends", {"batch_id": batch[15:], "status": "pause"}
    check(spec, "POST", stops, *answer(fake, "POST", stops, pause))
    status, body = answer(fake, "POST", stops, pause)
    assert status == 400  # a second stop of one batch, as the document says
    check(spec, "POST", stops, status, body)
    check(spec, "GET", one, *answer(fake, "GET", one))
    check(spec, "PATCH", one, *answer(fake, "PATCH", one, {"status": "cancel"}))


def test_suppressions_scopes_senders_domains_and_stats(spec, fake):
    fake.suppress(42, "gone@example.org")
    fake.add_unsubscribe("left@example.org")
    fake.add_bounce("bounced@example.org")
    fake.add_spam_report("angry@example.org")
    fake.authenticated_domains["community.example"] = True
    fake.add_category_stats("digest:x:2026-W48", "2026-11-24", requests=3, delivered=3)
    paths = [
        "/v3/asm/groups/42/suppressions",
        "/v3/asm/groups/42",
        "/v3/suppression/unsubscribes",
        "/v3/suppression/bounces",
        "/v3/suppression/spam_reports",
        "/v3/scopes",
        "/v3/verified_senders",
        "/v3/whitelabel/domains",
    ]
    for path in paths:
        status, body = answer(fake, "GET", path)
        assert status == 200, (path, body)
        check(spec, "GET", path, status, body)
    stats = "/v3/categories/stats?categories=digest:x:2026-W48&start_date=2026-11-24"
    status, body = answer(fake, "GET", stats)
    check(spec, "GET", "/v3/categories/stats", status, body)


def test_a_key_without_the_scope_gets_the_error_shape(spec, fake):
    fake.scopes = ["mail.send"]
    for path in ("/v3/asm/groups/42", "/v3/verified_senders", "/v3/categories/stats"):
        status, body = answer(fake, "GET", path)
        assert status == 403
        check(spec, "GET", path, status, body)


def test_digest_asks_only_the_parameters_each_operation_declares(spec, site, fake_sendgrid):
    """Run the commands that read SendGrid, then hold each request to its operation."""
    from digest.core.config import load_config

    subscribe(load_config(site), 2)
    assert invoke(fake_sendgrid, "send", "-c", site).exit_code == 0
    for command in (("subscribers", "sync"), ("stats",), ("doctor",)):
        invoke(fake_sendgrid, *command, "-c", site)
    asked = {(r.method, r.path, tuple(sorted(r.query))) for r in fake_sendgrid.requests}
    assert len({path for _, path, _ in asked}) >= 9
    for method, path, params in asked:
        document, operation = spec[(template_of(path, spec), method)]
        declared = {_parameter(document, p).get("name") for p in operation.get("parameters", ())}
        assert set(params) <= declared, f"{method} {path} asks {params}, declares {declared}"


def _parameter(document: dict, parameter: dict) -> dict:
    while "$ref" in parameter:
        node = document
        for part in parameter["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        parameter = node
    return parameter
