"""The admin with two namespace APIs: the namespace list shows and filters by API, a
namespace is added in the API chosen (a name may be in both), and it cannot move later."""

from __future__ import annotations

import pytest

from erasure.models import AuditEvent, AuditEventType, Namespace

pytestmark = pytest.mark.django_db


def test_a_namespace_is_added_in_the_api_chosen(client, staff, onprem):
    Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    client.force_login(staff("ops", "view_namespace", "add_namespace", "change_namespace"))

    form = client.get("/admin/erasure/namespace/add/").content.decode()
    assert '<option value="default" selected>default</option>' in form
    assert '<option value="onprem">onprem</option>' in form

    response = client.post(
        "/admin/erasure/namespace/add/",
        {"api": "onprem", "name": "notes", "kind": "text", "attribution_mode": "exact"},
    )
    assert response.status_code == 302, response.content
    assert sorted(Namespace.objects.values_list("api", "name")) == [
        ("default", "notes"),
        ("onprem", "notes"),
    ]
    event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_CREATED)
    assert event.details["api"] == "onprem"

    # The same name in the same API again is a form error, not a 500.
    again = client.post(
        "/admin/erasure/namespace/add/",
        {"api": "onprem", "name": "notes", "kind": "text", "attribution_mode": "exact"},
    )
    assert again.status_code == 200
    assert "already exists" in again.content.decode()

    listed = client.get("/admin/erasure/namespace/?api=onprem").content.decode()
    assert listed.count('class="field-api"') == 1
    assert "<th" in listed and "API" in listed

    # The API, like the name and kind, is the namespace's identity: read-only on its page.
    onprem_notes = Namespace.objects.get(api="onprem")
    page = client.get(f"/admin/erasure/namespace/{onprem_notes.pk}/change/").content.decode()
    assert 'name="api"' not in page
