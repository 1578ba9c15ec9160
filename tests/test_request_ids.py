"""`request_by_typed_id`: a request found by the id a person typed, whole or its first 8
characters as every page shows them; anything else is a NotFound with a message, never a
500."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from erasure.actors import Actor
from erasure.errors import NotFound
from erasure.models import ErasureRequest
from erasure.selectors.requests import request_by_typed_id
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db


def _filed(key: str) -> ErasureRequest:
    return request_file(subject_key=key, actor=Actor.system("test"), source="api").request


def test_the_whole_id_or_its_first_eight_characters_find_the_request():
    request = _filed("user-1")
    _filed("user-2")
    text = str(request.pk)
    for typed in (
        text,
        text.upper(),
        text.replace("-", ""),
        text[:8],
        f"  {text[:8]}  ",
        text[:13],
    ):
        assert request_by_typed_id(typed).pk == request.pk, typed


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1234567", "is not a request id"),
        ("zzzzzzzz", "is not a request id"),
        ("0" * 34, "is not a request id"),
        ("", "is not a request id"),
        ("ffffffff", "no request's id begins with ffffffff"),
    ],
)
def test_a_short_unknown_or_malformed_id_is_told_apart(typed, message):
    _filed("user-1")
    with pytest.raises(NotFound) as refused:
        request_by_typed_id(typed)
    assert message in refused.value.message


def test_a_prefix_that_two_requests_share_asks_for_more():
    subject = _filed("user-1").subject
    now = timezone.now()
    shared = "abcdef12"
    for tail in ("0", "1"):
        ErasureRequest.objects.create(
            id=uuid.UUID(shared + tail * 24),
            subject=subject,
            status="cancelled",
            source="api",
            regulation="gdpr",
            received_at=now,
            due_at=now,
        )
    with pytest.raises(NotFound) as refused:
        request_by_typed_id(shared)
    assert "more than one request's id begins with abcdef12: type more" in refused.value.message
    assert request_by_typed_id(shared + "1").pk == uuid.UUID(shared + "1" * 24)
