"""Every operation of the API, every input it names, hostile values.

The operations, their body fields and their parameters (path, query, header) are read
from the OpenAPI schema, so that a new operation, field or parameter is covered without
touching this file. Each input in turn gets each hostile value while the others keep a
plain valid one:

* empty, oversize (100,000 characters), a NUL byte, a lone surrogate (`"\\ud800"` in the
  raw JSON text, its UTF-8-style bytes `%ED%A0%80` in a URL), a right-to-left override
  (U+202E, which turns how a file name or an id reads).

Whatever the value: never a 5xx; a 4xx has the one error shape; and a refused call writes
nothing (the row count of every erasure table, audit events included, and the state of
requests and namespaces are unchanged). Accepted values may be stored: each call runs in
a savepoint that is rolled back afterwards, so that every call meets the same state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from erasure.models import ErasureRequest, Namespace
from tests.api.helpers import ALL_SCOPES, written
from tests.conftest import make_api_client

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1"
HOSTILE = {
    "empty": "",
    "oversize": "x" * 100_000,
    "nul": "a\x00b",
    "lone surrogate": "\ud800",
    "rtl override": "\u202egpj.exe",
}
# Plain valid values of the inputs by name; any other gets one from its schema.
VALID = {
    "subject": "hostile-subject",
    "namespace": "notes",
    "item_id": "item-1",
    "kind": "email",
    "alias": "someone@example.com",
    "reason": "a reason",
    "regulation": "gdpr",
    "auto_approve": False,
    "grace_hours": 0,
    "attribution_mode": "fast",
}
Target = tuple[str, tuple[Any, ...]]  # (where: body/path/query/header, the input's path)


@pytest.fixture
def setting(emulator) -> dict[str, Any]:
    """A known namespace and a request awaiting approval, filed by another key than the
    caller's (four-eyes would refuse every approval otherwise)."""
    emulator.seed([{"name": "notes", "type": "text", "items": []}])
    Namespace.objects.create(name="notes", kind="text", attribution_mode="exact")
    filer = make_api_client("filer", *ALL_SCOPES)
    filed = filer.post("/api/v1/requests", {"subject": "filed-subject"}, format="json")
    assert filed.status_code == 201, filed.content
    request = ErasureRequest.objects.get(pk=filed.json()["id"])
    client = make_api_client("hostile", *ALL_SCOPES)
    # A 500 is an answer to look at here, not an exception to raise into the test.
    client.raise_request_exception = False
    return {
        "client": client,
        "request_id": str(request.pk),
        "name": "notes",
        "due_at": (request.due_at + timedelta(days=7)).isoformat(),
    }


def test_hostile_values_in_every_input_of_every_operation(setting):
    client: APIClient = setting["client"]
    schema = client.get("/api/v1/schema/?format=json").json()
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 20
    problems: list[str] = []
    calls = 0
    for path, method, operation in operations:
        body = _request_body(schema, operation)
        valid_body = _valid(schema, body, setting) if body is not None else None
        baseline = _call(client, schema, setting, path, method, operation, valid_body, None, None)
        if baseline.status_code >= 500:
            problems.append(f"{method.upper()} {path} with valid input: {baseline.status_code}")
        for target in _targets(schema, operation, body):
            for label, value in HOSTILE.items():
                calls += 1
                problem = _check(
                    client, schema, setting, path, method, operation, valid_body, target, value
                )
                if problem:
                    where, name = target
                    problems.append(
                        f"{method.upper()} {path} {where} {_dotted(name)} = {label}: {problem}"
                    )
    assert calls > 300
    assert not problems, "\n".join(problems)


def _check(
    client: APIClient,
    schema: dict[str, Any],
    setting: dict[str, Any],
    path: str,
    method: str,
    operation: dict[str, Any],
    valid_body: Any,
    target: Target,
    value: str,
) -> str | None:
    """The problem with one call, None when there is none."""
    with transaction.atomic():
        before = _snapshot()
        response = _call(
            client, schema, setting, path, method, operation, valid_body, target, value
        )
        after = _snapshot()
        transaction.set_rollback(True)
    content = _content(response)
    if response.status_code >= 500:
        return f"{response.status_code} {content[:300]!r}"
    if response.status_code >= 400:
        if response.get("Content-Type") != "application/json":
            return f"{response.status_code} is not JSON: {content[:200]!r}"
        body = json.loads(content)
        error = body.get("error") if isinstance(body, dict) else None
        if (
            set(body) != {"error"}
            or not isinstance(error, dict)
            or set(error) != {"code", "message", "fields"}
            or not (isinstance(error["code"], str) and error["code"])
            or not (isinstance(error["message"], str) and error["message"])
            or not isinstance(error["fields"], dict)
        ):
            return f"{response.status_code} not in the error shape: {body!r:.300}"
        if after != before:
            return f"refused ({response.status_code}) but wrote: {_difference(before, after)}"
    return None


