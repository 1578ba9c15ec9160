"""Sources are configured in the admin; secrets are write-only there."""

from __future__ import annotations

import hashlib

import pytest

from erasure.models import AuditEvent
from tests.webhooks.conftest import VECTOR_SECRET, source_form
from webhooks.models import WebhookSecret, WebhookSource

pytestmark = pytest.mark.django_db

SECRET = VECTOR_SECRET  # the secret source_form sends
NEW_SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw")
    client.force_login(user)
    return client


def test_add_source_with_a_secret_that_is_never_shown_back(admin_client):
    response = admin_client.post("/admin/webhooks/webhooksource/add/", source_form())
    assert response.status_code == 302, response.content.decode()[:3000]
    source = WebhookSource.objects.get(slug="clerk")
    secret = source.secrets.get()
    fingerprint = "#" + hashlib.sha256(SECRET.encode()).hexdigest()[:8]
    assert (secret.value, secret.prefix, secret.active) == (SECRET, fingerprint, True)
    page = admin_client.get(f"/admin/webhooks/webhooksource/{source.pk}/change/").content.decode()
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in page
    assert f"{fingerprint}…" in page
    assert "/webhooks/clerk/" in page
    actions = [
        e.details["action"] for e in AuditEvent.objects.filter(event_type="webhook_source.changed")
    ]
    assert actions == ["created", "secret_added"]
    assert all(SECRET not in str(e.details) for e in AuditEvent.objects.all())


def test_invalid_standard_webhooks_secret_is_refused(admin_client):
    response = admin_client.post(
        "/admin/webhooks/webhooksource/add/", source_form(**{"secrets-0-new_value": "whsec_"})
    )
    assert response.status_code == 200
    assert not WebhookSource.objects.exists()


def test_alias_mapping_needs_a_kind(admin_client):
    response = admin_client.post(
        "/admin/webhooks/webhooksource/add/", source_form(subject_mapping="alias")
    )
    assert response.status_code == 200
    assert b"alias mapping needs the kind" in response.content
    assert not WebhookSource.objects.exists()


def test_rotation_add_a_secret_then_revoke_the_old_one(admin_client):
    admin_client.post("/admin/webhooks/webhooksource/add/", source_form())
    source = WebhookSource.objects.get()
    old = source.secrets.get()
    change = {
        **source_form(),
        "secrets-TOTAL_FORMS": "2",
        "secrets-INITIAL_FORMS": "1",
        "secrets-0-id": str(old.pk),
        "secrets-0-source": str(source.pk),
        "secrets-0-active": "on",
        "secrets-1-new_value": NEW_SECRET,
        "secrets-1-active": "on",
    }
    del change["secrets-0-new_value"], change["slug"]
    response = admin_client.post(f"/admin/webhooks/webhooksource/{source.pk}/change/", change)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert set(source.secrets.filter(active=True).values_list("value", flat=True)) == {
        SECRET,
        NEW_SECRET,
    }
    new = source.secrets.get(value=NEW_SECRET)
    revoke = {
        **change,
        "secrets-TOTAL_FORMS": "2",
        "secrets-INITIAL_FORMS": "2",
        "secrets-0-id": str(new.pk),
        "secrets-0-source": str(source.pk),
        "secrets-1-id": str(old.pk),
        "secrets-1-source": str(source.pk),
    }
    del revoke["secrets-1-new_value"], revoke["secrets-1-active"]
    response = admin_client.post(f"/admin/webhooks/webhooksource/{source.pk}/change/", revoke)
    assert response.status_code == 302, response.content.decode()[:3000]
    old.refresh_from_db()
    assert (old.active, old.revoked_at is not None) == (False, True)
    assert WebhookSecret.objects.get(value=NEW_SECRET).active
    actions = [e.details["action"] for e in AuditEvent.objects.order_by("id")]
    assert actions[-1] == "secret_revoked"


def test_deliveries_are_read_only(admin_client):
    assert admin_client.get("/admin/webhooks/webhookdelivery/").status_code == 200
    assert admin_client.get("/admin/webhooks/webhookdelivery/add/").status_code == 403
