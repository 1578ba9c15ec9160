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


@pytest.mark.django_db(transaction=True)
def test_a_subject_created_meanwhile_by_another_transaction_gets_the_mapping(emulator):
    """The registration's subject statement reads the subjects committed before it
    started: one that a concurrent registration inserts and commits meanwhile (ours waits
    on its key, then inserts nothing) is read again, and its mapping is written."""
    import threading

    import psycopg
    from django.db import connection

    from erasure.hashing import subject_hash
    from tests.conftest import database_url_of

    notes = Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    namespaces = {("default", "notes"): notes}
    url = database_url_of(connection.settings_dict["NAME"])
    with psycopg.connect(url) as other:
        other.execute(
            "INSERT INTO erasure_subject (key_hash, created_at) VALUES (%s, now())",
            [subject_hash("user-meanwhile")],
        )
        outcome: dict = {}

        def register() -> None:
            try:
                outcome["result"] = mappings_register(
                    items=[
                        MappingInput("user-meanwhile", "notes", "a"),
                        MappingInput("user-new", "notes", "b"),
                    ],
                    namespaces=namespaces,
                    actor=ACTOR,
                )
            finally:
                connection.close()

        thread = threading.Thread(target=register)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive(), "the registration waits for the other transaction's key"
        other.commit()
        thread.join(timeout=30)
    assert outcome["result"].created == 2
    with psycopg.connect(url) as reader:
        committed = reader.execute(
            "SELECT id FROM erasure_subject WHERE key_hash = %s", [subject_hash("user-meanwhile")]
        ).fetchone()[0]
    assert ItemMapping.objects.get(item_id="a").subject_id == committed
    assert ItemMapping.objects.filter(item_id="b").exists()
