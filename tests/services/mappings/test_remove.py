"""Removing mappings in bulk: set-based, all-or-nothing on bad input, audited by counts."""

from __future__ import annotations

import pytest
from django.db import transaction

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.models import AuditEvent, AuditEventType, ErasureItem, ErasureRequest, ItemMapping
from erasure.services.expansion import items_expand
from erasure.services.mappings import (
    MAX_ITEMS_PER_CALL,
    MappingInput,
    RemoveResult,
    mappings_register,
    mappings_remove,
)
from erasure.services.requests import request_file

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


@pytest.fixture
def mapped(emulator):
    emulator.seed(
        [
            {"name": "notes", "type": "text", "items": []},
            {"name": "vecs", "type": "vector", "vector_dimension": 2, "items": []},
        ]
    )
    items = [MappingInput(f"user-{n % 3}", "notes", f"n{n}") for n in range(30)]
    items += [MappingInput(f"user-{n % 3}", "vecs", f"v{n}") for n in range(30)]
    mappings_register(items=items, actor=ACTOR)
    return items


def test_remove_deletes_exactly_the_named_mappings(mapped, emulator):
    calls_before = len(emulator.calls())
    result = mappings_remove(
        items=[
            MappingInput("user-0", "notes", "n0"),
            MappingInput("user-0", "notes", "n0"),  # named twice: removed once
            MappingInput("user-1", "vecs", "v1"),
            MappingInput("user-2", "vecs", "v1"),  # v1 belongs to user-1, not user-2
            MappingInput("nobody", "notes", "n3"),
            MappingInput("user-0", "no-such-namespace", "n3"),
        ],
        actor=ACTOR,
    )
    assert result == RemoveResult(received=6, removed=2)
    remaining = set(ItemMapping.objects.values_list("namespace__name", "item_id"))
    assert ("notes", "n0") not in remaining and ("vecs", "v1") not in remaining
    assert len(remaining) == 58
    # An unknown namespace is not looked up in the namespace API.
    assert len(emulator.calls()) == calls_before


def test_remove_records_counts_only_in_the_audit_trail(mapped):
    mappings_remove(items=[MappingInput("user-0", "notes", "n0")], actor=ACTOR)
    event = AuditEvent.objects.filter(event_type=AuditEventType.MAPPINGS_REMOVED).get()
    assert event.details == {"received": 1, "removed": 1, "subjects": 1}
    assert event.actor == "system:test"
    assert "user-0" not in str(event.details) and "n0" not in str(event.details)


@pytest.mark.parametrize(
    "items",
    [
        [],
        [MappingInput("user-0", "notes", "n0"), MappingInput(" ", "notes", "n1")],
        [MappingInput("user-0", "notes", "n0"), MappingInput("user-0", "", "n1")],
        [MappingInput("user-0", "notes", "n0"), MappingInput("user-0", "notes", "")],
        [MappingInput("user-0", "notes", "n0"), MappingInput("user-0", "notes", "x" * 513)],
        [MappingInput("user-0", "notes", "n0")] * (MAX_ITEMS_PER_CALL + 1),
    ],
)
def test_bad_input_removes_nothing_and_records_nothing(mapped, items):
    before = (ItemMapping.objects.count(), AuditEvent.objects.count())
    with pytest.raises(InvalidInput) as raised:
        mappings_remove(items=items, actor=ACTOR)
    assert raised.value.fields
    assert (ItemMapping.objects.count(), AuditEvent.objects.count()) == before


def test_bad_item_is_reported_with_its_index(mapped):
    with pytest.raises(InvalidInput) as raised:
        mappings_remove(
            items=[MappingInput("user-0", "notes", "n0"), MappingInput("user-0", "notes", "")],
            actor=ACTOR,
        )
    assert list(raised.value.fields) == ["items[1]"]


def test_items_already_in_a_request_stay_in_it(mapped):
    request = request_file(subject_key="user-0", actor=ACTOR, source="admin").request
    # Items are expanded for an approved (or running) request only.
    ErasureRequest.objects.filter(pk=request.pk).update(status="approved")
    request.refresh_from_db()

    with transaction.atomic():
        items_expand(request=request, actor=ACTOR)
    expanded = ErasureItem.objects.filter(request=request).count()
    assert expanded == 20
    mappings_remove(items=[MappingInput("user-0", "notes", "n0")], actor=ACTOR)
    assert ErasureItem.objects.filter(request=request).count() == expanded
    assert ErasureItem.objects.filter(request=request, item_id="n0").exists()
