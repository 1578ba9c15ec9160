"""What a leaf of the audit log is: an event's canonical bytes.

    leaf input = UTF-8 JSON of the event's LEAF_FIELDS, keys sorted, no white space,
                 non-ASCII characters as themselves (not \\u escapes)
    leaf hash  = SHA-256(0x00 || leaf input)                     (RFC 9162 section 2.1)

`occurred_at` is ISO 8601 in UTC with microseconds when it has them
("2026-12-02T09:30:00.123456+00:00"), `request_id` a UUID string or null, `details` the
JSON object as stored. An export's record carries every one of these fields, so anyone
can recompute a leaf hash from it with any JSON library. The event's place in the log
(`leaf_index`) is not part of its bytes: the proofs establish it.

Standard library only: offline verification uses this module as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from erasure.transparency.merkle import leaf_hash

LEAF_FIELDS = (
    "id",
    "occurred_at",
    "event_type",
    "actor",
    "request_id",
    "subject_hash",
    "details",
)


class LeafError(ValueError):
    """A record that is not an audit event."""


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    missing = [name for name in LEAF_FIELDS if name not in record]
    if missing:
        raise LeafError(f"the event has no {', '.join(missing)}")
    payload = {name: record[name] for name in LEAF_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_leaf_hash(record: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_bytes(record))
