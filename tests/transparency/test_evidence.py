"""Evidence bundles of a completed request: downloaded from the API or taken from the
certificate PDF, verified by `verify_audit --bundle` in a process that has no database and
no signing key; and every kind of tampering with the file named."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from erasure.models import AuditEvent, AuditEventType, ErasureItem
from erasure.services import audit_log
from erasure.services.execution import request_execute
from erasure.transparency import merkle
from erasure.transparency.leaves import canonical_bytes
from erasure.transparency.notes import Checkpoint, Signer, Verifier, open_checkpoint
from tests.conftest import manage_py
from tests.services.execution.helpers import prepare

pytestmark = pytest.mark.django_db(transaction=True)


def offline_env() -> dict[str, str]:
    """A process that cannot reach any database and has no signing key."""
    env = dict(os.environ)
    for name in (
        "AUDIT_SIGNING_KEY",
        "AUDIT_SIGNING_KEY_FILE",
        "DATABASE_URL_FILE",
        "ERASURE_FAILPOINTS",
        "SECRET_KEY_FILE",
        "SUBJECT_HASH_KEY_FILE",
    ):
        env.pop(name, None)
    env.update(
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
        SECRET_KEY="anything-offline",
        SUBJECT_HASH_KEY="anything-offline-too",
    )
    return env


def verify_offline(path: Path, *keys: str) -> tuple[int, str]:
    args = ["verify_audit", "--bundle", str(path)]
    for key in keys:
        args += ["--public-key", key]
    completed = manage_py(*args, env=offline_env(), timeout=120)
    return completed.returncode, completed.stdout + completed.stderr


def public_key() -> str:
    return audit_log.signer().verifier.encode()


@pytest.fixture
def completed(emulator, settings):
    """A request completed with failures: every vector delete answered 500, with one
    attempt allowed (as in tests/test_certificates.py)."""
    settings.ERASURE_MAX_ATTEMPTS = 1
    request = prepare(emulator, texts=4, vectors=3, absent=1)
    emulator.control("faults/next", {"namespace": "vecs", "fault": "server_error", "count": 4})
    request_execute(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == "completed_with_failures"
    return request


@pytest.fixture
def reader(api_key_factory):
    return api_key_factory("reader", "audit:read")


def request_event_ids(request) -> list[int]:
    return sorted(AuditEvent.objects.filter(request=request).values_list("id", flat=True))


def bundle_ids(bundle: dict[str, Any]) -> list[int]:
    return sorted(entry["event"]["id"] for entry in bundle["events"])


def download(reader, request) -> dict[str, Any]:
    response = reader.get(f"/api/v1/requests/{request.pk}/evidence")
    assert response.status_code == 200, response.content
    return response.json()


def write(path: Path, bundle: dict[str, Any]) -> Path:
    path.write_text(json.dumps(bundle, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_bundle_verifies_offline_with_no_database_and_holds_every_event(
    completed, reader, tmp_path
):
    expected = request_event_ids(completed)
    assert AuditEvent.objects.filter(request=completed, leaf_index__isnull=True).exists()
    bundle = download(reader, completed)
    assert bundle["request_id"] == str(completed.pk)
    assert bundle_ids(bundle) == expected
    assert bundle["public_keys"] == [public_key()]
    assert bundle["certificate"]["status"] == "completed_with_failures"
    assert len(bundle["certificate"]["failed"]) == 4

    # The download is recorded after the bundle's events: the next bundle holds it.
    downloaded = AuditEvent.objects.get(
        request=completed, event_type=AuditEventType.EVIDENCE_DOWNLOADED
    )
    assert downloaded.pk not in expected and downloaded.actor == "api_key:reader"
    assert downloaded.details == {
        "tree_size": bundle["log"]["tree_size"],
        "events": len(expected),
    }
    assert bundle_ids(download(reader, completed)) == sorted([*expected, downloaded.pk])

    path = write(tmp_path / "bundle.json", bundle)
    code, output = verify_offline(path, public_key())
    assert code == 0, output
    assert f"OK: {len(expected)} events proven in the log's tree of " in output
    assert "the certificate's counts match the events" in output
    assert "note:" not in output

    code, output = verify_offline(path)
    assert code == 0, output
    assert "note: checked with the public key the bundle carries" in output
    assert "OK:" in output


def _event(bundle: dict[str, Any], event_type: str) -> dict[str, Any]:
    return next(e for e in bundle["events"] if e["event"]["event_type"] == event_type)


def _alter_details(bundle: dict[str, Any]) -> None:
    _event(bundle, "request.completed")["event"]["details"]["mappings_removed"] += 1


def _alter_consistently(bundle: dict[str, Any]) -> None:
    entry = _event(bundle, "request.approved")
    entry["event"]["actor"] = "user someone-else"
    entry["leaf_input"] = base64.b64encode(canonical_bytes(entry["event"])).decode()


def _alter_total(bundle: dict[str, Any]) -> None:
    bundle["certificate"]["totals"]["deleted"] += 1


def _alter_reason(bundle: dict[str, Any]) -> None:
    bundle["certificate"]["failed"][0]["reason"] = "the subject asked us to keep it"


def _drop_failed_item(bundle: dict[str, Any]) -> None:
    bundle["certificate"]["failed"].pop()


def _drop_completion(bundle: dict[str, Any]) -> None:
    bundle["events"].remove(_event(bundle, "request.completed"))


def _alter_checkpoint(bundle: dict[str, Any]) -> None:
    size = bundle["log"]["tree_size"]
    origin, _, rest = bundle["log"]["checkpoint"].partition("\n")
    assert rest.startswith(f"{size}\n")
    bundle["log"]["checkpoint"] = f"{origin}\n{size + 1}\n{rest[len(str(size)) + 1 :]}"


def _drop_approval(bundle: dict[str, Any]) -> None:
    bundle["events"].remove(_event(bundle, "request.approved"))


def _other_request(bundle: dict[str, Any]) -> None:
    bundle["certificate"]["request_id"] = "00000000-0000-0000-0000-000000000000"


def _other_subject(bundle: dict[str, Any]) -> None:
    bundle["certificate"]["subject_hash"] = "0" * 64


def _no_request(bundle: dict[str, Any]) -> None:
    del bundle["request_id"]


def _not_an_event(bundle: dict[str, Any]) -> None:
    bundle["events"][0]["event"] = "not an event"


TAMPERING: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (_drop_approval, "events [{approved_id}] that the completion event records are not in"),
    (_other_request, "the certificate is of request 00000000-0000-0000-0000-000000000000"),
    (_other_subject, "the certificate's subject is not the completion event's"),
    (_no_request, "the bundle has a certificate but names no request"),
    (_not_an_event, "entry 0: not an event entry"),
    (_alter_details, "{completed}: its fields are not its leaf's bytes: the event was altered"),
    (_alter_consistently, "{approved}: leaf {approved_leaf} is not proven in the signed tree"),
    (_alter_total, "the certificate's totals"),
    (_alter_reason, "the certificate's failed items are not those the completion event recorded"),
    (_drop_failed_item, "the certificate's failed items are not those"),
    (_drop_completion, "the certificate has no request.completed event among the proven events"),
    (_alter_checkpoint, "the checkpoint: the signature of"),
]


def test_tampering_with_a_bundle_is_named(completed, reader, tmp_path):
    bundle = download(reader, completed)
    events = {e["event"]["event_type"]: e for e in bundle["events"]}
    names = {
        "completed": f"event {events['request.completed']['event']['id']}",
        "approved": f"event {events['request.approved']['event']['id']}",
        "approved_leaf": events["request.approved"]["leaf_index"],
        "approved_id": events["request.approved"]["event"]["id"],
    }
    code, output = verify_offline(write(tmp_path / "good.json", bundle), public_key())
    assert code == 0, output

    for number, (tamper, expected) in enumerate(TAMPERING):
        forged = copy.deepcopy(bundle)
        tamper(forged)
        assert forged != bundle
        code, output = verify_offline(write(tmp_path / f"{number}.json", forged), public_key())
        assert code == 1, (tamper.__name__, output)
        assert f"BROKEN: {expected.format(**names)}" in output, (tamper.__name__, output)
        assert "OK:" not in output, (tamper.__name__, output)

    # Another key (even under the log's name) did not sign the checkpoint.
    stranger = Signer.generate(audit_log.signer().name).verifier.encode()
    code, output = verify_offline(tmp_path / "good.json", stranger)
    assert code == 1, output
    assert "BROKEN: the checkpoint: no known key signed the note" in output


def test_a_bundle_re_signed_by_a_forger_passes_only_without_the_published_key(
    completed, reader, tmp_path
):
    """What --public-key is for: a forger who rebuilds the tree of the bundle's events
    (one of them altered) and signs it with a key of their own, listed in the bundle."""
    bundle = download(reader, completed)
    forged = copy.deepcopy(bundle)
    forger = Signer.generate(audit_log.signer().name)
    _event(forged, "request.approved")["event"]["actor"] = "user someone-else"
    leaves = [canonical_bytes(entry["event"]) for entry in forged["events"]]
    tree = merkle.MemoryTree.of_inputs(leaves)
    for index, entry in enumerate(forged["events"]):
        entry["leaf_index"] = index
        entry["leaf_input"] = base64.b64encode(leaves[index]).decode()
        entry["inclusion_proof"] = [
            base64.b64encode(node).decode() for node in merkle.inclusion_proof(tree, index)
        ]
    checkpoint = Checkpoint(
        origin=forged["log"]["origin"], size=len(leaves), root_hash=merkle.root_hash(tree)
    )
    forged["log"].update(checkpoint=forger.sign(checkpoint.text()), tree_size=len(leaves))
    forged["public_keys"] = [forger.verifier.encode()]
    path = write(tmp_path / "forged.json", forged)

    code, output = verify_offline(path)
    assert code == 0, output
    assert "note: checked with the public key the bundle carries" in output
    code, output = verify_offline(path, public_key())
    assert code == 1, output
    assert "BROKEN: the checkpoint: no known key signed the note" in output


def test_the_certificate_pdf_carries_a_bundle_that_verifies_offline(completed, reader, tmp_path):
    expected = request_event_ids(completed)
    response = reader.get(f"/api/v1/requests/{completed.pk}/certificate")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"

    attachments = PdfReader(io.BytesIO(response.content)).attachments
    name = f"erasure-evidence-{completed.pk}.json"
    assert list(attachments) == [name]
    (content,) = attachments[name]
    bundle = json.loads(content)
    assert bundle["request_id"] == str(completed.pk)
    assert bundle_ids(bundle) == expected
    items = ErasureItem.objects.filter(request=completed)
    outcomes = Counter(items.values_list("outcome", flat=True))
    totals = {k: v for k, v in bundle["certificate"]["totals"].items() if v}
    assert totals == dict(outcomes) and outcomes["failed"] == 4

    code, output = verify_offline(write(tmp_path / name, bundle), public_key())
    assert code == 0, output
    assert f"OK: {len(expected)} events proven" in output

    download = AuditEvent.objects.get(
        request=completed, event_type=AuditEventType.CERTIFICATE_DOWNLOADED
    )
    assert download.pk not in expected
    assert download.details == {"format": "pdf", "tree_size": bundle["log"]["tree_size"]}
    assert download.actor == "api_key:reader"


def test_the_certificate_html_shows_the_checkpoint_and_how_to_verify(completed, reader):
    assert AuditEvent.objects.filter(request=completed, leaf_index__isnull=True).exists()
    response = reader.get(f"/api/v1/requests/{completed.pk}/certificate?format=html")
    assert response.status_code == 200
    html = response.content.decode()

    # The request's events were sequenced for it: the checkpoint shown is the newest one.
    note = reader.get("/api/v1/audit/checkpoint").content.decode()
    keys = [Verifier.decode(public_key())]
    latest = open_checkpoint(note, keys, origin=audit_log.log_origin())
    completion = AuditEvent.objects.get(
        request=completed, event_type=AuditEventType.REQUEST_COMPLETED
    )
    assert completion.leaf_index is not None and completion.leaf_index < latest.size
    assert f"#{completion.pk} at " in html
    root = base64.b64encode(latest.root_hash).decode()
    assert f"tree size {latest.size}, root {root}" in html
    assert note.strip() in html
    assert public_key() in html
    assert "python manage.py verify_audit --bundle FILE --public-key KEY" in html
    assert f"erasure-evidence-{completed.pk}.json" in html

    download = AuditEvent.objects.get(
        request=completed, event_type=AuditEventType.CERTIFICATE_DOWNLOADED
    )
    assert download.details == {"format": "html", "tree_size": latest.size}


def test_the_certificate_names_the_completion_events_leaf_even_when_it_was_pending(
    completed, reader
):
    assert AuditEvent.objects.filter(request=completed, leaf_index__isnull=True).exists()
    html = reader.get(f"/api/v1/requests/{completed.pk}/certificate?format=html").content.decode()
    completion = AuditEvent.objects.get(
        request=completed, event_type=AuditEventType.REQUEST_COMPLETED
    )
    assert f"#{completion.pk} at " in html
    assert f"leaf {completion.leaf_index} of the log" in html
