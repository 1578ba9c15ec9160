"""Aliases: registered in bulk as keyed hashes, never moved to another subject, and usable
to file a request for a subject whose raw key the caller does not know."""

from __future__ import annotations

import pytest

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.hashing import subject_hash
from erasure.models import AuditEvent, Subject, SubjectAlias
from erasure.services.aliases import AliasInput, aliases_register, subject_for_alias
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db
APP = Actor.system("app")


def test_aliases_are_hashed_idempotent_and_never_moved():
    result = aliases_register(
        items=[
            AliasInput("user-1", "okta", "00u1abc"),
            AliasInput("user-1", "email", "Alice@Example.com"),
            AliasInput("user-1", "okta", "00u1abc"),  # twice in one call
        ],
        actor=APP,
    )
    assert (result.received, result.created, result.conflicts) == (3, 2, 0)
    stored = set(SubjectAlias.objects.values_list("alias_hash", flat=True))
    assert "00u1abc" not in stored and "alice@example.com" not in stored
    assert subject_for_alias(kind="email", alias=" alice@EXAMPLE.com ").key_hash == subject_hash(
        "user-1"
    )
    # Case matters for an IdP id, and the kind is part of the key.
    assert subject_for_alias(kind="okta", alias="00U1ABC") is None
    assert subject_for_alias(kind="auth0", alias="00u1abc") is None

    again = aliases_register(items=[AliasInput("user-2", "okta", "00u1abc")], actor=APP)
    assert (again.created, again.conflicts) == (0, 1)
    assert subject_for_alias(kind="okta", alias="00u1abc").key_hash == subject_hash("user-1")
    assert AuditEvent.objects.filter(event_type="aliases.registered").count() == 2


def test_bad_aliases_write_nothing():
    with pytest.raises(InvalidInput) as error:
        aliases_register(
            items=[AliasInput("user-1", "okta", "ok"), AliasInput("user-1", "Bad Kind", "")],
            actor=APP,
        )
    assert set(error.value.fields["items[1]"]) == {
        "kind must be 1-40 characters of a-z, 0-9, '_', '.', '-'",
        "alias must not be empty",
    }
    assert not SubjectAlias.objects.exists() and not Subject.objects.exists()


def test_a_request_can_be_filed_for_a_subject_found_by_alias():
    aliases_register(items=[AliasInput("user-9", "clerk", "user_2abc")], actor=APP)
    subject = subject_for_alias(kind="clerk", alias="user_2abc")
    filed = request_file(
        subject_key="", subject=subject, actor=Actor.for_webhook("clerk"), source="webhook"
    )
    assert filed.created and filed.request.subject == subject
    assert Subject.objects.get(pk=subject.pk).raw_key is None
    # The same subject again: the open request answers.
    again = request_file(
        subject_key="", subject=subject, actor=Actor.for_webhook("clerk"), source="webhook"
    )
    assert not again.created and again.request.pk == filed.request.pk
