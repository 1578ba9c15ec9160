"""API keys in the admin: listed (never their hash), revoked through the service, never
created or edited there."""

from __future__ import annotations

import pytest

from erasure.actors import Actor
from erasure.models import ApiKey, AuditEvent, AuditEventType
from erasure.services.api_keys import api_key_create

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/erasure/apikey/"


@pytest.fixture
def keys():
    made = {}
    for name in ("uploader", "auditor"):
        key, raw = api_key_create(name=name, scopes=["audit:read"], actor=Actor.system("test"))
        made[name] = (key, raw)
    return made


def test_the_list_shows_name_prefix_scopes_and_use_but_never_the_hash(admin_client, keys):
    page = admin_client.get(CHANGELIST).content.decode()
    for key, raw in keys.values():
        assert key.name in page
        assert key.prefix in page
        assert key.key_hash not in page
        assert raw not in page
    assert "audit:read" in page
    assert "Last used at" in page or "last used" in page.lower()
    detail = admin_client.get(f"{CHANGELIST}{keys['uploader'][0].pk}/change/").content.decode()
    assert keys["uploader"][0].prefix in detail
    assert keys["uploader"][0].key_hash not in detail
    assert 'name="name"' not in detail  # read-only: no input to edit


def test_revoke_action_goes_through_the_service_with_an_audit_event(admin_client, keys):
    uploader = keys["uploader"][0]
    response = admin_client.post(
        CHANGELIST, {"action": "revoke", "_selected_action": [uploader.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked: uploader." in response.content.decode()
    assert ApiKey.objects.get(pk=uploader.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=keys["auditor"][0].pk).revoked_at is None
    event = AuditEvent.objects.get(event_type=AuditEventType.API_KEY_REVOKED)
    assert event.actor == "user:admin"
    # A second revoke changes nothing and says so.
    again = admin_client.post(
        CHANGELIST, {"action": "revoke", "_selected_action": [uploader.pk]}, follow=True
    )
    assert "Already revoked: uploader." in again.content.decode()
    assert AuditEvent.objects.filter(event_type=AuditEventType.API_KEY_REVOKED).count() == 1


def test_keys_cannot_be_added_edited_or_deleted_in_the_admin(admin_client, keys):
    key = keys["uploader"][0]
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.post(
        f"{CHANGELIST}{key.pk}/change/", {"name": "renamed", "scopes": "mappings:write"}
    )
    assert response.status_code == 403
    assert admin_client.post(f"{CHANGELIST}{key.pk}/delete/", {"post": "yes"}).status_code == 403
    fresh = ApiKey.objects.get(pk=key.pk)
    assert (fresh.name, fresh.scopes, fresh.key_hash) == (key.name, key.scopes, key.key_hash)


def test_a_key_page_has_a_revoke_button_until_it_is_revoked(admin_client, keys):
    key = keys["auditor"][0]
    page = f"{CHANGELIST}{key.pk}/change/"
    assert 'id="revoke-key"' in admin_client.get(page).content.decode()
    # GET does nothing; POST revokes.
    admin_client.get(f"{CHANGELIST}{key.pk}/revoke/")
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    response = admin_client.post(f"{CHANGELIST}{key.pk}/revoke/", follow=True)
    assert "was revoked" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert 'id="revoke-key"' not in admin_client.get(page).content.decode()
    event = AuditEvent.objects.get(event_type=AuditEventType.API_KEY_REVOKED)
    assert event.details["name"] == "auditor"


def test_staff_without_the_change_permission_cannot_revoke(client, django_user_model, keys):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(viewer)
    key = keys["auditor"][0]
    assert client.post(f"{CHANGELIST}{key.pk}/revoke/").status_code == 403
    assert 'id="revoke-key"' not in client.get(f"{CHANGELIST}{key.pk}/change/").content.decode()
    client.post(CHANGELIST, {"action": "revoke", "_selected_action": [key.pk]})
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
