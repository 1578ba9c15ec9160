"""`Idempotency-Key` on every POST of the API (the Stripe convention).

The first call with a key runs the view and stores its answer; a repeat with the same key,
the same route and the same body gets that stored answer again (with the header
`Idempotent-Replayed: true`), without running anything. The same key with another body or
on another route is a 409: the client reused a key by mistake.

Races: the record is inserted in the same transaction as the view's effect, and the call
first takes a transaction-scoped advisory lock named after (API key, Idempotency-Key). A
second call arriving while the first still runs cannot take the lock and gets a 409 "in
progress" at once instead of running the effect twice; once the first commits, the lock is
gone and the record is there to be replayed. A process killed mid-call leaves neither lock
nor record (the transaction rolls back), so the key can simply be sent again.

A view may name a `prepare` step (`@idempotent(prepare=...)`): it runs outside any
transaction, after the stored answer was looked for and before the key's transaction
begins, and what it returns is passed to the handler. It is the place for validation and
for calls to other systems (the namespace API), which must not keep a transaction, its
advisory lock and the rows it has locked waiting on the network. It must write nothing
the answer depends on: it may run for a call that then finds the answer stored, or the
key in progress (two repeats of a call both prepare; one runs, the other gets a 409 or
the first one's answer).

Only 2xx answers are stored: a refused call (bad input, wrong state) wrote nothing, and
sending it again under the same key, corrected or not, runs it again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, overload

from django.db import connection, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from erasure.errors import Conflict, InvalidInput
from erasure.models import ApiKey, IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
REPLAYED_HEADER = "Idempotent-Replayed"

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string of at most 200 printable ASCII characters, chosen by the client "
        "(a UUID). Sending the same key again with the same body on the same route returns "
        "the first answer (header `Idempotent-Replayed: true`) and changes nothing; with "
        "another body or route it is a 409, as is a repeat while the first call still runs. "
        "Only successful answers are kept."
    ),
)


REPLAYED_PARAMETER = OpenApiParameter(
    REPLAYED_HEADER,
    str,
    OpenApiParameter.HEADER,
    enum=["true"],
    response=[200, 201],
    description=f"`true` when the answer is the stored one of an earlier call with the same "
    f"`{HEADER}`; absent otherwise.",
)


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class IdempotencyKeyReused(Conflict):
    # "conflict": the code this answer had before every POST took the header.
    code = "conflict"


def body_sha256(request: Request) -> str:
    """SHA-256 of the parsed body (the API takes JSON only) in canonical JSON: key order
    and white space do not make two bodies different, a different value does."""
    # ASCII-escaped: a lone surrogate ("\ud800" is valid JSON) cannot be encoded as UTF-8.
    canonical = json.dumps(request.data, sort_keys=True, separators=(",", ":"), cls=JSONEncoder)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def lock_id(*, api_key_id: int, key: str) -> int:
    """The advisory lock (single 64-bit key space) of one (API key, Idempotency-Key)."""
    digest = hashlib.sha256(f"idempotency:{api_key_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _valid_key(raw: str) -> str:
    if len(raw) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{HEADER} is longer than {MAX_KEY_LENGTH} characters",
            fields={HEADER: ["too long"]},
        )
    if not raw.isascii() or not raw.isprintable():
        raise InvalidInput(
            f"{HEADER} must be printable ASCII", fields={HEADER: ["invalid characters"]}
        )
    return raw


def _replay(record: IdempotencyRecord, *, method: str, path: str, digest: str) -> Response:
    if (record.method, record.path) != (method, path):
        raise IdempotencyKeyReused(
            f"this {HEADER} was used for another call ({record.method} {record.path}); "
            "use a new key",
            fields={HEADER: ["used for another route"]},
        )
    if record.body_sha256 != digest:
        raise IdempotencyKeyReused(
            f"this {HEADER} was used with a different body; use a new key",
            fields={HEADER: ["used with another body"]},
        )
    return Response(
        record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"}
    )


def run_idempotent[T](
    request: Request, run: Callable[[T], Response], *, prepare: Callable[[], T]
) -> Response:
    """`run(prepare())` once per (API key, Idempotency-Key); without the header, just that.

    With the header: an answer stored for the key is replayed (or the call is a 409)
    before `prepare` runs; `prepare` runs outside any transaction; `run` and the storing
    of its answer happen in one transaction, under the key's advisory lock.
    """
    raw = request.headers.get(HEADER)
    if raw is None or raw == "":
        return run(prepare())
    key = _valid_key(raw)
    api_key = request.auth
    if not isinstance(api_key, ApiKey):
        raise NotAuthenticated("an API key is required (Authorization: Bearer)")
    method, path = request.method or "POST", request.path
    digest = body_sha256(request)
    # A stored answer is committed, hence final: it is replayed without the lock, and
    # without preparing anything.
    record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
    if record is not None:
        return _replay(record, method=method, path=path, digest=digest)
    prepared = prepare()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s)",
                [lock_id(api_key_id=api_key.pk, key=key)],
            )
            (locked,) = cursor.fetchone()
        if not locked:
            raise IdempotencyInProgress(
                f"a call with this {HEADER} is still in progress; retry once it has finished",
                fields={HEADER: ["in progress"]},
            )
        # Again under the lock: a first call may have committed since the look above.
        record = IdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if record is not None:
            return _replay(record, method=method, path=path, digest=digest)
        response = run(prepared)
        if 200 <= response.status_code < 300:
            IdempotencyRecord.objects.create(
                api_key=api_key,
                key=key,
                method=method,
                path=path,
                body_sha256=digest,
                response_status=response.status_code,
                # Stored as the JSON the client received (UUIDs and times as strings).
                response_body=json.loads(json.dumps(response.data, cls=JSONEncoder)),
            )
    return response


Handler = Callable[..., Response]


@overload
def idempotent(handler: Handler, /) -> Handler: ...
@overload
def idempotent(*, prepare: Callable[..., Any]) -> Callable[[Handler], Handler]: ...
def idempotent(
    handler: Handler | None = None, /, *, prepare: Callable[..., Any] | None = None
) -> Handler | Callable[[Handler], Handler]:
    """Decorate a view's `post`: honours `Idempotency-Key` and documents the header.

    `@idempotent` runs the whole handler in the key's transaction. `@idempotent(prepare=f)`
    first calls `f(self, request, *args, **kwargs)` outside any transaction (see the module
    docstring) and passes its result to the handler: `post(self, request, prepared, ...)`.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            if prepare is None:
                return run_idempotent(
                    request,
                    lambda _: handler(self, request, *args, **kwargs),
                    prepare=lambda: None,
                )
            return run_idempotent(
                request,
                lambda prepared: handler(self, request, prepared, *args, **kwargs),
                prepare=lambda: prepare(self, request, *args, **kwargs),
            )

        wrapper.idempotent = True  # type: ignore[attr-defined]
        documented: Handler = extend_schema(parameters=[IDEMPOTENCY_PARAMETER, REPLAYED_PARAMETER])(
            wrapper
        )
        return documented

    return decorate if handler is None else decorate(handler)