def _call(
    client: APIClient,
    schema: dict[str, Any],
    setting: dict[str, Any],
    path: str,
    method: str,
    operation: dict[str, Any],
    valid_body: Any,
    target: Target | None,
    value: str | None,
) -> Any:
    """One call with every input valid but `target`, which gets `value`."""
    where, name = target if target is not None else ("", ())
    url = path
    query: list[str] = []
    headers: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        hostile = where == parameter["in"] and name == (parameter["name"],)
        if parameter["in"] == "path":
            raw = (
                value if hostile else _valid_value(parameter["name"], parameter["schema"], setting)
            )
            url = url.replace("{" + parameter["name"] + "}", _percent(str(raw)))
        elif hostile and parameter["in"] == "query":
            query.append(f"{quote(parameter['name'])}={_percent(str(value))}")
        elif hostile and parameter["in"] == "header":
            headers["HTTP_" + parameter["name"].upper().replace("-", "_")] = str(value)
    if query:
        url += "?" + "&".join(query)
    if method == "get":
        return client.get(url, **headers)
    body = valid_body if valid_body is not None else {}
    if where == "body":
        body = _replaced(body, name, value)
    # ensure_ascii (the default): a lone surrogate goes as the JSON escape "\ud800", the
    # only way to send one (it has no UTF-8 encoding).
    data = json.dumps(body).encode("ascii")
    return getattr(client, method)(url, data, content_type="application/json", **headers)


def _targets(schema: dict[str, Any], operation: dict[str, Any], body: Any) -> Iterator[Target]:
    for parameter in operation.get("parameters", []):
        if parameter["in"] in ("path", "query", "header"):
            yield parameter["in"], (parameter["name"],)
    if body is not None:
        for name in _fields(schema, body, ()):
            yield "body", name


def _fields(
    schema: dict[str, Any], node: dict[str, Any], prefix: tuple[Any, ...]
) -> Iterator[tuple[Any, ...]]:
    """Every property of a body, nested ones too (the first element of an array)."""
    node = _resolved(schema, node)
    if node.get("type") == "array" and "items" in node:
        yield from _fields(schema, node["items"], (*prefix, 0))
    for name, child in node.get("properties", {}).items():
        yield (*prefix, name)
        yield from _fields(schema, child, (*prefix, name))


def _valid(
    schema: dict[str, Any], node: dict[str, Any], setting: dict[str, Any], name: str = ""
) -> Any:
    """A valid value for a schema node: every property of an object, one array element."""
    node = _resolved(schema, node)
    if node.get("type") == "object" or "properties" in node:
        return {
            key: _valid(schema, child, setting, key)
            for key, child in node.get("properties", {}).items()
        }
    if node.get("type") == "array":
        return [_valid(schema, node.get("items", {}), setting, name)]
    return _valid_value(name, node, setting)


def _valid_value(name: str, node: dict[str, Any], setting: dict[str, Any]) -> Any:
    if name in setting:
        return setting[name]
    if name in VALID:
        return VALID[name]
    if "enum" in node:
        return node["enum"][0]
    if node.get("format") == "date-time":
        return (timezone.now() + timedelta(days=1)).isoformat()
    if node.get("format") == "uuid":
        return setting["request_id"]
    return {"integer": 1, "number": 1, "boolean": False}.get(node.get("type", ""), "x")


def _request_body(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _resolved(schema, content["application/json"]["schema"])


def _resolved(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolved(schema, node["allOf"][0])
    return node


def _replaced(body: Any, name: tuple[Any, ...], value: str) -> Any:
    """`body` (copied) with the input at `name` set to `value`."""
    copy = json.loads(json.dumps(body))
    node = copy
    for key in name[:-1]:
        node = node[key]
    node[name[-1]] = value
    return copy


def _percent(value: str) -> str:
    """Percent-encoded for a URL; a lone surrogate as the bytes UTF-8 would give it."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _content(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


# The namespace API's shared rate limit (erasure.throttle), not a record of the call: a
# refused registration may still have asked the API (an unknown namespace is looked up in
# its list before the items are refused as unknown), and the bucket counts every call.
NOT_WRITTEN_BY_THE_CALL = {"erasure_apithrottle"}


def _snapshot() -> dict[str, Any]:
    """Row counts of every erasure table, and what tests.api.helpers.written() shows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'erasure\\_%%' ORDER BY tablename"
        )
        tables = [row[0] for row in cursor.fetchall() if row[0] not in NOT_WRITTEN_BY_THE_CALL]
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT '{table}', count(*) FROM \"{table}\""  # noqa: S608 (catalogue names)
                for table in tables
            )
        )
        counts = dict(cursor.fetchall())
    return {"rows": counts, **written()}


def _difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    changed = {
        key: (before["rows"].get(key), after["rows"].get(key))
        for key in set(before["rows"]) | set(after["rows"])
        if before["rows"].get(key) != after["rows"].get(key)
    }
    others = [key for key in before if key != "rows" and before[key] != after[key]]
    return f"rows {changed}, {others}"


def _dotted(name: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in name)
