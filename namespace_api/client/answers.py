"""Reading the API's answers: every documented body shape becomes a typed value or an error.

This is where a 207 is read. The docs, the SDK's mocks and the on-prem API disagree on
shapes (namespace-api.md section 6, "Accept every documented shape"), so each reader here
accepts all of them:

* delete (`parse_delete`): 200 with counts; 207 with `unprocessed_ids`; the SDK-mock 207
  with `deleted_ids` and `errors[]`; on-prem with `not_found_ids` (2.1, 3.1);
* get (`parse_present`): 200 or 207, rows under `items` or `documents` (2.2, 3.2);
* list (`parse_namespace_list`): `itemCount` or `item_count` (2.4);
* errors (`error_message`, `error_for_status`): `message` and/or `error`, or a bare string.

What an answer means for each ID (deleted, not found, failed) is decided in `attribution`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from namespace_api.client.errors import (
    ApiStatusError,
    AuthenticationFailed,
    BadRequest,
    NamespaceNotFound,
    RateLimited,
    ServerError,
    UnexpectedResponse,
)
from namespace_api.client.types import CallRecord, NamespaceInfo, TextItem, TextPage


@dataclass(frozen=True)
class DeleteAnswer:
    """A delete call's answer, in whichever documented shape it came (section 6)."""

    http_status: int
    requested: int | None
    actual: int | None
    unprocessed: frozenset[str]
    not_found: frozenset[str] | None = None
    """Listed by the on-prem API (`not_found_ids`) and the SDK-mock 207 shape."""
    deleted: frozenset[str] | None = None
    """Listed only by the SDK-mock 207 shape (`deleted_ids`)."""


@dataclass(frozen=True)
class PresenceCheck:
    """What `get_present` found: the IDs present now, and every call that said so."""

    present: set[str]
    calls: list[CallRecord]
    answered_by: dict[str, int]
    """For each ID asked about, the index in `calls` of the call that answered."""


def parse_delete(status: int, body: dict[str, Any]) -> DeleteAnswer:
    """Read every documented delete answer shape (namespace-api.md 2.1, 3.1, section 6).

    Raises `UnexpectedResponse` when the answer carries no deletion count at all.
    """

    def _int(*keys: str) -> int | None:
        for key in keys:
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    unprocessed = frozenset(str(i) for i in body.get("unprocessed_ids") or [])
    not_found: frozenset[str] | None = None
    deleted: frozenset[str] | None = None
    if isinstance(body.get("not_found_ids"), list):
        not_found = frozenset(str(i) for i in body["not_found_ids"])
    if isinstance(body.get("deleted_ids"), list) or isinstance(body.get("errors"), list):
        deleted = frozenset(str(i) for i in body.get("deleted_ids") or [])
        missing: set[str] = set()
        failing: set[str] = set()
        for error in body.get("errors") or []:
            if not isinstance(error, dict) or "id" not in error:
                continue
            text = str(error.get("error") or error.get("message") or "").lower()
            (missing if "not found" in text else failing).add(str(error["id"]))
        not_found = frozenset(missing) | (not_found or frozenset())
        unprocessed = unprocessed | frozenset(failing)
    actual = _int("actual_deletions", "deleted")
    if actual is None and deleted is not None:
        actual = len(deleted)
    if actual is None:
        raise UnexpectedResponse(f"delete answer (HTTP {status}) has no deletion count")
    return DeleteAnswer(
        http_status=status,
        requested=_int("requested_deletions", "requested"),
        actual=actual,
        unprocessed=unprocessed,
        not_found=not_found,
        deleted=deleted,
    )


def parse_present(body: dict[str, Any], wanted: Sequence[str]) -> set[str]:
    """The IDs of `wanted` that a get answer (200 or 207) returns.

    "Missing" is `wanted` minus the IDs returned, never `not_found_ids` alone (section 5.1).
    Raises `UnexpectedResponse` when the answer has no list of rows.
    """
    rows = body.get("items", body.get("documents"))
    if not isinstance(rows, list):
        raise UnexpectedResponse("get: no `items` list in the answer")
    asked = set(wanted)
    return {str(r.get("id")) for r in rows if str(r.get("id")) in asked}


def parse_namespace_list(body: dict[str, Any]) -> list[NamespaceInfo]:
    """The namespaces of a list answer. Raises `UnexpectedResponse` without a list."""
    rows = body.get("namespaces")
    if not isinstance(rows, list):
        raise UnexpectedResponse("list namespaces: `namespaces` is missing or not a list")
    result = []
    for row in rows:
        # The docs show camelCase `itemCount`; the SDK and newer docs snake_case.
        count = row.get("item_count", row.get("itemCount"))
        result.append(
            NamespaceInfo(
                name=str(row.get("namespace_name") or row.get("name")),
                kind=str(row.get("type")),
                vector_dimension=row.get("vector_dimension"),
                item_count=count if isinstance(count, int) else None,
            )
        )
    return result


def parse_text_page(body: dict[str, Any]) -> TextPage:
    """A fetch-text-data page (2.3): `items[]` with `id`, `metadata`, `is_summary`, and
    `pagination.next_token` (absent or null on the last page; the old, unpaginated answer
    is one page)."""
    rows = body.get("items")
    if not isinstance(rows, list):
        raise UnexpectedResponse("fetch-text-data answer without an items list")
    items = []
    for row in rows:
        if not isinstance(row, dict) or row.get("id") is None:
            raise UnexpectedResponse("fetch-text-data item without an id")
        metadata = row.get("metadata")
        summary = row.get("is_summary", row.get("isSummary", False))
        items.append(
            TextItem(
                id=str(row["id"]),
                metadata=metadata if isinstance(metadata, dict) else {},
                is_summary=summary is True,
            )
        )
    pagination = body.get("pagination")
    token = pagination.get("next_token") if isinstance(pagination, dict) else None
    if token is not None and not isinstance(token, str):
        raise UnexpectedResponse("fetch-text-data next_token is not a string")
    return TextPage(items=items, next_token=token or None)


def error_message(body: Any, text: str) -> str:
    """The human message of an error answer: its parsed `body`, else its raw `text`."""
    # The docs use three error shapes; read `message`, then `error`, then the raw text.
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    if isinstance(body, str) and body:
        return body
    return text[:500] or "(empty body)"


def error_for_status(
    status: int, message: str, body: Any, *, retry_after: float | None
) -> ApiStatusError:
    """The error of the tree in `errors` that an error status stands for (section 6)."""
    if status == 400:
        return BadRequest(status, message, body)
    if status in (401, 403):
        return AuthenticationFailed(status, message, body)
    if status == 404:
        return NamespaceNotFound(status, message, body)
    if status == 429:
        return RateLimited(status, message, body, retry_after=retry_after)
    if status >= 500:
        return ServerError(status, message, body)
    return ApiStatusError(status, message, body)
