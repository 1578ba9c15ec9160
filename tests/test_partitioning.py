"""The path past one table (docs/scaling.md): the mapping and item tables, hash-partitioned
by their subject's key, run the real engine unchanged, and each statement of a request
touches one partition.

The test partitions the two tables in place (PostgreSQL's native partitioning, the layout
the document describes), runs a request end to end against them, and puts the plain tables
back afterwards.
"""

from __future__ import annotations

import pytest
from django.db import connection

from erasure.lifecycle import ItemOutcome
from erasure.models import ErasureItem, ItemMapping
from erasure.services.execution import request_execute
from tests.services.execution.helpers import assert_consistent, prepare

pytestmark = pytest.mark.django_db(transaction=True)

PARTITIONS = 4

# (table, partition key, its unique constraint, other indexes, storage parameters)
LAYOUT = (
    (
        "erasure_itemmapping",
        "subject_id",
        "CONSTRAINT mapping_unique_item_per_subject UNIQUE (subject_id, namespace_id, item_id),"
        " FOREIGN KEY (subject_id) REFERENCES erasure_subject (id) DEFERRABLE INITIALLY DEFERRED,"
        " FOREIGN KEY (namespace_id) REFERENCES erasure_namespace (id)"
        " DEFERRABLE INITIALLY DEFERRED",
        ["(namespace_id, item_id)"],
        "",
    ),
    (
        "erasure_erasureitem",
        "request_id",
        "CONSTRAINT item_unique_per_request UNIQUE (request_id, namespace_id, item_id)",
        ["(request_id, namespace_id, item_id) WHERE outcome = 'pending'"],
        "WITH (fillfactor = 40)",
    ),
)


def _unique_name(unique: str) -> str:
    return unique.split()[1]


def _partition(cursor, table: str, key: str, unique: str, indexes: list[str], storage: str):
    cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_plain")
    name = _unique_name(unique)
    cursor.execute(f"ALTER TABLE {table}_plain RENAME CONSTRAINT {name} TO {name}_plain")
    cursor.execute(f"CREATE SEQUENCE {table}_part_id")
    cursor.execute(
        f"""CREATE TABLE {table} (
            LIKE {table}_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
            PRIMARY KEY ({key}, id), {unique}
        ) PARTITION BY HASH ({key})"""
    )
    cursor.execute(f"ALTER TABLE {table} ALTER id SET DEFAULT nextval('{table}_part_id')")
    for index in indexes:
        cursor.execute(f"CREATE INDEX ON {table} {index}")
    for remainder in range(PARTITIONS):
        cursor.execute(
            f"""CREATE TABLE {table}_p{remainder} PARTITION OF {table}
                FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder}) {storage}"""
        )


def _restore(cursor, table: str, unique: str):
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{table}_plain"])
    if not cursor.fetchone()[0]:
        return  # never renamed
    name = _unique_name(unique)
    cursor.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    cursor.execute(f"ALTER TABLE {table}_plain RENAME TO {table}")
    cursor.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {name}_plain TO {name}")
    cursor.execute(f"DROP SEQUENCE IF EXISTS {table}_part_id")


@pytest.fixture
def partitioned():
    with connection.cursor() as cursor:
        try:
            for layout in LAYOUT:
                _partition(cursor, *layout)
            yield
        finally:
            for table, _, unique, _, _ in reversed(LAYOUT):
                _restore(cursor, table, unique)


def _partitions_in_plan(sql: str, params: list) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {
        word.strip("(),")
        for word in plan.split()
        if word.startswith(("erasure_itemmapping_p", "erasure_erasureitem_p"))
        and word.strip("(),")[-1].isdigit()
    }


def test_a_request_runs_unchanged_on_tables_partitioned_by_subject(partitioned, emulator):
    request = prepare(emulator, texts=12, vectors=8, others=5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'erasure_itemmapping'")
        assert cursor.fetchone()[0] == "p", "the mapping table is partitioned"

    summary = request_execute(request_id=request.pk)

    assert summary.finished
    request.refresh_from_db()
    assert request.status == "completed"
    assert assert_consistent(request, emulator) == {"deleted": 20}
    # Erased items' mappings went; the other subject's stayed.
    assert not ItemMapping.objects.filter(subject_id=request.subject_id).exists()
    assert ItemMapping.objects.exclude(subject_id=request.subject_id).count() == 5
    # A request's items live in one partition: its key decides which.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT tableoid) FROM erasure_erasureitem WHERE request_id = %s",
            [request.pk],
        )
        assert cursor.fetchone()[0] == 1
    assert ErasureItem.objects.filter(request=request).count() == 20

    # The statements of a request read one partition (pruning by the key):
    # expansion, from the subject's mappings;
    assert (
        len(
            _partitions_in_plan(
                "SELECT namespace_id, item_id FROM erasure_itemmapping WHERE subject_id = %s",
                [request.subject_id],
            )
        )
        == 1
    )
    # claims and pending_state, from the request's pending items;
    assert (
        len(
            _partitions_in_plan(
                "SELECT id FROM erasure_erasureitem WHERE request_id = %s AND namespace_id = %s"
                " AND outcome = %s ORDER BY item_id LIMIT 1000",
                [request.pk, 1, ItemOutcome.PENDING],
            )
        )
        == 1
    )
    # while a coverage scan's lookup by (namespace, item) reads every partition: the cost
    # docs/scaling.md names.
    assert (
        len(
            _partitions_in_plan(
                "SELECT 1 FROM erasure_itemmapping WHERE namespace_id = %s AND item_id = %s",
                [1, "t1"],
            )
        )
        == PARTITIONS
    )
