"""Standard Webhooks v1, and Svix under its own header names (which Clerk sends).

- verify: HMAC-SHA256 of `{id}.{timestamp}.{body}`, key = the base64 part of `whsec_…`,
  in a space-delimited `v1,<base64>` list; the timestamp within ±5 minutes.
- delivery id: the `webhook-id` (`svix-id`) header, the same on every retry.
- events: the spec's envelope `{"type", "timestamp", "data"}`; the user is `data.id`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from webhooks.providers.base import (
    Event,
    Headers,
    VerificationFailed,
    as_delivery_id,
    as_event_type,
    as_object,
    as_user_id,
    parse_json,
)

DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("user.deleted",)
# Every official Standard Webhooks library hard-codes 5 minutes, both ways.
TOLERANCE_S = 300

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def _prefix(headers: Headers) -> str:
    # Svix's own names, or the `webhook-*` ones its paid tiers (and every other sender) use.
    return "svix-" if "svix-id" in headers else "webhook-"


def delivery_id(headers: Headers) -> str:
    """The message id of the signature headers (not validated: `events` does that)."""
    return headers.get(f"{_prefix(headers)}id", "")


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless one `v1` signature of the header is one active
    secret's, over a timestamp within the window. `header_name` is not used."""
    prefix = _prefix(headers)
    msg_id = delivery_id(headers)
    timestamp = headers.get(f"{prefix}timestamp", "")
    signatures = headers.get(f"{prefix}signature", "")
    if not (msg_id and timestamp and signatures):
        raise VerificationFailed("missing signature headers")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise VerificationFailed("invalid timestamp")
    if abs(now - int(timestamp)) > TOLERANCE_S:
        raise VerificationFailed("timestamp outside the tolerance window")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationFailed("body is not UTF-8") from None
    given = []
    # A space-delimited list, for key rotation; versions other than v1 (v1a, ed25519) are
    # skipped, and so are entries that do not decode.
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            given.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    signed_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    for secret in secrets:
        try:
            expected_header = Webhook(secret).sign(msg_id, signed_at, text)
        except (EmptyWebhookSecretError, binascii.Error, ValueError):
            continue
        expected = base64.b64decode(expected_header.partition(",")[2])
        for signature in given:
            if hmac.compare_digest(signature, expected):
                return
    raise VerificationFailed("no matching signature")


def events(body: bytes, delivery_id: str) -> list[Event]:
    """One event: `type`, and the user `data.id` (Clerk's `user.deleted`:
    `{"deleted": true, "id": "user_…", "object": "user"}`). Raises `Malformed`."""
    payload = as_object(parse_json(body), "the body")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    return [
        Event(
            delivery_id=as_delivery_id(delivery_id, "the webhook-id header"),
            event_type=as_event_type(payload.get("type"), "type"),
            user_id=as_user_id(data.get("id"), "data.id"),
        )
    ]


def secret_problem(value: str) -> str | None:
    """The signing secret as the sender shows it: `whsec_` and base64 (the prefix may be
    left out)."""
    try:
        Webhook(value)
    except (EmptyWebhookSecretError, binascii.Error, ValueError):
        return "a Standard Webhooks secret is whsec_ followed by base64"
    return None
