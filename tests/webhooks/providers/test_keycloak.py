"""Keycloak with p2-inc keycloak-events: the verifier against the value computed in
identity-webhooks.md, and admin and self-service deletions through /webhooks/<slug>/."""

from __future__ import annotations

import pytest

from erasure.hashing import subject_hash
from erasure.models import ErasureRequest
from tests.webhooks import payloads
from tests.webhooks.conftest import (
    filed_for,
    keycloak_signature,
    make_source,
    nothing_written,
    outcomes,
    post,
)
from webhooks.providers import VerificationFailed, keycloak

KEYCLOAK_SECRET = "A3jt6D8lz-keycloak"

KEYCLOAK_BODY = (
    b'{"uid":"00000000-0000-0000-0000-000000000001","type":"admin.USER-DELETE",'
    b'"resourceType":"USER","operationType":"DELETE",'
    b'"resourcePath":"users/11111111-2222-3333-4444-555555555555","realmId":"master",'
    b'"time":1700000000000}'
)

KEYCLOAK_SIGNATURE = "183187ad1bc630c2123aa9fcbc47aa1332a13e52cb8f08e90e0f66fd7d22b710"


def test_keycloak_documented_value_verifies_and_helper_matches():
    assert keycloak_signature("A3jt6D8lz", KEYCLOAK_BODY) == KEYCLOAK_SIGNATURE
    keycloak.verify(
        body=KEYCLOAK_BODY,
        headers={"x-keycloak-signature": KEYCLOAK_SIGNATURE},
        secrets=["A3jt6D8lz"],
        header_name="",
        now=0,
    )
    with pytest.raises(VerificationFailed):
        keycloak.verify(
            body=KEYCLOAK_BODY + b" ",
            headers={"x-keycloak-signature": KEYCLOAK_SIGNATURE},
            secrets=["A3jt6D8lz"],
            header_name="",
            now=0,
        )


@pytest.mark.django_db
def test_keycloak_admin_user_delete_takes_the_user_from_resource_path(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_admin("DELETE", "uid-1", "11111111-2222-3333-4444-555555555555")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, body)}
    response = post(client, "keycloak", body, headers)
    assert response.status_code == 200
    filed_for("11111111-2222-3333-4444-555555555555")
    # Never the admin in authDetails.
    assert ErasureRequest.objects.count() == 1
    assert not ErasureRequest.objects.filter(subject__key_hash=subject_hash("admin-0000"))


@pytest.mark.django_db
def test_keycloak_self_service_delete_account(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_access("DELETE_ACCOUNT", "uid-2", "kc-user-2")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, body)}
    assert post(client, "keycloak", body, headers).status_code == 200
    filed_for("kc-user-2")


@pytest.mark.django_db
def test_keycloak_signature_of_another_body_is_refused(client):
    make_source("keycloak", [KEYCLOAK_SECRET])
    body = payloads.keycloak_admin("DELETE", "uid-1", "victim")
    other = payloads.keycloak_admin("DELETE", "uid-1", "someone-else")
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, other)}
    assert post(client, "keycloak", body, headers).status_code == 401
    assert nothing_written()


@pytest.mark.django_db
def test_keycloak_update_with_a_representation_nested_too_deep_is_no_lifecycle_change(client):
    # The representation is a JSON string inside the event; one nested deeper than the
    # parser recurses is unreadable, like any invalid one: the update is not a deactivation.
    make_source("keycloak", [KEYCLOAK_SECRET], deactivation_policy="delay")
    deep = "[" * 100_000 + "]" * 100_000
    body = payloads.keycloak_admin("UPDATE", "uid-1", "kc-1", representation=deep)
    headers = {"X-Keycloak-Signature": keycloak_signature(KEYCLOAK_SECRET, body)}
    response = post(client, "keycloak", body, headers)
    assert response.status_code == 200, response.content
    assert outcomes(response) == {"ignored": 1}
    assert nothing_written()
