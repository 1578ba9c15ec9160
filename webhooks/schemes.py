"""One verifier and one payload reader per sender scheme (identity-webhooks.md).

`verify` proves that a delivery comes from the holder of one of the source's secrets, with
constant-time comparisons and, where the scheme signs a timestamp, its window; it raises
`VerificationFailed`. Only then does `parse` read the body into `Event`s; it raises
`Malformed`. Neither logs or keeps the body.

Which events file a request is the source's choice (`request_events`, defaulting to the
scheme's deletion events); what counts as a deactivation or a reactivation is provider
knowledge, so the readers mark it on the event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from webhooks.models import Scheme

# Every official Standard Webhooks library hard-codes 5 minutes, both ways; the WorkOS
# SDKs use 180 s. Schemes without a signed timestamp have no window (dedup instead).
STANDARD_WEBHOOKS_TOLERANCE_S = 300
WORKOS_TOLERANCE_S = 180
MAX_DELIVERY_ID_LENGTH = 200
MAX_EVENT_TYPE_LENGTH = 100
MAX_USER_ID_LENGTH = 512
DEFAULT_SECRET_HEADER = "authorization"  # noqa: S105 (a header name, not a secret)

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
_UNIX_MILLISECONDS = re.compile(r"[0-9]{1,15}")


class VerificationFailed(Exception):
    """The delivery is not proven to come from the source. The message names the reason
    (for logs); it never carries header values or the body."""


class Malformed(Exception):
    """A verified delivery whose body is not what the scheme documents."""


DEACTIVATE = "deactivate"
REACTIVATE = "reactivate"


@dataclass(frozen=True)
class Event:
    delivery_id: str
    """The provider's id of this event (or of the delivery carrying it): the dedup key."""
    event_type: str
    user_id: str | None
    """The affected user's id at the provider; never the actor (an admin)."""
    lifecycle: str = ""
    """DEACTIVATE, REACTIVATE, or empty."""
    problem: str = ""
    """Why this entry of a batch could not be read (the rest of the batch still counts)."""


Headers = Mapping[str, str]
"""Request headers with lower-case names."""


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


# --- verifiers ---------------------------------------------------------------------------


