"""The fake SendGrid v3 API, exercised through the real `sendgrid` client."""

from __future__ import annotations

import copy
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from python_http_client import exceptions as sg_errors
from sendgrid import SendGridAPIClient

from tests.fake_sendgrid import DEFAULT_SENDER, FakeSendGrid

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the fake's clock in these tests


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """urllib (under python-http-client) would send loopback requests to a configured proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fake():
    with FakeSendGrid(now=lambda: NOW) as running:
        yield running


@pytest.fixture
def sg(fake: FakeSendGrid) -> SendGridAPIClient:
    client = SendGridAPIClient(fake.api_key, host=fake.host)
    client.client.timeout = 5
    return client


def mail(**overrides) -> dict:
    body = {
        "personalizations": [
            {
                "to": [{"email": "ada@example.com", "name": "Ada"}],
                "cc": [{"email": "bob@example.org"}],
            },
            {"to": [{"email": "Cy@Example.com"}], "custom_args": {"reader": "cy"}},
        ],
        "from": {"email": DEFAULT_SENDER, "name": "Community digest"},
        "subject": "This week",
        "content": [
            {"type": "text/plain", "value": "Hello"},
            {"type": "text/html", "value": "<p>Hello</p>"},
        ],
        "categories": ["digest"],
        "custom_args": {"issue": "2026-01"},
        "headers": {"List-Unsubscribe": "<mailto:unsub@community.example>"},
        "asm": {"group_id": 42, "groups_to_display": [42]},
        "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False}},
    }
    body.update(overrides)
    return body


def post(sg: SendGridAPIClient, body: dict, **kwargs):
    return sg.client.mail.send.post(request_body=body, **kwargs)


def errors_of(sg: SendGridAPIClient, body: dict) -> list[dict]:
    with pytest.raises(sg_errors.BadRequestsError) as info:
        post(sg, body)
    assert info.value.status_code == 400
    return info.value.to_dict["errors"]


def recipients(n: int) -> list[dict]:
    return [{"to": [{"email": f"reader{i}@example.com"}]} for i in range(n)]


# -- the happy path -----------------------------------------------------------------------------


def test_valid_mail_is_accepted_and_recorded(fake, sg):
    response = post(sg, mail())
    assert response.status_code == 202
    assert response.body == b""
    message_id = response.headers["X-Message-Id"]
    assert message_id
    assert [a.message_id for a in fake.accepted] == [message_id]
    assert fake.accepted[0].body == mail()
    assert fake.accepted[0].time == NOW
    assert fake.deliveries() == {"ada@example.com": 1, "bob@example.org": 1, "cy@example.com": 1}
    assert fake.mail_send_count == 1
    (record,) = fake.requests
    assert (record.method, record.path, record.status) == ("POST", "/v3/mail/send", 202)
    assert "authorization" not in record.headers
    assert record.headers["content-type"] == "application/json"

    second = post(sg, mail(personalizations=[{"to": [{"email": "ADA@example.com"}]}]))
    assert second.headers["X-Message-Id"] != message_id
    assert fake.deliveries()["ada@example.com"] == 2


def test_template_mail_needs_neither_subject_nor_content(fake, sg):
    body = mail(template_id="d-123", personalizations=[{"to": [{"email": "a@example.com"}]}])
    del body["subject"], body["content"]
    assert post(sg, body).status_code == 202


def test_sendgrid_helper_mail_is_accepted(fake, sg):
    from sendgrid.helpers.mail import Asm, Category, CustomArg, GroupId, Mail

    message = Mail(DEFAULT_SENDER, ["a@example.com", "b@example.com"], "Hi", "text", "<p>html</p>")
    message.asm = Asm(GroupId(42))
    message.category = Category("digest")
    message.custom_arg = CustomArg("issue", "7")
    assert sg.send(message).status_code == 202
    assert set(fake.deliveries()) == {"a@example.com", "b@example.com"}


# -- validation ---------------------------------------------------------------------------------


def _without(key: str) -> Callable[[dict], None]:
    return lambda body: body.pop(key)


def _set(path: str, value) -> Callable[[dict], None]:
    """Set a dotted path (list indexes as numbers) in the body."""

    def change(body: dict) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


INVALID = [
    ("no personalizations", _set("personalizations", []), "personalizations", "at least one"),
    ("too many", _set("personalizations", recipients(1001)), "personalizations", "at most 1000"),
    ("no to", _set("personalizations.0.to", []), "personalizations.0.to", "at least one to"),
    (
        "over 1000 recipients",
        _set("personalizations", [{"to": [{"email": f"r{i}@example.com"} for i in range(1001)]}]),
        "personalizations",
        "recipients",
    ),
    (
        "duplicate across to/cc",
        _set("personalizations.0.cc", [{"email": "ADA@example.com"}]),
        "personalizations.0.cc.0.email",
        "more than once",
    ),
    (
        "bad email",
        _set("personalizations.1.to.0.email", "cy@"),
        "personalizations.1.to.0.email",
        "valid",
    ),
    (
        "name with comma",
        _set("personalizations.0.to.0.name", "Lovelace, Ada"),
        "personalizations.0.to.0.name",
        "';' or ','",
    ),
    ("no from", _without("from"), "from", "required"),
    ("bad from", _set("from", {"email": "not an address"}), "from.email", "valid"),
    ("no subject", _without("subject"), "personalizations.0.subject", "subject is required"),
    ("empty subject", _set("subject", ""), "subject", "non-empty"),
    ("no content", _without("content"), "content", "required"),
    ("empty content", _set("content", []), "content", "non-empty"),
    ("empty value", _set("content.1.value", ""), "content.1.value", "non-empty"),
    (
        "html before plain",
        _set(
            "content",
            [{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}],
        ),
        "content.1.type",
        "text/plain must be the first",
    ),
    ("11 categories", _set("categories", [f"c{i}" for i in range(11)]), "categories", "at most 10"),
    ("repeated category", _set("categories", ["a", "a"]), "categories.1", "twice"),
    ("long category", _set("categories", ["x" * 256]), "categories.0", "255"),
    ("non-ascii category", _set("categories", ["café"]), "categories.0", "ASCII"),
    ("numeric custom arg", _set("custom_args", {"issue": 7}), "custom_args.issue", "strings"),
    (
        "numeric personal custom arg",
        _set("personalizations.1.custom_args", {"n": 1}),
        "personalizations.1.custom_args.n",
        "strings",
    ),
    (
        "custom args too big",
        _set("personalizations.1.custom_args", {"blob": "x" * 10_000}),
        "personalizations.1.custom_args",
        "less than 10000",
    ),
    (
        "reserved header",
        _set("headers", {"reply-to": "x@example.com"}),
        "headers.reply-to",
        "reserved",
    ),
    ("header with space", _set("headers", {"X Bad": "1"}), "headers.X Bad", "ASCII without spaces"),
    ("non-string header", _set("headers", {"X-Count": 1}), "headers.X-Count", "string"),
    (
        "reply_to and reply_to_list",
        lambda b: b.update(
            reply_to={"email": "r@example.com"}, reply_to_list=[{"email": "s@example.com"}]
        ),
        "reply_to",
        "not both",
    ),
    ("send_at string", _set("send_at", "tomorrow"), "send_at", "integer"),
    ("send_at too far", _set("send_at", NOW + 72 * 3600 + 1), "send_at", "72 hours"),
    ("unknown batch", _set("batch_id", "NoSuchBatch123"), "batch_id", "batch"),
    ("unknown asm group", _set("asm", {"group_id": 7}), "asm.group_id", "does not exist"),
    ("asm group as string", _set("asm", {"group_id": "42"}), "asm.group_id", "integer"),
    (
        "26 groups to display",
        _set("asm", {"group_id": 42, "groups_to_display": [42] * 26}),
        "asm.groups_to_display",
        "At most 25",
    ),
    (
        "enable as string",
        _set("mail_settings", {"sandbox_mode": {"enable": "true"}}),
        "mail_settings.sandbox_mode.enable",
        "boolean",
    ),
    (
        "tracking enable as int",
        _set("tracking_settings", {"open_tracking": {"enable": 1}}),
        "tracking_settings.open_tracking.enable",
        "boolean",
    ),
    ("unknown top-level key", _set("sandbox", True), "sandbox", "Unknown field"),
]


@pytest.mark.parametrize(
    ("change", "field", "needle"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_validation_rejects(fake, sg, change, field, needle):
    body = mail()
    change(body)
    errors = errors_of(sg, body)
    assert {"message", "field", "help"} <= set(errors[0])
    matching = [e for e in errors if e["field"] == field]
    assert matching, errors
    assert any(needle.lower() in e["message"].lower() for e in matching), matching
    assert fake.accepted == []
    assert fake.requests[-1].status == 400


def test_validation_reports_every_problem_at_once(fake, sg):
    body = mail(subject="", categories=["a", "a"], custom_args={"n": 1}, nonsense=1)
    body["personalizations"][0]["to"][0]["email"] = "bad"
    body["content"].reverse()
    fields = {e["field"] for e in errors_of(sg, body)}
    assert {
        "subject",
        "categories.1",
        "custom_args.n",
        "nonsense",
        "personalizations.0.to.0.email",
        "content.1.type",
    } <= fields


def test_subject_in_every_personalization_is_enough(fake, sg):
    body = mail()
    del body["subject"]
    for p in body["personalizations"]:
        p["subject"] = "Per reader"
    assert post(sg, body).status_code == 202


def test_same_address_in_two_personalizations_is_allowed_unless_strict(fake, sg):
    body = mail(personalizations=[{"to": [{"email": "a@example.com"}]}] * 2)
    assert post(sg, body).status_code == 202
    assert fake.deliveries()["a@example.com"] == 2
    fake.reject_repeated_recipients = True
    assert errors_of(sg, body)[0]["field"] == "personalizations.1"


def test_send_at_within_72_hours_is_accepted(fake, sg):
    assert post(sg, mail(send_at=NOW + 72 * 3600)).status_code == 202


def test_bad_json_bad_utf8_and_huge_body(fake):
    def raw(data: bytes) -> int:
        request = urllib.request.Request(
            fake.host + "/v3/mail/send",
            data=data,
            method="POST",
            headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            error.read()
            error.close()
            return error.code

    assert raw(b'{"personalizations": [') == 400
    assert raw(b'{"subject": "\xff\xfe"}') == 415
    assert raw(json.dumps(mail()).encode("utf-16")) == 415
    assert raw(b"[]") == 400
    assert raw(b" " * (30 * 1024 * 1024 + 1)) == 413
    assert fake.accepted == []


def test_too_large_through_the_client(fake, sg):
    fake.max_body_bytes = 10_000
    with pytest.raises(sg_errors.PayloadTooLargeError):
        post(sg, mail(content=[{"type": "text/plain", "value": "x" * 20_000}]))


# -- auth, sender, sandbox ----------------------------------------------------------------------


def test_wrong_key_is_401(fake):
    client = SendGridAPIClient("SG.wrong.key", host=fake.host)
    with pytest.raises(sg_errors.UnauthorizedError) as info:
        client.client.mail.send.post(request_body=mail(), timeout=5)
    (error,) = info.value.to_dict["errors"]
    assert error["field"] is None and error["help"] is None and error["message"]
    assert fake.accepted == []


def test_unverified_sender_is_403(fake, sg):
    with pytest.raises(sg_errors.ForbiddenError) as info:
        post(sg, mail(**{"from": {"email": "someone@elsewhere.example"}}))
    assert "verified Sender Identity" in info.value.to_dict["errors"][0]["message"]
    fake.verified_senders.add("someone@elsewhere.example")
    assert post(sg, mail(**{"from": {"email": "someone@elsewhere.example"}})).status_code == 202


def test_sandbox_mode_validates_but_records_nothing(fake, sg):
    response = post(sg, mail(mail_settings={"sandbox_mode": {"enable": True}}))
    assert response.status_code == 200
    assert fake.accepted == [] and fake.deliveries() == {}
    assert fake.mail_send_count == 1
    errors_of(sg, mail(subject="", mail_settings={"sandbox_mode": {"enable": True}}))


def test_unknown_path_and_wrong_method(fake, sg):
    with pytest.raises(sg_errors.NotFoundError) as info:
        sg.client.nothing.here.get()
    assert info.value.to_dict["errors"][0]["message"]
    with pytest.raises(sg_errors.MethodNotAllowedError):
        sg.client.mail.send.get()


# -- faults -------------------------------------------------------------------------------------


def test_fault_429_is_not_accepted_and_says_when_to_retry(fake, sg):
    fake.fail_next("429")
    with pytest.raises(sg_errors.TooManyRequestsError) as info:
        post(sg, mail())
    error = info.value
    assert error.to_dict == {"errors": [{"field": None, "message": "too many requests"}]}
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert int(error.headers["X-RateLimit-Limit"]) > 0
    assert int(error.headers["X-RateLimit-Reset"]) == NOW + 1
    assert error.headers["Retry-After"] is None
    assert fake.accepted == []
    assert post(sg, mail()).status_code == 202  # the retry goes through


def test_fault_500_is_not_accepted(fake, sg):
    fake.fail_next("500")
    with pytest.raises(sg_errors.InternalServerError) as info:
        post(sg, mail())
    assert info.value.to_dict["errors"][0]["message"]
    assert fake.accepted == []


def test_drop_before_acceptance_raises_remote_disconnected(fake, sg):
    fake.fail_next("drop_before")
    with pytest.raises(http.client.RemoteDisconnected) as info:
        post(sg, mail())
    assert isinstance(info.value, OSError)
    assert fake.accepted == []
    assert fake.requests[-1].status is None and fake.requests[-1].fault == "drop_before"


def test_drop_after_acceptance_raises_but_was_accepted(fake, sg):
    fake.fail_next("drop_after")
    with pytest.raises(http.client.RemoteDisconnected):
        post(sg, mail())
    (accepted,) = fake.accepted
    assert accepted.fault == "drop_after"
    assert fake.deliveries()["ada@example.com"] == 1


@pytest.mark.parametrize(("kind", "accepted"), [("reset_before", 0), ("reset_after", 1)])
def test_reset_raises_connection_reset(fake, sg, kind, accepted):
    fake.fail_next(kind)
    with pytest.raises(ConnectionResetError):
        post(sg, mail())
    assert len(fake.accepted) == accepted


def test_slow_answer_times_out_but_was_accepted(fake, sg):
    fake.slow_seconds = 1.0
    fake.fail_next("slow")
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        post(sg, mail(), timeout=0.2)
    assert time.perf_counter() - started < 0.9
    (accepted,) = fake.accepted
    assert accepted.fault == "slow"


def test_slow_answer_arrives_for_a_patient_client(fake, sg):
    fake.slow_seconds = 0.1
    fake.fail_next("slow")
    response = post(sg, mail(), timeout=2)
    assert response.status_code == 202
    assert response.headers["X-Message-Id"] == fake.accepted[0].message_id


def test_faults_hook_sees_count_and_body(fake, sg):
    seen = []

    def hook(n: int, body: dict) -> str | None:
        seen.append((n, body["subject"]))
        return "503" if n == 1 else None

    fake.faults = hook
    post(sg, mail())
    with pytest.raises(sg_errors.ServiceUnavailableError):
        post(sg, mail(subject="second"))
    errors_of(sg, mail(subject=""))  # invalid: the hook is not consulted
    post(sg, mail(subject="third"))
    assert seen == [(0, "This week"), (1, "second"), (2, "third")]
    assert fake.injected == [(1, "503")]


def test_fail_randomly_is_deterministic_and_near_the_rate(fake):
    hook = fake.fail_randomly(rate=0.2, seed=7)
    first = [hook(n, {}) for n in range(2000)]
    again = fake.fail_randomly(rate=0.2, seed=7)
    assert [again(n, {}) for n in range(2000)] == first
    other = fake.fail_randomly(rate=0.2, seed=8)
    assert [other(n, {}) for n in range(2000)] != first
    failures = [kind for kind in first if kind]
    assert 0.16 < len(failures) / len(first) < 0.24
    assert set(failures) == {"429", "500", "drop_before", "drop_after", "slow"}
    with pytest.raises(ValueError):
        fake.fail_randomly(kinds=("boom",))


def test_fail_randomly_through_the_client(fake, sg):
    fake.fail_randomly(rate=0.3, seed=3, kinds=("429", "500", "drop_before"))
    outcomes = []
    for _ in range(40):
        try:
            outcomes.append(post(sg, mail()).status_code)
        except sg_errors.HTTPError as error:
            outcomes.append(error.status_code)
        except OSError:
            outcomes.append("dropped")
    assert outcomes.count(202) == len(fake.accepted)
    assert len(fake.injected) == 40 - outcomes.count(202)
    assert 5 <= len(fake.injected) <= 20


def test_latency_is_added_to_each_request(fake, sg):
    fake.latency = 0.1
    started = time.perf_counter()
    post(sg, mail())
    assert time.perf_counter() - started >= 0.1


# -- scheduling ---------------------------------------------------------------------------------


def test_batch_schedule_and_cancel(fake, sg):
    response = sg.client.mail.batch.post()
    assert response.status_code == 201
    batch_id = json.loads(response.body)["batch_id"]
    assert sg.client.mail.batch._(batch_id).get().status_code == 200
    with pytest.raises(sg_errors.NotFoundError):
        sg.client.mail.batch._("UnknownBatch0000").get()
    with pytest.raises(sg_errors.BadRequestsError):
        sg.client.mail.batch._("bad!").get()

    assert post(sg, mail(batch_id=batch_id, send_at=NOW + 3600)).status_code == 202

    scheduled = sg.client.user.scheduled_sends
    created = scheduled.post(request_body={"batch_id": batch_id, "status": "pause"})
    assert created.status_code == 201
    assert json.loads(created.body) == {"batch_id": batch_id, "status": "pause"}
    assert fake.paused_batches == {batch_id}
    assert json.loads(scheduled.get().body) == [{"batch_id": batch_id, "status": "pause"}]
    assert scheduled._(batch_id).patch(request_body={"status": "cancel"}).status_code == 204
    assert fake.cancelled_batches == {batch_id}
    assert fake.deliveries(skip_cancelled=True) == {}
    assert fake.deliveries()["ada@example.com"] == 1
    assert scheduled._(batch_id).delete().status_code == 204
    assert fake.cancelled_batches == set()

    with pytest.raises(sg_errors.BadRequestsError):
        scheduled.post(request_body={"batch_id": batch_id, "status": "stop"})
    with pytest.raises(sg_errors.BadRequestsError):
        scheduled.post(request_body={"batch_id": "NotABatch123", "status": "cancel"})
    with pytest.raises(sg_errors.NotFoundError):
        scheduled._(batch_id).delete()


# -- suppressions -------------------------------------------------------------------------------


def test_group_suppressions_come_whole_whatever_paging_is_asked(fake, sg):
    fake.suppress(42, *(f"gone{n}@example.com" for n in range(700)))
    everyone = [f"gone{n}@example.com" for n in range(700)]
    response = sg.client.asm.groups._(42).suppressions.get()
    assert json.loads(response.body) == everyone
    paged = sg.client.asm.groups._(42).suppressions.get(query_params={"limit": 5, "offset": 500})
    assert json.loads(paged.body) == everyone  # the endpoint takes no paging parameters
    assert json.loads(sg.client.asm.groups._(99).suppressions.get().body) == []


@pytest.mark.parametrize("kind", ["unsubscribes", "bounces", "spam_reports"])
def test_suppression_lists_page_through(fake, sg, kind):
    add = {
        "unsubscribes": fake.add_unsubscribe,
        "bounces": fake.add_bounce,
        "spam_reports": fake.add_spam_report,
    }[kind]
    for i in range(1203):
        add(f"s{i}@example.com", created=NOW - i)
    endpoint = getattr(sg.client.suppression, kind)
    emails, offset = [], 0
    while True:
        page = json.loads(endpoint.get(query_params={"limit": 500, "offset": offset}).body)
        emails += [item["email"] for item in page]
        if not page:
            break
        offset += len(page)
    assert emails == [f"s{i}@example.com" for i in range(1203)]
    item = json.loads(endpoint.get(query_params={"limit": 1}).body)[0]
    assert item["created"] == NOW and isinstance(item["created"], int)
    if kind == "bounces":
        assert {"reason", "status"} <= set(item)
    # the page size is capped at 500 and the time window applies
    assert len(json.loads(endpoint.get(query_params={"limit": 1000}).body)) == 500
    window = {"start_time": NOW - 9, "end_time": NOW - 5}
    assert len(json.loads(endpoint.get(query_params=window).body)) == 5
    with pytest.raises(sg_errors.BadRequestsError):
        endpoint.get(query_params={"limit": "many"})


# -- speed --------------------------------------------------------------------------------------


def test_thousand_personalizations_round_trip_is_fast(fake, sg):
    body = mail(personalizations=recipients(1000))
    post(sg, body)  # warm up
    started = time.perf_counter()
    response = post(sg, body)
    assert time.perf_counter() - started < 0.5
    assert response.status_code == 202
    assert fake.deliveries()["reader999@example.com"] == 2


def test_body_is_not_copied_or_mutated(fake, sg):
    body = mail()
    before = copy.deepcopy(body)
    post(sg, body)
    assert body == before == fake.accepted[0].body


def test_concurrent_senders_are_all_recorded(fake, sg):
    bodies = [mail(personalizations=[{"to": [{"email": f"c{i}@example.com"}]}]) for i in range(60)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda body: post(sg, body), bodies))
    ids = {r.headers["X-Message-Id"] for r in responses}
    assert len(ids) == 60
    assert ids == {a.message_id for a in fake.accepted}
    assert fake.mail_send_count == 60 and len(fake.requests) == 60
    assert fake.deliveries() == {f"c{i}@example.com": 1 for i in range(60)}


def test_exit_does_not_wait_for_slow_answers():
    with FakeSendGrid(slow_seconds=30) as fake:
        fake.fail_next("slow")
        client = SendGridAPIClient(fake.api_key, host=fake.host)
        with pytest.raises(TimeoutError):
            client.client.mail.send.post(request_body=mail(), timeout=0.1)
        started = time.perf_counter()
    assert time.perf_counter() - started < 1
    assert len(fake.accepted) == 1


# -- account checks and statistics (digest doctor, digest stats) ----------------------------


def get(sg: SendGridAPIClient, path: str, **params):
    endpoint = sg.client
    for part in path.split("/"):
        endpoint = endpoint._(part)
    response = endpoint.get(query_params=params or None)
    return response.status_code, json.loads(response.body)


def test_scopes_list_the_keys_permissions(fake, sg):
    status, body = get(sg, "scopes")
    assert status == 200
    assert "mail.send" in body["scopes"]
    fake.scopes = ["asm.groups.read"]
    assert get(sg, "scopes")[1] == {"scopes": ["asm.groups.read"]}


def test_every_account_endpoint_needs_the_key(fake):
    wrong = SendGridAPIClient("SG.wrong", host=fake.host)
    for path in ("scopes", "verified_senders", "whitelabel/domains", "asm/groups/42"):
        with pytest.raises(sg_errors.UnauthorizedError):
            get(wrong, path)


def test_verified_senders_include_the_unverified(fake, sg):
    fake.unverified_senders.add("new@community.example")
    status, body = get(sg, "verified_senders", limit=100)
    assert status == 200
    senders = {s["from_email"]: s["verified"] for s in body["results"]}
    assert senders == {DEFAULT_SENDER: True, "new@community.example": False}
    assert {"id", "nickname", "from_name", "reply_to", "locked"} <= set(body["results"][0])


def test_authenticated_domains_say_whether_their_records_are_valid(fake, sg):
    assert get(sg, "whitelabel/domains") == (200, [])
    fake.authenticated_domains.update({"community.example": True, "other.example": False})
    _, domains = get(sg, "whitelabel/domains")
    assert [(d["domain"], d["valid"]) for d in domains] == [
        ("community.example", True),
        ("other.example", False),
    ]
    assert domains[0]["subdomain"] == "em1234"


def test_a_suppression_group_by_id(fake, sg):
    fake.suppress(42, "gone@example.org")
    status, group = get(sg, "asm/groups/42")
    assert status == 200
    assert group["id"] == 42 and group["unsubscribes"] == 1 and group["is_default"] is False
    with pytest.raises(sg_errors.NotFoundError):
        get(sg, "asm/groups/7")


def test_read_endpoints_refuse_a_key_without_their_scope(fake, sg):
    fake.scopes = ["mail.send"]
    for path in ("verified_senders", "whitelabel/domains", "asm/groups/42"):
        with pytest.raises(sg_errors.ForbiddenError):
            get(sg, path)
    with pytest.raises(sg_errors.ForbiddenError):
        get(sg, "categories/stats", categories="2026-W01", start_date="2025-12-30")


def test_category_stats_give_every_day_of_the_window(fake, sg):
    fake.add_category_stats("2026-W01", "2025-12-31", requests=3, delivered=2, bounces=1)
    status, days = get(
        sg, "categories/stats", categories="2026-W01", start_date="2025-12-30",
        end_date="2026-01-01", aggregated_by="day",
    )  # fmt: skip
    assert status == 200
    assert [d["date"] for d in days] == ["2025-12-30", "2025-12-31", "2026-01-01"]
    (stat,) = days[1]["stats"]
    assert stat["type"] == "category" and stat["name"] == "2026-W01"
    assert stat["metrics"]["requests"] == 3 and stat["metrics"]["delivered"] == 2
    assert stat["metrics"]["unique_opens"] == 0
    assert days[0]["stats"][0]["metrics"]["requests"] == 0
    with pytest.raises(ValueError):
        fake.add_category_stats("2026-W01", "2025-12-31", openz=1)


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2025-12-30"},  # no category
        {"categories": "a"},  # no start_date
        {"categories": "a", "start_date": "30/12/2025"},
        {"categories": "a", "start_date": "2026-01-01", "end_date": "2025-12-01"},
        {"categories": "a", "start_date": "2024-11-01"},  # older than 13 months
        {"categories": "a", "start_date": "2025-12-30", "aggregated_by": "hour"},
    ],
)
def test_category_stats_reject_bad_queries(sg, params):
    with pytest.raises(sg_errors.BadRequestsError):
        get(sg, "categories/stats", **params)


def test_api_faults_answer_instead(fake, sg):
    fake.api_faults["/v3/categories/stats"] = 429
    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        get(sg, "categories/stats", categories="a", start_date="2025-12-30")
    assert caught.value.headers["X-RateLimit-Reset"] == str(NOW + 1)
    fake.api_faults["/v3/scopes"] = 500
    with pytest.raises(sg_errors.InternalServerError):
        get(sg, "scopes")
