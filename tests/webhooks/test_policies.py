"""Subject mapping (direct or by alias), auto-approval, and the deactivation policy with
its delayed filing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from erasure.actors import Actor
from erasure.hashing import subject_hash
from erasure.models import AuditEvent, ErasureRequest, Subject
from erasure.services.aliases import AliasInput, alias_hash, aliases_register
from tests.webhooks import payloads
from tests.webhooks.conftest import make_source, outcomes, post, workos_header
from webhooks.models import DeferralState, DeferredErasure, WebhookDelivery
from webhooks.services import deferred_file_due

pytestmark = pytest.mark.django_db

OKTA_SECRET = "okta-shared-secret"
WORKOS_SECRET = "workos-secret-value"


def okta_post(client, *events, slug="okta"):
    return post(client, slug, payloads.okta(*events), {"Authorization": OKTA_SECRET})


def delete_event(uuid: str, user_id: str):
    return payloads.okta_event("user.lifecycle.delete.initiated", uuid, user_id, "j@example.com")


def lifecycle(event_type: str, uuid: str, user_id: str):
    return payloads.okta_event(f"user.lifecycle.{event_type}", uuid, user_id, "j@example.com")


def test_alias_mode_files_for_the_registered_subject(client):
    make_source("okta", [OKTA_SECRET], subject_mapping="alias", alias_kind="okta")
    aliases_register(
        items=[AliasInput(subject="customer-42", kind="okta", alias="00u-alias-1")],
        actor=Actor.system("test"),
    )
    response = okta_post(client, delete_event("e-1", "00u-alias-1"))
    assert outcomes(response) == {"filed": 1}
    request = ErasureRequest.objects.get()
    assert request.subject.key_hash == subject_hash("customer-42")


def test_alias_mode_unknown_alias_is_ignored_and_audited_without_the_raw_id(client):
    make_source("okta", [OKTA_SECRET], subject_mapping="alias", alias_kind="okta")
    response = okta_post(client, delete_event("e-1", "00u-unknown"))
    assert response.status_code == 200
    assert outcomes(response) == {"unknown_subject": 1}
    assert not ErasureRequest.objects.exists()
    assert not Subject.objects.exists()
    event = AuditEvent.objects.get(event_type="webhook.unknown_subject")
    assert event.details["alias_hash"] == alias_hash("okta", "00u-unknown")
    assert event.details["delivery_id"] == "e-1"
    assert "00u-unknown" not in json.dumps(event.details)
    assert WebhookDelivery.objects.get().outcome == "unknown_subject"
    # A redelivery is a duplicate, not a second audit event.
    okta_post(client, delete_event("e-1", "00u-unknown"))
    assert AuditEvent.objects.count() == 1


def test_auto_approve_source_approves_and_wakes_a_worker(client):
    make_source("okta", [OKTA_SECRET], auto_approve=True)
    okta_post(client, delete_event("e-1", "00u1"))
    request = ErasureRequest.objects.get()
    assert (request.status, request.auto_approved) == ("approved", True)
    assert ProcrastinateJob.objects.filter(args__request_id=str(request.pk)).exists()


def test_request_events_configured_per_source(client):
    make_source("okta", [OKTA_SECRET], request_events=["user.lifecycle.deactivate"])
    response = okta_post(
        client, delete_event("e-1", "00u1"), lifecycle("deactivate", "e-2", "00u2")
    )
    assert outcomes(response) == {"filed": 1, "ignored": 1}
    assert ErasureRequest.objects.get().subject.key_hash == subject_hash("00u2")


def test_regulation_of_the_source_is_the_requests(client):
    make_source("okta", [OKTA_SECRET], regulation="ccpa")
    okta_post(client, delete_event("e-1", "00u1"))
    assert ErasureRequest.objects.get().regulation == "ccpa"


def test_deactivation_is_ignored_by_default(client):
    make_source("okta", [OKTA_SECRET])
    response = okta_post(
        client, lifecycle("deactivate", "e-1", "00u1"), lifecycle("suspend", "e-2", "00u2")
    )
    assert outcomes(response) == {"ignored": 2}
    assert not DeferredErasure.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_delay_policy_defers_then_files_when_due(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay", deactivation_delay_hours=48)
    response = okta_post(client, lifecycle("deactivate", "e-1", "00u1"))
    assert outcomes(response) == {"deferred": 1}
    deferral = DeferredErasure.objects.get()
    assert deferral.subject.key_hash == subject_hash("00u1")
    assert deferral.subject.raw_key is None  # no request open: only the keyed hash
    assert AuditEvent.objects.get(event_type="webhook.deferred").subject_hash == (
        subject_hash("00u1")
    )
    # Suspension of the same user while one is pending: no second deferral.
    again = okta_post(client, lifecycle("suspend", "e-2", "00u1"))
    assert outcomes(again) == {"already_deferred": 1}

    assert deferred_file_due(now=timezone.now() + timedelta(hours=47)) == 0
    assert not ErasureRequest.objects.exists()
    assert deferred_file_due(now=timezone.now() + timedelta(hours=49)) == 1
    deferral.refresh_from_db()
    request = ErasureRequest.objects.get()
    assert (deferral.state, deferral.request_id) == (DeferralState.FILED, request.pk)
    assert (request.source, request.status) == ("webhook", "awaiting_approval")
    assert deferred_file_due(now=timezone.now() + timedelta(hours=100)) == 0


def test_reactivation_cancels_the_deferral(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay")
    okta_post(client, lifecycle("deactivate", "e-1", "00u1"))
    response = okta_post(client, lifecycle("reactivate", "e-2", "00u1"))
    assert outcomes(response) == {"deferral_cancelled": 1}
    assert DeferredErasure.objects.get().state == DeferralState.CANCELLED
    assert deferred_file_due(now=timezone.now() + timedelta(days=365)) == 0
    assert not ErasureRequest.objects.exists()
    assert AuditEvent.objects.filter(event_type="webhook.deferral_cancelled").count() == 1


def test_activation_of_a_user_never_deactivated_leaves_no_row(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay")
    response = okta_post(client, lifecycle("activate", "e-1", "00u-new"))
    assert outcomes(response) == {"ignored": 1}
    assert not WebhookDelivery.objects.exists()
    assert not Subject.objects.exists()


def test_deletion_overtakes_a_pending_deferral(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay")
    okta_post(client, lifecycle("deactivate", "e-1", "00u1"))
    okta_post(client, delete_event("e-2", "00u1"))
    request = ErasureRequest.objects.get()
    deferral = DeferredErasure.objects.get()
    assert (deferral.state, deferral.request_id) == (DeferralState.FILED, request.pk)
    assert deferred_file_due(now=timezone.now() + timedelta(days=365)) == 0
    assert ErasureRequest.objects.count() == 1


def test_workos_directory_user_inactive_is_a_deactivation(client):
    make_source("workos", [WORKOS_SECRET], deactivation_policy="delay")
    body = payloads.workos("dsync.user.updated", "event_1", "directory_user_1", state="inactive")
    response = post(
        client, "workos", body, {"WorkOS-Signature": workos_header(WORKOS_SECRET, body)}
    )
    assert outcomes(response) == {"deferred": 1}
    body = payloads.workos("dsync.user.updated", "event_2", "directory_user_1", state="active")
    response = post(
        client, "workos", body, {"WorkOS-Signature": workos_header(WORKOS_SECRET, body)}
    )
    assert outcomes(response) == {"deferral_cancelled": 1}


def test_keycloak_user_disabled_is_a_deactivation(client):
    from tests.webhooks.conftest import keycloak_signature

    make_source("keycloak", ["kc-secret-value"], deactivation_policy="delay")
    body = payloads.keycloak_admin(
        "UPDATE", "uid-1", "kc-1", representation=json.dumps({"id": "kc-1", "enabled": False})
    )
    headers = {"X-Keycloak-Signature": keycloak_signature("kc-secret-value", body)}
    assert outcomes(post(client, "keycloak", body, headers)) == {"deferred": 1}


def test_deferral_in_alias_mode_with_an_unknown_alias_is_ignored(client):
    make_source(
        "okta",
        [OKTA_SECRET],
        subject_mapping="alias",
        alias_kind="okta",
        deactivation_policy="delay",
    )
    response = okta_post(client, lifecycle("deactivate", "e-1", "00u-unknown"))
    assert outcomes(response) == {"unknown_subject": 1}
    assert not DeferredErasure.objects.exists()


def test_deactivation_and_reactivation_in_one_batch_cancel_out(client):
    make_source("okta", [OKTA_SECRET], deactivation_policy="delay")
    response = okta_post(
        client, lifecycle("deactivate", "e-1", "00u1"), lifecycle("reactivate", "e-2", "00u1")
    )
    assert outcomes(response) == {"deferred": 1, "deferral_cancelled": 1}
    assert DeferredErasure.objects.get().state == DeferralState.CANCELLED


def test_a_disabled_source_files_none_of_its_pending_deferrals(client):
    source = make_source(
        "okta", [OKTA_SECRET], deactivation_policy="delay", deactivation_delay_hours=1
    )
    okta_post(client, lifecycle("deactivate", "e-1", "00u1"))
    assert DeferredErasure.objects.filter(state=DeferralState.PENDING).count() == 1
    source.enabled = False
    source.save()
    assert deferred_file_due(now=timezone.now() + timedelta(hours=2)) == 0
    assert not ErasureRequest.objects.exists()
    source.enabled = True
    source.deactivation_policy = "ignore"
    source.save()
    assert deferred_file_due(now=timezone.now() + timedelta(hours=2)) == 0
    assert not ErasureRequest.objects.exists()
