"""Several namespace APIs: a cloud emulator (the default API) and an on-prem one ("onprem"),
each holding items of one subject, some in a namespace of the same name. One request
erases both; a refusal by one leaves the other's work going; each API has its own
throttle, refusal and health."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.namespace_apis import namespace_apis_parse
from erasure.actors import Actor
from erasure.apis import apis
from erasure.certificates import certificate_for, certificate_html
from erasure.evidence import certificate_facts
from erasure.exports import table_export_chunks
from erasure.models import ApiThrottle, AuditEvent, AuditEventType, Dispatch, ErasureItem, Namespace
from erasure.services.execution import request_execute
from erasure.services.execution.claims import namespaces_with_claimable_items
from erasure.services.execution.finish import pending_state
from erasure.services.mappings import MappingInput, mappings_register
from erasure.services.namespaces import namespace_create
from erasure.throttle import PgThrottle, refused_apis
from erasure.transparency.verify import failed_items_digest
from namespace_api.client.retry import RetryPolicy
from tests.conftest import EMULATOR_KEY, manage_py, worker_env
from tests.services.execution.helpers import OTHER, SUBJECT, file_and_approve

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def seed_both(emulator, onprem, *, cloud: int = 30, local: int = 250, others: int = 3) -> None:
    """`notes` in both APIs (same name), `vecs` in the cloud; the subject's items and
    another subject's, mapped."""
    emulator.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"c{n}", "text": "cloud"} for n in range(cloud)]
                + [{"id": f"keep{n}", "text": "keep"} for n in range(others)],
            },
            {
                "name": "vecs",
                "type": "vector",
                "vector_dimension": 2,
                "items": [{"id": f"v{n}", "vector": [0.1, 0.2]} for n in range(cloud)],
            },
        ]
    )
    onprem.seed(
        [
            {
                "name": "notes",
                "type": "text",
                "items": [{"id": f"p{n}", "text": "on-prem"} for n in range(local)]
                + [{"id": f"keep{n}", "text": "keep"} for n in range(others)],
            }
        ]
    )
    items = [MappingInput(SUBJECT, "notes", f"c{n}") for n in range(cloud)]
    items += [MappingInput(SUBJECT, "vecs", f"v{n}") for n in range(cloud)]
    items += [MappingInput(SUBJECT, "notes", f"p{n}", api="onprem") for n in range(local)]
    items += [MappingInput(OTHER, "notes", f"keep{n}", api="onprem") for n in range(others)]
    mappings_register(items=items, actor=ACTOR)


def test_a_namespace_name_may_exist_in_two_apis(emulator, onprem):
    seed_both(emulator, onprem, cloud=2, local=2)
    found = sorted(Namespace.objects.values_list("api", "name", "kind"))
    assert found == [
        ("default", "notes", "text"),
        ("default", "vecs", "vector"),
        ("onprem", "notes", "text"),
    ]
    assert {ns.label for ns in Namespace.objects.all()} == {"notes", "vecs", "onprem/notes"}


