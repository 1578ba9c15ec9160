"""The audit log's HTTP API: signed checkpoints and their keys (public), inclusion and
consistency proofs, evidence bundles of any set of events, verification, and the schema.

Every proof is checked the way an outside auditor would: against the root of a checkpoint
fetched from the public endpoint and opened with the published keys, never against what
the proof response itself claims."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import yaml
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from erasure.actors import Actor
from erasure.models import AuditEvent
from erasure.services import audit_log
from erasure.services.audit import audit_record, event_record
from erasure.transparency import merkle
from erasure.transparency.leaves import event_leaf_hash
from erasure.transparency.notes import Checkpoint, NoteError, Signer, Verifier, open_checkpoint
from erasure.transparency.verify import verify_bundle

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")
AUDIT = "/api/v1/audit"


def append(n: int, *, sequence: bool = True) -> list[int]:
    """`n` events, each in its own transaction; sequenced in one pass (one checkpoint)."""
    ids = []
    for i in range(n):
        with transaction.atomic():
            event = audit_record(event_type="mappings.registered", actor=ACTOR, details={"i": i})
        ids.append(event.pk)
    if sequence:
        audit_log.sequence_pending()
    return ids


@pytest.fixture
def auditor(api_key_factory) -> APIClient:
    """A key with audit:read; its creation (an audit event) is sequenced before the test's
    own events, which start at leaf `audit_log.tree_size()`."""
    client = api_key_factory("auditor", "audit:read")
    audit_log.sequence_pending()
    return client


@pytest.fixture
def writer(api_key_factory, auditor) -> APIClient:
    """A key without audit:read (created after the auditor's, sequenced as well)."""
    client = api_key_factory("writer", "requests:write")
    audit_log.sequence_pending()
    return client


def public() -> APIClient:
    return APIClient()


def published_keys() -> tuple[str, list[Verifier]]:
    body = public().get(f"{AUDIT}/public-keys").json()
    return body["origin"], [Verifier.decode(k["key"]) for k in body["keys"]]


def fetch_checkpoint(size: int | None = None) -> Checkpoint:
    """A checkpoint as an auditor gets it: from the public endpoint, opened with the
    published keys and the published origin."""
    query = {} if size is None else {"tree_size": size}
    response = public().get(f"{AUDIT}/checkpoint", query)
    assert response.status_code == 200, response.content
    origin, verifiers = published_keys()
    return open_checkpoint(response.content.decode(), verifiers, origin=origin)


def recomputed_tree() -> merkle.MemoryTree:
    """The log's tree recomputed from the events' content (not from stored hashes)."""
    events = AuditEvent.objects.filter(leaf_index__isnull=False).order_by("leaf_index")
    return merkle.MemoryTree([event_leaf_hash(event_record(e)) for e in events])


def b64d(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    return error


# -- checkpoints and keys ---------------------------------------------------------------


def test_the_checkpoint_is_public_signed_text_and_past_ones_are_kept_by_size():
    missing = public().get(f"{AUDIT}/checkpoint")
    assert_error(missing, 404, "not_found")

    append(3)
    append(4)
    response = public().get(f"{AUDIT}/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    origin, verifiers = published_keys()
    assert origin == audit_log.log_origin() and origin
    latest = open_checkpoint(response.content.decode(), verifiers, origin=origin)
    tree = recomputed_tree()
    assert latest.size == 7
    assert latest.root_hash == merkle.root_hash(tree, 7)

    older = fetch_checkpoint(3)
    assert older.size == 3 and older.root_hash == merkle.root_hash(tree, 3)
    assert older.root_hash != latest.root_hash

    # A size the log has, but no checkpoint was issued at; and one beyond the log.
    for size in (5, 8):
        error = assert_error(public().get(f"{AUDIT}/checkpoint?tree_size={size}"), 404, "not_found")
        assert str(size) in error["message"]
    for bad in ("abc", "0", "-1"):
        error = assert_error(
            public().get(f"{AUDIT}/checkpoint?tree_size={bad}"), 400, "invalid_input"
        )
        assert "tree_size" in error["fields"]


def test_public_keys_list_the_current_key_and_keep_a_rotated_one(settings):
    append(2)
    body = public().get(f"{AUDIT}/public-keys").json()
    old = audit_log.signer().verifier
    assert body["origin"] == audit_log.log_origin()
    assert [(k["key"], k["current"]) for k in body["keys"]] == [(old.encode(), True)]
    assert body["keys"][0]["key_id"] == f"{old.key_id:08x}"
    assert body["keys"][0]["name"] == old.name

    # Rotate: a new key under the same name (the log's origin stays), more events.
    new_signer = Signer.generate(old.name)
    settings.AUDIT_SIGNING_KEY = new_signer.encode()
    append(3)
    body = public().get(f"{AUDIT}/public-keys").json()
    keys = {k["key"]: k for k in body["keys"]}
    new = new_signer.verifier
    assert set(keys) == {old.encode(), new.encode()}
    assert [k["key"] for k in body["keys"] if k["current"]] == [new.encode()]
    assert all(k["first_used_at"] for k in body["keys"])

    # The latest checkpoint is signed by the new key only; the older one by the old key,
    # and both still open with the published list.
    note = public().get(f"{AUDIT}/checkpoint").content.decode()
    assert open_checkpoint(note, [new], origin=body["origin"]).size == 5
    with pytest.raises(NoteError, match="no known key"):
        open_checkpoint(note, [old], origin=body["origin"])
    assert fetch_checkpoint(2).size == 2
    old_note = public().get(f"{AUDIT}/checkpoint?tree_size=2").content.decode()
    with pytest.raises(NoteError, match="no known key"):
        open_checkpoint(old_note, [new], origin=body["origin"])


# -- inclusion proofs ------------------------------------------------------------------------


def test_inclusion_proofs_verify_against_published_checkpoints(auditor):
    base = audit_log.tree_size()
    first = append(6)
    second = append(5)
    latest = fetch_checkpoint()
    assert latest.size == base + 11
    middle = fetch_checkpoint(base + 6)

    for event_id in first + second:
        event = AuditEvent.objects.get(pk=event_id)
        body = auditor.get(f"{AUDIT}/proof/inclusion?event={event_id}").json()
        # Default: the latest checkpoint's tree.
        assert body["event_id"] == event_id and body["tree_size"] == latest.size
        assert body["leaf_index"] == event.leaf_index
        # The proven leaf is this event's content.
        assert b64d(body["leaf_hash"]) == event_leaf_hash(event_record(event))
        merkle.verify_inclusion(
            index=body["leaf_index"],
            size=latest.size,
            leaf=b64d(body["leaf_hash"]),
            proof=[b64d(node) for node in body["inclusion_proof"]],
            root=latest.root_hash,
        )
        assert b64d(body["root_hash"]) == latest.root_hash

    for event_id in first:
        body = auditor.get(f"{AUDIT}/proof/inclusion?event={event_id}&tree_size={middle.size}")
        body = body.json()
        assert body["tree_size"] == middle.size
        merkle.verify_inclusion(
            index=body["leaf_index"],
            size=middle.size,
            leaf=b64d(body["leaf_hash"]),
            proof=[b64d(node) for node in body["inclusion_proof"]],
            root=middle.root_hash,
        )

    # A size no checkpoint was issued at: its root is the recomputed tree's.
    size = base + 9
    body = auditor.get(f"{AUDIT}/proof/inclusion?event={first[2]}&tree_size={size}").json()
    root = merkle.root_hash(recomputed_tree(), size)
    assert b64d(body["root_hash"]) == root
    merkle.verify_inclusion(
        index=body["leaf_index"],
        size=size,
        leaf=b64d(body["leaf_hash"]),
        proof=[b64d(node) for node in body["inclusion_proof"]],
        root=root,
    )


def test_inclusion_proof_refuses_what_it_cannot_prove(auditor, writer):
    base = audit_log.tree_size()
    first = append(4)
    later = append(3)
    size = base + 7
    pending = append(1, sequence=False)[0]
    url = f"{AUDIT}/proof/inclusion"

    error = assert_error(auditor.get(f"{url}?event=999999999"), 400, "invalid_input")
    assert "999999999" in error["message"]
    beyond = f"{url}?event={first[0]}&tree_size={size + 1}"
    error = assert_error(auditor.get(beyond), 400, "invalid_input")
    assert f"the log's size, {size}" in error["message"]
    # The second batch's events are not in the tree that ends with the first batch.
    outside = f"{url}?event={later[1]}&tree_size={base + 4}"
    error = assert_error(auditor.get(outside), 400, "invalid_input")
    assert f"not in a tree of {base + 4}" in error["message"]
    error = assert_error(auditor.get(f"{url}?event={pending}"), 400, "invalid_input")
    assert "not in the log yet" in error["message"]
    assert "event" in assert_error(auditor.get(url), 400, "invalid_input")["fields"]
    assert "event" in assert_error(auditor.get(f"{url}?event=x"), 400, "invalid_input")["fields"]

    good = f"{url}?event={first[0]}"
    assert auditor.get(good).status_code == 200
    assert_error(public().get(good), 401, "not_authenticated")
    assert_error(writer.get(good), 403, "permission_denied")


# -- consistency proofs -------------------------------------------------------------------------


def test_consistency_proofs_verify_between_published_checkpoints(auditor):
    sizes = [audit_log.tree_size()]
    for n in (3, 5, 8):
        append(n)
        sizes.append(audit_log.tree_size())
    assert [b - a for a, b in zip(sizes, sizes[1:], strict=False)] == [3, 5, 8]
    checkpoints = {size: fetch_checkpoint(size) for size in sizes}

    for first in sizes:
        for second in sizes:
            if first > second:
                continue
            response = auditor.get(f"{AUDIT}/proof/consistency?first={first}&second={second}")
            assert response.status_code == 200, response.content
            body = response.json()
            assert (body["first"], body["second"]) == (first, second)
            assert b64d(body["first_root"]) == checkpoints[first].root_hash
            assert b64d(body["second_root"]) == checkpoints[second].root_hash
            merkle.verify_consistency(
                first=first,
                second=second,
                first_root=checkpoints[first].root_hash,
                second_root=checkpoints[second].root_hash,
                proof=[b64d(node) for node in body["consistency_proof"]],
            )
    # A proof between two sizes does not pass for another tree.
    small, _, middle, large = sizes
    body = auditor.get(f"{AUDIT}/proof/consistency?first={small}&second={large}").json()
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(
            first=small,
            second=large,
            first_root=checkpoints[middle].root_hash,
            second_root=checkpoints[large].root_hash,
            proof=[b64d(node) for node in body["consistency_proof"]],
        )


def test_consistency_proof_refuses_bad_sizes(auditor, writer):
    append(5)
    size = audit_log.tree_size()
    url = f"{AUDIT}/proof/consistency"
    error = assert_error(auditor.get(f"{url}?first=4&second=2"), 400, "invalid_input")
    assert "second" in error["fields"]
    error = assert_error(auditor.get(f"{url}?first=0&second=3"), 400, "invalid_input")
    assert "first" in error["fields"]
    error = assert_error(auditor.get(f"{url}?first=2&second={size + 1}"), 400, "invalid_input")
    assert f"the log's size, {size}" in error["message"]
    error = assert_error(auditor.get(f"{url}?first=2"), 400, "invalid_input")
    assert "second" in error["fields"]
    good = f"{url}?first=2&second={size}"
    assert auditor.get(good).status_code == 200
    assert_error(public().get(good), 401, "not_authenticated")
    assert_error(writer.get(good), 403, "permission_denied")


# -- evidence bundles and verification -------------------------------------------------------


def test_evidence_bundles_of_one_event_and_of_a_time_range(auditor, writer):
    early = append(3)
    boundary = timezone.now()
    late = append(4, sequence=False)  # not sequenced yet: the bundle sequences them
    key = audit_log.signer().verifier

    bundle = auditor.get(f"{AUDIT}/evidence?event={early[1]}").json()
    assert [e["event"]["id"] for e in bundle["events"]] == [early[1]]
    result = verify_bundle(bundle, [key])
    assert result.ok, result.problems
    assert result.events == 1

    bundle = auditor.get(f"{AUDIT}/evidence", {"since": boundary.isoformat()}).json()
    assert [e["event"]["id"] for e in bundle["events"]] == late
    assert audit_log.pending_count() == 0  # the pending ones were sequenced for it
    assert bundle["log"]["tree_size"] == audit_log.tree_size()
    result = verify_bundle(bundle, [key])
    assert result.ok and result.events == 4, result.problems

    bundle = auditor.get(f"{AUDIT}/evidence", {"until": boundary.isoformat()}).json()
    mine = [e["event"]["id"] for e in bundle["events"] if e["event"]["id"] in early + late]
    assert mine == early  # and the keys' creation, earlier still
    assert verify_bundle(bundle, [key]).ok

    window = {
        "since": (boundary - timedelta(microseconds=1)).isoformat(),
        "until": (timezone.now() + timedelta(seconds=1)).isoformat(),
    }
    bundle = auditor.get(f"{AUDIT}/evidence", window).json()
    assert [e["event"]["id"] for e in bundle["events"]] == late

    error = assert_error(auditor.get(f"{AUDIT}/evidence"), 400, "invalid_input")
    assert "request, event, or since/until" in error["message"] + str(error["fields"])
    backwards = {"since": boundary.isoformat(), "until": boundary.isoformat()}
    error = assert_error(auditor.get(f"{AUDIT}/evidence", backwards), 400, "invalid_input")
    assert "until" in error["fields"]
    assert_error(writer.get(f"{AUDIT}/evidence?event={early[0]}"), 403, "permission_denied")


def test_verify_reports_ok_and_the_tree_size_of_the_published_checkpoint(auditor):
    base = audit_log.tree_size()
    append(4)
    append(2)
    body = auditor.get(f"{AUDIT}/verify").json()
    latest = fetch_checkpoint()
    assert body["ok"] is True and body["reason"] == ""
    assert body["tree_size"] == latest.size == base + 6
    assert b64d(body["root_hash"]) == latest.root_hash
    assert body["checkpoints_checked"] == 3  # the auditor key's, then the two batches
    assert body["pending"] == 0 and body["first_bad_leaf"] is None


# -- the schema ------------------------------------------------------------------------------


def test_the_schema_documents_the_audit_log_endpoints():
    response = public().get("/api/v1/schema/")
    assert response.status_code == 200
    paths = yaml.safe_load(response.content)["paths"]
    protected = ["proof/inclusion", "proof/consistency", "evidence", "verify"]
    for name in ["checkpoint", "public-keys", *protected]:
        assert "get" in paths.get(f"{AUDIT}/{name}", {}), name
    assert "/api/v1/requests/{request_id}/evidence" in paths
    checkpoint = paths[f"{AUDIT}/checkpoint"]["get"]
    assert "text/plain" in checkpoint["responses"]["200"]["content"]
    assert [p["name"] for p in checkpoint["parameters"]] == ["tree_size"]
    for name in ["checkpoint", "public-keys"]:
        assert paths[f"{AUDIT}/{name}"]["get"].get("security", []) in ([], [{}]), name
    for name in protected:
        assert paths[f"{AUDIT}/{name}"]["get"]["security"] == [{"apiKey": []}], name
    inclusion = {p["name"] for p in paths[f"{AUDIT}/proof/inclusion"]["get"]["parameters"]}
    assert inclusion == {"event", "tree_size"}
    consistency = {p["name"] for p in paths[f"{AUDIT}/proof/consistency"]["get"]["parameters"]}
    assert consistency == {"first", "second"}
