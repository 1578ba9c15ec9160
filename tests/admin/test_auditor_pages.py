"""The auditor's pages explain themselves (issue 16): the export page describes every column
of every export and what verifying an export proves, without the README; its request field
takes the 8-character ids the pages show and refuses a bad one with a message; the verify
page says what "intact" means, hands over the checkpoint to keep, and has no dead link."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta
from html import unescape

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from erasure import exports
from erasure.actors import Actor
from erasure.admin.audit import EXPORT_COLUMNS, EXPORT_OUTCOMES
from erasure.lifecycle import ItemOutcome
from erasure.models import AuditEvent, ErasureRequest, Subject
from erasure.roles import AUDITOR
from erasure.services import audit_log
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db

EXPORT_URL = "/admin/erasure/auditevent/export/"
VERIFY_URL = "/admin/erasure/auditevent/verify/"


def _text(html: str) -> str:
    spaced = re.sub(r"</?(?:td|th|tr|li|p|br|dt|dd|dl|h\d|pre|table)\b[^>]*>", " ", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", spaced))).strip()


def _filed(n: int = 0) -> ErasureRequest:
    return request_file(
        subject_key=f"auth0|auditor-page-{n}-{uuid.uuid4().hex[:6]}",
        actor=Actor.system("test"),
        source="admin",
    ).request


@pytest.fixture
def auditor(client, role_user):
    client.force_login(role_user("audrey", AUDITOR))
    return client


def test_every_exported_column_is_explained_on_the_page_in_the_exports_order():
    # A column added to an export without a word for the auditor fails here.
    assert [name for name, _ in EXPORT_COLUMNS["events"]] == list(exports.COLUMNS)
    assert [name for name, _ in EXPORT_COLUMNS["items"]] == list(exports.ITEM_COLUMNS)
    assert [name for name, _ in EXPORT_COLUMNS["requests"]] == list(exports.REQUEST_COLUMNS)
    assert [name for name, _ in EXPORT_OUTCOMES] == list(ItemOutcome.values)
    assert all(text.strip() for kind in EXPORT_COLUMNS.values() for _, text in kind)


def test_the_export_page_explains_the_columns_and_verification_without_the_readme(auditor):
    response = auditor.get(EXPORT_URL)
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "README" not in html

    for what, names in (
        ("events", exports.COLUMNS),
        ("items", exports.ITEM_COLUMNS),
        ("requests", exports.REQUEST_COLUMNS),
    ):
        block = re.search(rf'<dl class="columns" data-export="{what}">(.*?)</dl>', html, re.S)
        assert block is not None, what
        assert re.findall(r"<dt>(\w+)</dt>", block.group(1)) == list(names)
    assert "actor Who did it: user:NAME (a person signed in to this admin)" in text
    assert "leaf_index The event's place in the audit log, from 0" in text
    assert "dispatch_id The dispatch (one call to the namespace API" in text
    assert (
        "items How many items it covered; 0 when nothing was mapped to the subject when it "
        "ran, and then nothing was erased."
    ) in text
    assert (
        "deleted_or_not_found The item is gone after the call, but the API's answer cannot "
        "tell whether this call deleted it or it was already absent"
    ) in text

    assert "What verifying an export proves" in text
    assert (
        "python manage.py verify_audit --file EXPORT.jsonl --checkpoint CHECKPOINT --public-key KEY"
    ) in text
    assert "Verified” means: the checkpoint's signature is the service's" in text
    assert "none was changed, removed, added or put in another order since" in text
    assert 'href="/admin/erasure/auditevent/verify/"' in html


def test_a_short_request_id_is_accepted_by_the_export_form(auditor):
    request = _filed()
    _filed(1)
    response = auditor.get(
        EXPORT_URL, {"what": "events", "format": "jsonl", "request": str(request.pk)[:8]}
    )
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert rows and {row["request_id"] for row in rows} == {str(request.pk)}
    event = AuditEvent.objects.get(pk=response["X-Export-Event-Id"])
    assert event.actor == "user:audrey" and event.details["request"] == str(request.pk)

    # The whole id, in capitals, still works.
    whole = auditor.get(
        EXPORT_URL, {"what": "items", "format": "csv", "request": str(request.pk).upper()}
    )
    assert whole.status_code == 200 and isinstance(whole, StreamingHttpResponse)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0000000", "is not a request id: give the whole id or its first 8 characters"),
        ("not-an-id", "is not a request id: give the whole id or its first 8 characters"),
        ("00000000", "no request's id begins with 00000000"),
        ("0" * 34, "is not a request id"),
    ],
)
def test_an_unknown_or_malformed_request_id_is_a_form_error_with_a_message(auditor, typed, message):
    _filed()
    before = AuditEvent.objects.filter(event_type="export.created").count()
    response = auditor.get(EXPORT_URL, {"what": "events", "format": "csv", "request": typed})
    assert response.status_code == 200
    assert not isinstance(response, StreamingHttpResponse)
    html = response.content.decode()
    assert "Please correct the error below: nothing was exported." in _text(html)
    errors = _text("".join(re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', html, re.S)))
    assert message in errors
    assert AuditEvent.objects.filter(event_type="export.created").count() == before


def test_an_ambiguous_short_id_asks_for_more_of_it(auditor):
    # Two requests whose ids share their first 8 characters.
    now = timezone.now()
    for n, tail in enumerate(("0000-4000-8000-000000000001", "0000-4000-8000-000000000002")):
        ErasureRequest.objects.create(
            id=uuid.UUID(f"abcdef12-{tail}"),
            subject=Subject.objects.create(
                key_hash=hashlib.sha256(f"twin-{n}".encode()).hexdigest()
            ),
            source="api",
            status="received",
            received_at=now,
            due_at=now + timedelta(days=30),
        )
    response = auditor.get(EXPORT_URL, {"what": "events", "format": "csv", "request": "abcdef12"})
    assert response.status_code == 200
    assert "more than one request's id begins with abcdef12: type more of the id" in _text(
        response.content.decode()
    )
    # The whole id tells them apart.
    whole = auditor.get(
        EXPORT_URL,
        {"what": "requests", "format": "jsonl", "request": "abcdef12-0000-4000-8000-000000000002"},
    )
    assert whole.status_code == 200 and isinstance(whole, StreamingHttpResponse)
    rows = [json.loads(line) for line in b"".join(whole.streaming_content).splitlines()]
    assert [row["id"] for row in rows] == ["abcdef12-0000-4000-8000-000000000002"]


def test_the_verify_page_says_what_intact_means_and_gives_the_checkpoint_to_keep(auditor):
    _filed()
    audit_log.sequence_pending()
    response = auditor.get(VERIFY_URL)
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "The log is intact:" in text
    assert (
        "Intact Every event recorded here still has exactly the content it was written "
        "with; none is missing, none was added afterwards, none was moved"
    ) in text
    assert "Does not verify At least one event was changed, removed, added or moved" in text
    assert "a copy of a checkpoint kept outside this service still catches the change" in text

    checkpoint = audit_log.latest_checkpoint()
    assert checkpoint is not None
    note = re.search(r'<pre id="latest-checkpoint-note">(.*?)</pre>', html, re.S)
    assert note is not None and unescape(note.group(1)) == checkpoint.note
    assert checkpoint.key.verifier_key in html


def test_no_link_on_the_auditor_pages_is_dead(auditor):
    _filed()
    for page in ("/admin/erasure/auditevent/", EXPORT_URL, VERIFY_URL):
        html = auditor.get(page).content.decode()
        links = set(re.findall(r'<a [^>]*href="(/admin/[^"#]*)"', html))
        assert links, page
        for link in sorted(links):
            status = auditor.get(unescape(link)).status_code
            assert status == 200, (page, link, status)


def test_an_exporter_who_may_not_read_the_event_list_gets_no_link_to_it(client, staff):
    client.force_login(staff("exporter", "export_audit"))
    html = client.get(EXPORT_URL).content.decode()
    assert 'href="/admin/erasure/auditevent/"' not in html
    assert 'href="/admin/erasure/auditevent/verify/"' not in html
    assert client.get("/admin/erasure/auditevent/").status_code == 403


def test_without_a_signed_checkpoint_intact_says_what_it_cannot_prove(auditor, settings):
    settings.AUDIT_SIGNING_KEY = ""
    _filed()
    audit_log.sequence_pending()
    text = _text(auditor.get(VERIFY_URL).content.decode())
    assert "The log is intact:" in text and "held to 0 signed checkpoints" in text
    assert (
        "No signed checkpoint could be used: every event agrees with its own fingerprint, "
        "but nothing signed proves that these are the events first recorded."
    ) in text
    assert "No checkpoint has been signed yet: no signing key is configured" in text


def test_the_event_list_shows_the_requests_short_id_linked_for_who_may_open_it(
    client, auditor, staff
):
    request = _filed()
    short, url = str(request.pk)[:8], f"/admin/erasure/erasurerequest/{request.pk}/change/"
    html = auditor.get("/admin/erasure/auditevent/").content.decode()
    assert f'<a href="{url}">{short}</a>' in html
    assert "Erasure request " not in html  # not the request's long name and status

    client.force_login(staff("log-reader", "view_auditevent"))
    html = client.get("/admin/erasure/auditevent/").content.decode()
    assert f">{short}</td>" in html and f'href="{url}"' not in html
