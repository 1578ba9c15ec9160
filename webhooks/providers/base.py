"""What every provider module shares: the event they read a delivery into, the two
failures, the validation of the fields the service keeps, and the constant-time checks.

Nothing here logs or keeps a body. Messages name the field, never its value: they go into
log lines and into the 400 answer.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_DELIVERY_ID_LENGTH = 200
MAX_EVENT_TYPE_LENGTH = 100
MAX_USER_ID_LENGTH = 512
DEFAULT_SECRET_HEADER = "authorization"  # noqa: S105 (a header name, not a secret)

# A user id becomes a subject key or an alias: hashed, kept raw while a request is open,
# shown in the admin and exported. NUL is refused by PostgreSQL in text; a lone surrogate
# (valid JSON: "\ud800") has no UTF-8 encoding, so it can be neither hashed nor stored;
# the other C0 and C1 controls (line breaks, escapes) would travel on to whoever reads it.
_UNSAFE_IN_USER_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


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


def same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings (of any characters)."""
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def verify_static_header(*, headers: Headers, secrets: Sequence[str], header_name: str) -> None:
    """A static secret in a header (Okta Event Hooks, Auth0 Log Streams, generic senders):
    the whole header value must equal one active secret. Raises `VerificationFailed`."""
    given = headers.get((header_name or DEFAULT_SECRET_HEADER).lower(), "")
    if not given:
        raise VerificationFailed("missing secret header")
    # Every secret is compared, so the time taken does not depend on which one matched.
    matched = [same(given, secret) for secret in secrets]
    if not any(matched):
        raise VerificationFailed("secret does not match")


# --- reading a verified body: each raises Malformed -------------------------------------


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Malformed("the body is not valid JSON") from None


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be a JSON object")
    return value


def as_text(value: Any, what: str, *, max_length: int, required: bool = True) -> str:
    """A JSON string (or integer, as providers differ), at most `max_length` characters;
    empty when absent and not `required`."""
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


def as_user_id(value: Any, what: str) -> str | None:
    """The affected user's id, None when the event names none. Surrounding white space
    is dropped, as subject keys and aliases are compared without it (erasure.hashing):
    an id of white space names nobody."""
    user_id = as_text(value, what, max_length=MAX_USER_ID_LENGTH, required=False).strip()
    if _UNSAFE_IN_USER_ID.search(user_id):
        raise Malformed(f"{what} has a control character or a lone surrogate")
    return user_id or None


def _printable(value: str, what: str) -> str:
    # Delivery ids and event types go into log lines: no line breaks or control characters.
    if not value.isprintable():
        raise Malformed(f"{what} has non-printable characters")
    return value


def as_delivery_id(value: Any, what: str) -> str:
    return _printable(as_text(value, what, max_length=MAX_DELIVERY_ID_LENGTH), what)


def as_event_type(value: Any, what: str) -> str:
    return _printable(as_text(value, what, max_length=MAX_EVENT_TYPE_LENGTH), what)


def batch(entries: list[Any], read: Callable[[Any, int], Event]) -> list[Event]:
    """Read every entry of a batch (Okta, Auth0). An unreadable entry becomes an event with
    a `problem` instead of failing the batch: Okta does not retry a 4xx, so a 400 would
    lose the good events with the bad one. A batch with no readable entry at all, an empty
    one included, is malformed."""
    if not entries:
        raise Malformed("the batch has no events")
    events = []
    for index, raw in enumerate(entries):
        try:
            events.append(read(raw, index))
        except Malformed as exc:
            events.append(Event(delivery_id="", event_type="", user_id=None, problem=str(exc)))
    if all(event.problem for event in events):
        raise Malformed(events[0].problem)
    return events