def test_one_request_erases_the_subject_in_both_apis(emulator, onprem, api_key_factory):
    seed_both(emulator, onprem)
    request = file_and_approve()
    summary = request_execute(request_id=request.pk)
    assert summary.finished, summary
    request.refresh_from_db()
    assert request.status == "completed"

    # Each API lost the subject's items and kept the others'.
    assert emulator.ids("notes") == {f"keep{n}" for n in range(3)}
    assert emulator.ids("vecs") == set()
    assert onprem.ids("notes") == {f"keep{n}" for n in range(3)}
    outcomes = dict(
        ErasureItem.objects.filter(request=request)
        .values_list("namespace__api", "outcome")
        .distinct()
    )
    assert outcomes == {"default": "deleted", "onprem": "deleted"}

    # Each API got its own calls, in its own batch size (on-prem: 100 IDs a call).
    onprem_sent = list(
        Dispatch.objects.filter(
            request=request, namespace__api="onprem", endpoint__contains="delete"
        )
        .order_by("ids_sent")
        .values_list("ids_sent", flat=True)
    )
    assert onprem_sent == [50, 100, 100]
    by_api = dict(
        Dispatch.objects.filter(request=request)
        .values_list("namespace__api")
        .annotate(n=Count("id"))
    )
    assert set(by_api) == {"default", "onprem"}
    assert set(ApiThrottle.objects.values_list("name", flat=True)) >= {"default", "onprem"}

    # The completion event and the certificate name both APIs and keep the two `notes`
    # apart.
    completed = AuditEvent.objects.get(request=request, event_type=AuditEventType.REQUEST_COMPLETED)
    assert completed.details["by_namespace"] == {
        "notes": {"deleted": 30},
        "vecs": {"deleted": 30},
        "onprem/notes": {"deleted": 250},
    }
    certificate = certificate_for(request)
    assert [(a.name, a.flavor, a.host, a.namespaces) for a in certificate.apis] == [
        ("default", "cloud", "127.0.0.1", 2),
        ("onprem", "onprem", "127.0.0.1", 1),
    ]
    html = certificate_html(certificate)
    assert 'data-api="onprem"' in html and "onprem/notes" in html
    facts = certificate_facts(request)
    assert {(ns["name"], ns["api"], ns["total"]) for ns in facts["namespaces"]} == {
        ("notes", "default", 30),
        ("vecs", "default", 30),
        ("onprem/notes", "onprem", 250),
    }
    assert completed.details["failed_items"]["sha256"] == failed_items_digest([])

    # The items answer and the items export name the on-prem namespace apart too.
    auditor = api_key_factory("auditor", "audit:read")
    listed = auditor.get(f"/api/v1/requests/{request.pk}/items?namespace=onprem/notes").json()
    assert listed["count"] == 250
    assert {item["namespace"] for item in listed["results"]} == {"onprem/notes"}
    assert (
        auditor.get(f"/api/v1/requests/{request.pk}/items?namespace=notes").json()["count"] == 280
    )  # a plain name matches it in every API
    export = b"".join(
        table_export_chunks(what="items", export_format="csv", request_id=str(request.pk))
    ).decode()
    namespaces = Counter(line.split(",")[1] for line in export.splitlines()[1:])
    assert namespaces == {"notes": 30, "vecs": 30, "onprem/notes": 250}


def test_a_401_from_one_api_leaves_the_other_going(emulator, onprem):
    seed_both(emulator, onprem)
    emulator.control("config", {"disabled_api_keys": [EMULATOR_KEY]})
    emulator.control("calls/clear", {})
    request = file_and_approve()
    summary = request_execute(request_id=request.pk)

    # The on-prem items are erased; the cloud ones wait, after a single refused call.
    assert not summary.finished and "namespace API default" in summary.stopped
    assert onprem.ids("notes") == {f"keep{n}" for n in range(3)}
    assert len(emulator.ids("notes")) == 33 and len(emulator.ids("vecs")) == 30
    assert [c["status"] for c in emulator.calls()] == [401]
    items = ErasureItem.objects.filter(request=request)
    assert set(items.filter(namespace__api="onprem").values_list("outcome", flat=True)) == {
        "deleted"
    }
    assert set(items.filter(namespace__api="default").values_list("outcome", flat=True)) == {
        "pending"
    }
    request.refresh_from_db()
    assert request.status == "running"
    assert "namespace API default" in request.last_error and "401" in request.last_error

    # Every worker now skips the refused API: another run sends nothing to it.
    assert set(refused_apis()) == {"default"}
    assert namespaces_with_claimable_items(request.pk) == []
    request_execute(request_id=request.pk)
    assert len(emulator.calls()) == 1
    # ... and the request waits until the refusal ends (about 300 s from now): its
    # wake-up is scheduled for then.
    pending, claimable, _, next_at = pending_state(request.pk)
    assert (pending, claimable) == (60, 0)
    assert 200 < (next_at - timezone.now()).total_seconds() <= 300

    # The key works again; an operator lifts the refusal; the next run finishes the job.
    emulator.control("config", {"disabled_api_keys": []})
    out = io.StringIO()
    call_command("namespace_api", "resume", "default", stdout=out)
    assert out.getvalue().strip() == "default: resumed"
    assert AuditEvent.objects.filter(
        event_type=AuditEventType.NAMESPACE_API_RESUMED, details={"api": "default"}
    ).exists()
    assert request_execute(request_id=request.pk).finished
    assert emulator.ids("notes") == {f"keep{n}" for n in range(3)}
    assert emulator.ids("vecs") == set()
    request.refresh_from_db()
    assert (request.status, request.last_error) == ("completed", "")


