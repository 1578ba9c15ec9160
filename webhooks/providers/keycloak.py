"""Keycloak with the p2-inc keycloak-events extension (its HMAC mode).

- verify: `X-Keycloak-Signature` = lower-case hex HMAC-SHA256 of the raw body, key = the
  secret's bytes. Nothing is timestamped: dedup is the only replay defence.
- delivery id: `uid` (stable across the sender's retries), else `id`, in the body.
- events: p2-inc's unified event. Admin events (`admin.USER-DELETE`) name the user only
  in `resourcePath` (`authDetails.userId` is the admin); user events
  (`access.DELETE_ACCOUNT`) are the user's own, so `authDetails.userId` is the user.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

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

DEFAULT_REQUEST_EVENTS: tuple[str, ...] = ("admin.USER-DELETE", "access.DELETE_ACCOUNT")


def delivery_id(headers: Headers) -> str:
    """Empty: the event's `uid` is in the body, read by `events`."""
    return ""


def verify(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> None:
    """Raises `VerificationFailed` unless the signature is one active secret's HMAC of
    the body. `header_name` and `now` are not used."""
    given = headers.get("x-keycloak-signature", "").strip().lower()
    if not given:
        raise VerificationFailed("missing signature header")
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if same(given, expected):
            return
    raise VerificationFailed("no matching signature")


def user_from_resource_path(path: Any) -> str | None:
    """`users/<id>`, the only place an admin event names the user it acted on."""
    if not isinstance(path, str):
        return None
    parts = path.split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "users" and parts[1] else None


def events(body: bytes, delivery_id: str) -> list[Event]:
    """One event; an admin update that disables the user is a deactivation, one that
    enables it a reactivation. Raises `Malformed`."""
    payload = as_object(parse_json(body), "the body")
    event_type = as_event_type(payload.get("type"), "type")
    user_id: str | None = None
    lifecycle = ""
    if event_type.startswith("admin."):
        if payload.get("resourceType", "USER") == "USER":
            user_id = as_user_id(user_from_resource_path(payload.get("resourcePath")), "user")
        if event_type == "admin.USER-UPDATE":
            lifecycle = _enabled_change(payload.get("representation"))
    elif event_type.startswith("access."):
        auth = payload.get("authDetails")
        auth = auth if isinstance(auth, dict) else {}
        user_id = as_user_id(auth.get("userId") or payload.get("userId"), "authDetails.userId")
    return [
        Event(
            delivery_id=as_delivery_id(payload.get("uid") or payload.get("id"), "uid"),
            event_type=event_type,
            user_id=user_id,
            lifecycle=lifecycle,
        )
    ]


def _enabled_change(representation: Any) -> str:
    """The representation of an admin UPDATE (a JSON string, when the realm includes
    representations): `enabled` false is a deactivation."""
    if isinstance(representation, str):
        try:
            representation = json.loads(representation)
        except (ValueError, RecursionError):
            return ""
    if not isinstance(representation, dict) or "enabled" not in representation:
        return ""
    return DEACTIVATE if representation["enabled"] is False else REACTIVATE


def secret_problem(value: str) -> str | None:
    """Any value: the webhook's secret is used as its UTF-8 bytes."""
    return None