def verify_standard_webhooks(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> str:
    """Standard Webhooks v1 (HMAC-SHA256 of `{id}.{timestamp}.{body}`, key = the base64 part
    of `whsec_…`); also under Svix's `svix-*` header names, which Clerk sends. Returns the
    message id."""
    prefix = "svix-" if "svix-id" in headers else "webhook-"
    msg_id = headers.get(f"{prefix}id", "")
    timestamp = headers.get(f"{prefix}timestamp", "")
    signatures = headers.get(f"{prefix}signature", "")
    if not (msg_id and timestamp and signatures):
        raise VerificationFailed("missing signature headers")
    if not _UNIX_SECONDS.fullmatch(timestamp):
        raise VerificationFailed("invalid timestamp")
    if abs(now - int(timestamp)) > STANDARD_WEBHOOKS_TOLERANCE_S:
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
                return msg_id
    raise VerificationFailed("no matching signature")


def verify_workos(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> str:
    """`WorkOS-Signature: t=<ms>, v1=<hex>`: HMAC-SHA256 of `{t}.{body}`, key = the secret's
    UTF-8 bytes. The delivery id is in the body."""
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
    if abs(now * 1000 - int(timestamp)) > WORKOS_TOLERANCE_S * 1000:
        raise VerificationFailed("timestamp outside the tolerance window")
    signed = timestamp.encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(_same(signature, expected) for signature in given):
            return ""
    raise VerificationFailed("no matching signature")


def verify_keycloak(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> str:
    """p2-inc keycloak-events: `X-Keycloak-Signature` = lower-case hex HMAC-SHA256 of the
    raw body, key = the secret's bytes. Nothing is timestamped: dedup is the only replay
    defence."""
    given = headers.get("x-keycloak-signature", "").strip().lower()
    if not given:
        raise VerificationFailed("missing signature header")
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if _same(given, expected):
            return ""
    raise VerificationFailed("no matching signature")


def verify_static_header(
    *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
) -> str:
    """A static secret in a header (Okta Event Hooks, Auth0 Log Streams, generic senders):
    the whole header value must equal one active secret."""
    given = headers.get((header_name or DEFAULT_SECRET_HEADER).lower(), "")
    if not given:
        raise VerificationFailed("missing secret header")
    # Every secret is compared, so the time taken does not depend on which one matched.
    matched = [_same(given, secret) for secret in secrets]
    if not any(matched):
        raise VerificationFailed("secret does not match")
    return ""


# --- payload readers ---------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Malformed("the body is not valid JSON") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a JSON object")
    return value


def _text(value: Any, what: str, *, max_length: int, required: bool = True) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise Malformed(f"{what} is missing")
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{what} must be a string")
    if len(value) > max_length:
        raise Malformed(f"{what} is longer than {max_length} characters")
    return value


def _user_id(value: Any, what: str) -> str | None:
    # Subject keys and aliases are compared without surrounding white space
    # (erasure.hashing): an id of white space names nobody.
    return _text(value, what, max_length=MAX_USER_ID_LENGTH, required=False).strip() or None


def _loggable(value: str, what: str) -> str:
    # Delivery ids and event types go into log lines: no line breaks or control characters.
    if not value.isprintable():
        raise Malformed(f"{what} has non-printable characters")
    return value


def _delivery_id(value: Any, what: str) -> str:
    return _loggable(_text(value, what, max_length=MAX_DELIVERY_ID_LENGTH), what)


def _event_type(value: Any, what: str) -> str:
    return _loggable(_text(value, what, max_length=MAX_EVENT_TYPE_LENGTH), what)


def parse_standard_webhooks(body: bytes, delivery_id: str) -> list[Event]:
    """The spec's recommended envelope `{"type", "timestamp", "data"}`; the user is
    `data.id` (Clerk's `user.deleted`: `{"deleted": true, "id": "user_…", "object": "user"}`)."""
    payload = _object(_json(body), "the body")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    return [
        Event(
            delivery_id=_delivery_id(delivery_id, "the webhook-id header"),
            event_type=_event_type(payload.get("type"), "type"),
            user_id=_user_id(data.get("id"), "data.id"),
        )
    ]


OKTA_LIFECYCLE = {
    "user.lifecycle.deactivate": DEACTIVATE,
    "user.lifecycle.suspend": DEACTIVATE,
    "user.lifecycle.reactivate": REACTIVATE,
    "user.lifecycle.unsuspend": REACTIVATE,
    "user.lifecycle.activate": REACTIVATE,
}


def parse_okta(body: bytes, delivery_id: str) -> list[Event]:
    """A batch: `data.events[]` of System Log events, each deduplicated by its `uuid`. The
    user is the `target` of type `User`; `actor` is the admin who acted."""
    payload = _object(_json(body), "the body")
    data = _object(payload.get("data"), "data")
    entries = data.get("events")
    if not isinstance(entries, list):
        raise Malformed("data.events must be a list")
    return _batch(entries, _okta_event)


def _okta_event(raw: Any, index: int) -> Event:
    entry = _object(raw, f"data.events[{index}]")
    event_type = _event_type(entry.get("eventType"), f"data.events[{index}].eventType")
    targets = entry.get("target") or []
    if not isinstance(targets, list):
        raise Malformed(f"data.events[{index}].target must be a list")
    user = next((t for t in targets if isinstance(t, dict) and t.get("type") == "User"), None)
    return Event(
        delivery_id=_delivery_id(entry.get("uuid"), f"data.events[{index}].uuid"),
        event_type=event_type,
        user_id=_user_id(user.get("id"), "target.id") if user else None,
        lifecycle=OKTA_LIFECYCLE.get(event_type, ""),
    )


def _batch(entries: list[Any], read: Callable[[Any, int], Event]) -> list[Event]:
    """Read every entry of a batch. An unreadable entry becomes an event with a `problem`
    instead of failing the batch: Okta does not retry a 4xx, so a 400 would lose the good
    events with the bad one. A batch with no readable entry at all is malformed."""
    events = []
    for index, raw in enumerate(entries):
        try:
            events.append(read(raw, index))
        except Malformed as exc:
            events.append(Event(delivery_id="", event_type="", user_id=None, problem=str(exc)))
    if events and all(event.problem for event in events):
        raise Malformed(events[0].problem)
    return events


def parse_auth0(body: bytes, delivery_id: str) -> list[Event]:
    """Log Streams (custom webhook) in any of its content formats: JSON array, JSON object,
    or JSON lines. Each entry is `{"log_id", "data": {<tenant log event>}}`; the user is
    `data.user_id`; `sdu` is a successful user deletion.

    Event Streams (Early Access) send CloudEvents instead, authenticated the same way:
    `{"specversion": "1.0", "id", "type": "user.deleted", "data": {"object": {"user_id"}}}`.
    """
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = [_json(line) for line in body.splitlines() if line.strip()]
    entries = parsed if isinstance(parsed, list) else [parsed]
    return _batch(entries, _auth0_entry)


def _auth0_entry(raw: Any, index: int) -> Event:
    entry = _object(raw, f"entry {index}")
    if "specversion" in entry:
        return _auth0_cloud_event(entry, index)
    inner = entry.get("data")
    log: dict[str, Any] = inner if isinstance(inner, dict) else entry
    return Event(
        delivery_id=_delivery_id(
            entry.get("log_id") or log.get("log_id"), f"entry {index}: log_id"
        ),
        event_type=_event_type(log.get("type"), f"entry {index}: data.type"),
        user_id=_user_id(log.get("user_id"), f"entry {index}: data.user_id"),
    )


def _auth0_cloud_event(entry: dict[str, Any], index: int) -> Event:
    data = entry.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    return Event(
        delivery_id=_delivery_id(entry.get("id"), f"entry {index}: id"),
        event_type=_event_type(entry.get("type"), f"entry {index}: type"),
        user_id=_user_id(obj.get("user_id"), f"entry {index}: data.object.user_id"),
    )


def parse_workos(body: bytes, delivery_id: str) -> list[Event]:
    """`{"object": "event", "id": "event_…", "event": "user.deleted", "data": {…}}`; the
    user is `data.id`. A directory user updated to `inactive` (or the older `suspended`)
    is a deactivation; back to `active`, a reactivation."""
    payload = _object(_json(body), "the body")
    event_type = _event_type(payload.get("event"), "event")
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
            delivery_id=_delivery_id(payload.get("id"), "id"),
            event_type=event_type,
            user_id=_user_id(data.get("id"), "data.id"),
            lifecycle=lifecycle,
        )
    ]


def _user_from_resource_path(path: Any) -> str | None:
    """`users/<id>`, the only place an admin event names the user it acted on."""
    if not isinstance(path, str):
        return None
    parts = path.split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "users" and parts[1] else None


def parse_keycloak(body: bytes, delivery_id: str) -> list[Event]:
    """p2-inc's unified event. Admin events (`admin.USER-DELETE`) name the user only in
    `resourcePath` (`authDetails.userId` is the admin); user events (`access.DELETE_ACCOUNT`)
    are the user's own, so `authDetails.userId` is the user. Dedup on `uid` (stable across
    the sender's retries), else `id`."""
    payload = _object(_json(body), "the body")
    event_type = _event_type(payload.get("type"), "type")
    user_id: str | None = None
    lifecycle = ""
    if event_type.startswith("admin."):
        if payload.get("resourceType", "USER") == "USER":
            user_id = _user_id(_user_from_resource_path(payload.get("resourcePath")), "user")
        if event_type == "admin.USER-UPDATE":
            lifecycle = _keycloak_enabled_change(payload.get("representation"))
    elif event_type.startswith("access."):
        auth = payload.get("authDetails")
        auth = auth if isinstance(auth, dict) else {}
        user_id = _user_id(auth.get("userId") or payload.get("userId"), "authDetails.userId")
    return [
        Event(
            delivery_id=_delivery_id(payload.get("uid") or payload.get("id"), "uid"),
            event_type=event_type,
            user_id=user_id,
            lifecycle=lifecycle,
        )
    ]


def _keycloak_enabled_change(representation: Any) -> str:
    """The representation of an admin UPDATE (a JSON string, when the realm includes
    representations): `enabled` false is a deactivation."""
    if isinstance(representation, str):
        try:
            representation = json.loads(representation)
        except ValueError:
            return ""
    if not isinstance(representation, dict) or "enabled" not in representation:
        return ""
    return DEACTIVATE if representation["enabled"] is False else REACTIVATE


def parse_generic(body: bytes, delivery_id: str) -> list[Event]:
    """Our documented generic shape: `{"id", "type", "data": {"id"}}` (the Standard
    Webhooks envelope plus an event id). Keycloak senders without a signature (vymalo
    keycloak-webhook: `{"id", "type": "USER-DELETE", "resourcePath": "users/<id>"}`) fit
    too; their `userId` is the admin and is never read."""
    payload = _object(_json(body), "the body")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    user = (
        data.get("id")
        or data.get("user_id")
        or _user_from_resource_path(payload.get("resourcePath"))
        # A user's own event (vymalo DELETE_ACCOUNT) has no resource path: the user who
        # acted is the one deleted. (Admin events name the admin there: never read.)
        or (payload.get("userId") if "resourcePath" not in payload else None)
    )
    return [
        Event(
            delivery_id=_delivery_id(payload.get("id"), "id"),
            event_type=_event_type(payload.get("type"), "type"),
            user_id=_user_id(user, "data.id"),
        )
    ]


# --- the schemes -------------------------------------------------------------------------

Verifier = Callable[..., str]
Parser = Callable[[bytes, str], list[Event]]


@dataclass(frozen=True)
class SchemeSpec:
    verify: Verifier
    parse: Parser
    deletion_events: tuple[str, ...]
    uses_header_name: bool = False


SCHEMES: dict[str, SchemeSpec] = {
    Scheme.STANDARD_WEBHOOKS: SchemeSpec(
        verify_standard_webhooks, parse_standard_webhooks, ("user.deleted",)
    ),
    Scheme.OKTA: SchemeSpec(
        verify_static_header,
        parse_okta,
        ("user.lifecycle.delete.initiated",),
        uses_header_name=True,
    ),
    Scheme.AUTH0: SchemeSpec(
        verify_static_header, parse_auth0, ("sdu", "du", "user.deleted"), uses_header_name=True
    ),
    Scheme.WORKOS: SchemeSpec(verify_workos, parse_workos, ("user.deleted", "dsync.user.deleted")),
    Scheme.KEYCLOAK: SchemeSpec(
        verify_keycloak, parse_keycloak, ("admin.USER-DELETE", "access.DELETE_ACCOUNT")
    ),
    Scheme.STATIC_HEADER: SchemeSpec(
        verify_static_header,
        parse_generic,
        ("user.deleted", "USER-DELETE", "DELETE_ACCOUNT"),
        uses_header_name=True,
    ),
}


def secret_problem(scheme: str, value: str) -> str | None:
    """Why `value` cannot be a secret of `scheme`, if it cannot."""
    if len(value) < 8:
        return "a secret has at least 8 characters"
    if value != value.strip():
        return "a secret must not start or end with white space"
    if scheme == Scheme.STANDARD_WEBHOOKS:
        try:
            Webhook(value)
        except (EmptyWebhookSecretError, binascii.Error, ValueError):
            return "a Standard Webhooks secret is whsec_ followed by base64"
    return None
