"""mappings_register and mappings_namespaces: the namespaces resolved first, outside the
registration's transaction."""

from __future__ import annotations

import pytest

from erasure.actors import Actor
from erasure.errors import InvalidInput
from erasure.models import ItemMapping, Namespace
from erasure.services.mappings import MappingInput, mappings_namespaces, mappings_register

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")


def test_mappings_namespaces_learns_unknown_ones_from_the_api(emulator):
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    items = [MappingInput("user-1", "notes", "a")]
    namespaces = mappings_namespaces(items=items)
    assert list(namespaces) == [("default", "notes")]
    assert Namespace.objects.get(name="notes") == namespaces["default", "notes"]
    emulator.control("calls/clear", {})
    result = mappings_register(items=items, namespaces=namespaces, actor=ACTOR)
    assert result.created == 1
    assert emulator.calls() == []  # resolved already: the API is not asked again


def test_mappings_namespaces_validates_the_items_first(emulator):
    with pytest.raises(InvalidInput) as refused:
        mappings_namespaces(items=[MappingInput(" ", "notes", "a")])
    assert "items[0]" in refused.value.fields
    assert emulator.calls() == []


def test_namespaces_given_must_cover_every_item(emulator):
    notes = Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    items = [MappingInput("user-1", "notes", "a"), MappingInput("user-1", "other", "b")]
    with pytest.raises(ValueError, match="every namespace"):
        mappings_register(items=items, namespaces={("default", "notes"): notes}, actor=ACTOR)
    assert ItemMapping.objects.count() == 0
