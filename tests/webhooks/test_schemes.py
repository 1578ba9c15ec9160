"""The verifiers alone, against the official Standard Webhooks vector and signatures
computed as each provider documents them. No database."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook

from tests.webhooks.conftest import (
    VECTOR_BAD_SIGNATURE,
    VECTOR_MSG_ID,
    VECTOR_PAYLOAD,
    VECTOR_SECRET,
    VECTOR_SIGNATURE,
    VECTOR_TIMESTAMP,
    keycloak_signature,
    standard_headers,
    standard_signature,
    workos_header,
)
from webhooks.schemes import (
    VerificationFailed,
    parse_auth0,
    verify_keycloak,
    verify_standard_webhooks,
    verify_static_header,
    verify_workos,
)


def vector_headers(signature: str = VECTOR_SIGNATURE, prefix: str = "webhook") -> dict[str, str]:
    return {
        f"{prefix}-id": VECTOR_MSG_ID,
        f"{prefix}-timestamp": str(VECTOR_TIMESTAMP),
        f"{prefix}-signature": signature,
    }


def verify_vector(headers: dict[str, str], *, secrets=(VECTOR_SECRET,), now=VECTOR_TIMESTAMP):
    return verify_standard_webhooks(
        body=VECTOR_PAYLOAD, headers=headers, secrets=list(secrets), header_name="", now=now
    )


def test_official_vector_verifies_at_its_timestamp():
    assert verify_vector(vector_headers()) == VECTOR_MSG_ID


def test_test_helper_signs_the_official_vector():
    sig = standard_signature(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
    assert sig == VECTOR_SIGNATURE


def test_official_negative_vector_fails():
    with pytest.raises(VerificationFailed, match="no matching signature"):
        verify_vector(vector_headers(VECTOR_BAD_SIGNATURE))


def test_official_vector_under_svix_header_names():
    assert verify_vector(vector_headers(prefix="svix")) == VECTOR_MSG_ID


def test_vector_secret_without_its_whsec_prefix():
    assert verify_vector(vector_headers(), secrets=["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]) == (
        VECTOR_MSG_ID
    )


def test_vector_is_stale_today():
    # The library's own behaviour too: the vector is from 2021.
    with pytest.raises(VerificationFailed, match="tolerance"):
        verify_vector(vector_headers(), now=time.time())


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_outside_five_minutes_either_way_fails(offset):
    with pytest.raises(VerificationFailed, match="tolerance"):
        verify_vector(vector_headers(), now=VECTOR_TIMESTAMP + offset)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_edge_of_the_window_passes(offset):
    assert verify_vector(vector_headers(), now=VECTOR_TIMESTAMP + offset) == VECTOR_MSG_ID


def test_rotation_any_signature_in_the_list_matches():
    header = f"v1a,AAAA v1,{'A' * 44} v1,not-base64! {VECTOR_SIGNATURE}"
    assert verify_vector(vector_headers(header)) == VECTOR_MSG_ID


def test_rotation_any_active_secret_matches():
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    assert verify_vector(vector_headers(), secrets=[other, VECTOR_SECRET]) == VECTOR_MSG_ID
    with pytest.raises(VerificationFailed):
        verify_vector(vector_headers(), secrets=[other])


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-id": VECTOR_MSG_ID, "webhook-signature": VECTOR_SIGNATURE},
        {**vector_headers(), "webhook-timestamp": "1614265330.5"},
        {**vector_headers(), "webhook-timestamp": "soon"},
        {**vector_headers(), "webhook-timestamp": "1614265330\n"},
        {**vector_headers(), "webhook-signature": "v1,a,b"},
        {**vector_headers(), "webhook-signature": "garbage"},
    ],
)
def test_malformed_signature_headers_fail_without_crashing(headers):
    with pytest.raises(VerificationFailed):
        verify_vector(headers)


def test_no_secrets_means_nothing_verifies():
    with pytest.raises(VerificationFailed):
        verify_vector(vector_headers(), secrets=[])


def test_tampered_body_fails():
    with pytest.raises(VerificationFailed):
        verify_standard_webhooks(
            body=b'{"test": 2432232315}',
            headers=vector_headers(),
            secrets=[VECTOR_SECRET],
            header_name="",
            now=VECTOR_TIMESTAMP,
        )


def test_non_utf8_body_fails_cleanly():
    body = b"\xff\xfe"
    headers = standard_headers(VECTOR_SECRET, "msg_1", body)
    with pytest.raises(VerificationFailed):
        verify_standard_webhooks(
            body=body, headers=headers, secrets=[VECTOR_SECRET], header_name="", now=time.time()
        )


def test_agrees_with_the_standardwebhooks_library_at_the_current_time():
    body = b'{"type":"user.deleted","data":{"id":"user_1"}}'
    headers = standard_headers(VECTOR_SECRET, "msg_lib", body)
    Webhook(VECTOR_SECRET).verify(body, headers)  # the reference implementation accepts it
    assert (
        verify_standard_webhooks(
            body=body, headers=headers, secrets=[VECTOR_SECRET], header_name="", now=time.time()
        )
        == "msg_lib"
    )


# identity-webhooks.md section 9 gives these computed WorkOS and p2-inc values.
WORKOS_BODY = (
    b'{"object":"event","id":"event_01TEST","event":"user.deleted","data":{"object":"user",'
    b'"id":"user_01TEST","email":"jane@example.com"},"created_at":"2023-11-14T22:13:20.000Z"}'
)
WORKOS_HEADER = (
    "t=1700000000000, v1=03a76b3fb8c3d9d2b2de6581ce2e26115e733192547a3e29baa44f4bb8c4fe2e"
)
KEYCLOAK_BODY = (
    b'{"uid":"00000000-0000-0000-0000-000000000001","type":"admin.USER-DELETE",'
    b'"resourceType":"USER","operationType":"DELETE",'
    b'"resourcePath":"users/11111111-2222-3333-4444-555555555555","realmId":"master",'
    b'"time":1700000000000}'
)
KEYCLOAK_SIGNATURE = "183187ad1bc630c2123aa9fcbc47aa1332a13e52cb8f08e90e0f66fd7d22b710"


def test_workos_documented_value_verifies_and_helper_matches():
    assert workos_header("test_workos_secret", WORKOS_BODY, timestamp_ms=1700000000000) == (
        WORKOS_HEADER
    )
    verify_workos(
        body=WORKOS_BODY,
        headers={"workos-signature": WORKOS_HEADER},
        secrets=["test_workos_secret"],
        header_name="",
        now=1700000000.0,
    )


@pytest.mark.parametrize("now", [1700000000 - 181, 1700000000 + 181])
def test_workos_window_is_180_seconds_in_milliseconds(now):
    with pytest.raises(VerificationFailed, match="tolerance"):
        verify_workos(
            body=WORKOS_BODY,
            headers={"workos-signature": WORKOS_HEADER},
            secrets=["test_workos_secret"],
            header_name="",
            now=float(now),
        )


def test_workos_header_split_without_space_like_the_ruby_sdk():
    verify_workos(
        body=WORKOS_BODY,
        headers={"workos-signature": WORKOS_HEADER.replace(", ", ",")},
        secrets=["test_workos_secret"],
        header_name="",
        now=1700000000.0,
    )


def test_keycloak_documented_value_verifies_and_helper_matches():
    assert keycloak_signature("A3jt6D8lz", KEYCLOAK_BODY) == KEYCLOAK_SIGNATURE
    verify_keycloak(
        body=KEYCLOAK_BODY,
        headers={"x-keycloak-signature": KEYCLOAK_SIGNATURE},
        secrets=["A3jt6D8lz"],
        header_name="",
        now=0,
    )
    with pytest.raises(VerificationFailed):
        verify_keycloak(
            body=KEYCLOAK_BODY + b" ",
            headers={"x-keycloak-signature": KEYCLOAK_SIGNATURE},
            secrets=["A3jt6D8lz"],
            header_name="",
            now=0,
        )


def test_static_header_uses_the_configured_header_name():
    headers = {"x-hook-secret": "s3cret-value", "authorization": "wrong"}
    verify_static_header(
        body=b"", headers=headers, secrets=["s3cret-value"], header_name="X-Hook-Secret", now=0
    )
    with pytest.raises(VerificationFailed):
        verify_static_header(
            body=b"", headers=headers, secrets=["s3cret-value"], header_name="", now=0
        )


def test_auth0_reads_array_object_and_json_lines_alike():
    entry = '{"log_id":"900%d","data":{"type":"sdu","user_id":"auth0|%d","log_id":"900%d"}}'
    as_lines = "\n".join(entry % (i, i, i) for i in range(3)).encode()
    as_array = ("[" + ",".join(entry % (i, i, i) for i in range(3)) + "]").encode()
    assert parse_auth0(as_lines, "") == parse_auth0(as_array, "")
    assert [e.delivery_id for e in parse_auth0((entry % (7, 7, 7)).encode(), "")] == ["9007"]
