"""WorkOS webhooks, which also carry directory deprovisioning (Directory Sync).

- verify: `WorkOS-Signature: t=<ms>, v1=<hex>`, HMAC-SHA256 of `{t}.{body}`, key = the
  secret's UTF-8 bytes; `t` within ±180 s (the SDKs' default).
- delivery id: the event's `id`, in the body.
- events: `{"object": "event", "id": "event_…", "event": "user.deleted", "data": {…}}`;
  the user is `data.id`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

from webhooks.providers.base import (
    DEACTIVATE,
    REACTIVATE,
    Event,
    Headers,
    VerificationFailed,
    as_delivery_id,
    as_event_type,
    as_object,
    as_user_id,
    parse_json,
    same,
)

DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("user.deleted", "dsync.user.deleted")
# The WorkOS SDKs' default tolerance; the timestamp is in milliseconds.
TOLERANCE_S = 180

_UNIX_MILLISECONDS = re.compile(r"[0-9]{1,15}")


def delivery_id(headers: Headers) -> str:
    """Empty: the event id is in the body, read by `events`."""
    return ""


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless one `v1` signature is one active secret's, over
    a timestamp within the window. `header_name` is not used."""
    header = headers.get("workos-signature", "")
    timestamp = ""
    given = []
    # The Python SDK splits on ", " exactly; the Ruby one on "," and strips: accept both.
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            given.append(value.lower())
    if not (timestamp and given):
        raise VerificationFailed("missing signature header")
    if not _UNIX_MILLISECONDS.fullmatch(timestamp):
        raise VerificationFailed("invalid timestamp")
    if abs(now * 1000 - int(timestamp)) > TOLERANCE_S * 1000:
        raise VerificationFailed("timestamp outside the tolerance window")
    signed = timestamp.encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(same(signature, expected) for signature in given):
            return
    raise VerificationFailed("no matching signature")


def events(body: bytes, delivery_id: str) -> list[Event]:
    """One event. A directory user updated to `inactive` (or the older `suspended`) is a
    deactivation; back to `active`, a reactivation. Raises `Malformed`."""
    payload = as_object(parse_json(body), "the body")
    event_type = as_event_type(payload.get("event"), "event")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    lifecycle = ""
    if event_type == "dsync.user.updated":
        state = data.get("state")
        if state in ("inactive", "suspended"):
            lifecycle = DEACTIVATE
        elif state == "active":
            lifecycle = REACTIVATE
    return [
        Event(
            delivery_id=as_delivery_id(payload.get("id"), "id"),
            event_type=event_type,
            user_id=as_user_id(data.get("id"), "data.id"),
            lifecycle=lifecycle,
        )
    ]


def secret_problem(value: str) -> str | None:
    """Any value: the endpoint's secret is used as its UTF-8 bytes."""
    return None