def test_a_key_that_cannot_be_read_stops_only_its_api(emulator, onprem, settings, tmp_path):
    """A third API, "eu" (a cloud account), whose key file is gone: its namespace waits,
    the others are erased."""
    seed_both(emulator, onprem, cloud=5, local=5)
    key_file = tmp_path / "eu.key"
    settings.NAMESPACE_APIS = {
        **settings.NAMESPACE_APIS,
        **namespace_apis_parse(f'[eu]\nurl = "{emulator.url}"\nkey_file = "{key_file}"\n'),
    }
    namespace_create(name="eu-notes", kind="text", attribution_mode="exact", actor=ACTOR, api="eu")
    mappings_register(items=[MappingInput(SUBJECT, "eu-notes", "x1", api="eu")], actor=ACTOR)
    request = file_and_approve()
    summary = request_execute(request_id=request.pk)
    assert f"the key file {key_file} cannot be read" in summary.stopped
    assert emulator.ids("vecs") == set()
    assert onprem.ids("notes") == {f"keep{n}" for n in range(3)}
    assert set(refused_apis()) == {"eu"}
    assert list(
        ErasureItem.objects.filter(request=request, outcome="pending").values_list(
            "namespace__api", "item_id"
        )
    ) == [("eu", "x1")]


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_configured_by_the_environment_erases_both(emulator, onprem):
    """The deployment's way: NAMESPACE_APIS and the key variable in a worker's environment."""
    seed_both(emulator, onprem, cloud=10, local=120)
    file_and_approve()
    env = worker_env(
        connection.settings_dict["NAME"],
        emulator,
        NAMESPACE_APIS=json.dumps({"onprem": {"url": onprem.url, "flavor": "onprem"}}),
    )
    done = manage_py("procrastinate", "worker", "--one-shot", env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert emulator.ids("notes") == {f"keep{n}" for n in range(3)}
    assert onprem.ids("notes") == {f"keep{n}" for n in range(3)}
    # No key in any line the worker wrote.
    assert EMULATOR_KEY not in done.stdout + done.stderr


def test_metrics_and_readiness_are_per_api(client, emulator, onprem):
    seed_both(emulator, onprem, cloud=5, local=5)
    emulator.control("config", {"disabled_api_keys": [EMULATOR_KEY]})
    request = file_and_approve()
    request_execute(request_id=request.pk)

    text = client.get("/metrics").content.decode()
    got = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    onprem_deletes = sum(
        value
        for (name, labels), value in got.items()
        if name == "erasure_dispatches_total" and ("api", "onprem") in labels
    )
    assert onprem_deletes == Dispatch.objects.filter(namespace__api="onprem").count() > 0
    assert got[("erasure_namespace_api_refused", (("api", "default"),))] == 1
    assert got[("erasure_namespace_api_refused", (("api", "onprem"),))] == 0

    checks = client.get("/readyz").json()["checks"]["namespace_api"]
    assert checks["ok"] is False and checks["error"].endswith(": default")
    assert checks["apis"]["default"]["last_status"] == 401
    assert checks["apis"]["onprem"] == {
        "ok": True,
        "flavor": "onprem",
        "last_status": 200,
        "status_since_s": checks["apis"]["onprem"]["status_since_s"],
    }


def test_an_api_that_is_down_holds_up_only_its_own_namespaces(emulator, onprem, settings):
    settings.ERASURE_JOBS_PER_REQUEST = 1  # one job: namespaces in name order
    seed_both(emulator, onprem, cloud=10, local=150)
    onprem.control("faults", {"namespace": "*", "probabilities": {"server_error": 1.0}})
    request = file_and_approve()
    summary = request_execute(request_id=request.pk)
    assert not summary.finished

    # In name order `notes` (default), `onprem/notes`, `vecs`: the on-prem API failed its
    # first batch, and the job went on to `vecs` before it tried the on-prem one again.
    assert emulator.ids("vecs") == set() and emulator.ids("notes") == {"keep0", "keep1", "keep2"}
    order = [
        (d["namespace__api"], d["namespace__name"])
        for d in Dispatch.objects.filter(request=request, endpoint__contains="delete")
        .order_by("id")
        .values("namespace__api", "namespace__name")
    ]
    vecs = order.index(("default", "vecs"))
    tries = 1 + RetryPolicy().max_retries
    assert 0 < order[:vecs].count(("onprem", "notes")) <= tries  # one batch's tries
    assert ("onprem", "notes") in order[vecs:]
    pending = ErasureItem.objects.filter(request=request, outcome="pending")
    assert set(pending.values_list("namespace__api", flat=True)) == {"onprem"}
    assert pending.count() == 150 and len(onprem.ids("notes")) == 153
    assert refused_apis() == {}  # a failing API is retried, not refused

    onprem.control("faults", {"namespace": "*", "probabilities": {}})
    ErasureItem.objects.filter(request=request).update(not_before=None)  # the backoff, over
    assert request_execute(request_id=request.pk).finished
    assert onprem.ids("notes") == {"keep0", "keep1", "keep2"}


def test_each_api_has_its_own_throttle(emulator, onprem, settings):
    settings.NAMESPACE_APIS = namespace_apis_parse(
        f'[onprem]\nurl = "{onprem.url}"\nflavor = "onprem"\nmax_in_flight = 2\n'
        "calls_per_second = 50\n"
    )
    configured = apis()
    cloud, local = (PgThrottle.for_api(configured[name]) for name in ("default", "onprem"))
    assert (local.max_in_flight, local.rate) == (2, 50.0)
    assert (cloud.max_in_flight, cloud.rate) == (settings.NAMESPACE_API_MAX_IN_FLIGHT, 0.0)
    cloud.pause(30)  # a 429 from the cloud API
    assert cloud._try_permit() > 25
    assert local._try_permit() == 0  # the on-prem API is not paused
    with local.slot(), local.slot():
        assert local._take_in_flight_slot_or_none() is None  # its own 2 slots, both held
        taken = cloud._take_in_flight_slot_or_none()  # the cloud's slots are its own
        assert taken is not None
        cloud._release(taken)


def test_a_wake_up_only_moves_earlier(db, django_capture_on_commit_callbacks):
    """One job plans for a lease's end (600 s) while the lease's holder plans a retry in
    2 s: the queued job comes forward; a later plan never pushes it back."""
    from erasure.queue import enqueue_execution

    request_id = "00000000-0000-0000-0000-0000000000aa"

    def scheduled_in() -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
                "WHERE args->>'request_id' = %s AND status = 'todo' ORDER BY queueing_lock",
                [request_id],
            )
            return [float(row[0]) for row in cursor.fetchall()]

    with django_capture_on_commit_callbacks(execute=True):
        enqueue_execution(request_id=request_id, delay_seconds=600, slots=[0, 1])
    assert all(590 < s <= 610 for s in scheduled_in())
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_execution(request_id=request_id, delay_seconds=2, slots=[0])
    first, second = scheduled_in()
    assert 0 < first <= 2 and 590 < second <= 610
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_execution(request_id=request_id, delay_seconds=300, slots=[0])
    assert 0 < scheduled_in()[0] <= 2
