"""One module per identity system, each of the same shape (identity-webhooks.md):

- `verify(*, body, headers, secrets, header_name, now)` proves that a delivery comes from
  the holder of one of the source's secrets, with constant-time comparisons and, where
  the scheme signs a timestamp, its window; it raises `VerificationFailed`.
- `delivery_id(headers)` is the delivery id the headers carry, or empty where the body
  carries one per event.
- `events(body, delivery_id)`, called only once verified, reads the body into `Event`s;
  it raises `Malformed`.
- `DEFAULT_REQUEST_EVENTS`: the event types that file a request when the source names
  none (its deletion events).
- `secret_problem(value)`: why `value` cannot be one of its secrets, beyond the rules
  every secret follows.

None of them logs or keeps the body. What counts as a deactivation or a reactivation is
provider knowledge, so the readers mark it on the event.

A new identity system is a new module and one line of `SCHEMES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from webhooks.models import Scheme
from webhooks.providers import auth0, generic, keycloak, okta, standard_webhooks, workos
from webhooks.providers.base import (
    DEACTIVATE,
    REACTIVATE,
    Event,
    Headers,
    Malformed,
    VerificationFailed,
)

__all__ = [
    "DEACTIVATE",
    "REACTIVATE",
    "SCHEMES",
    "Event",
    "Malformed",
    "Provider",
    "VerificationFailed",
    "secret_problem",
]


class Verifier(Protocol):
    def __call__(
        self, *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
    ) -> None: ...


class ProviderModule(Protocol):
    """The names every module of this package defines (see above)."""

    @property
    def DEFAULT_REQUEST_EVENTS(self) -> tuple[str, ...]: ...

    def verify(
        self, *, body: bytes, headers: Headers, secrets: Sequence[str], header_name: str, now: float
    ) -> None: ...

    def delivery_id(self, headers: Headers) -> str: ...

    def events(self, body: bytes, delivery_id: str) -> list[Event]: ...

    def secret_problem(self, value: str) -> str | None: ...


@dataclass(frozen=True)
class Provider:
    """A scheme as the receiver, the services and the admin use it: its module's names."""

    verify: Verifier
    delivery_id: Callable[[Headers], str]
    events: Callable[[bytes, str], list[Event]]
    secret_problem: Callable[[str], str | None]
    deletion_events: tuple[str, ...]
    """The module's DEFAULT_REQUEST_EVENTS."""

    @classmethod
    def of(cls, module: ProviderModule) -> Provider:
        return cls(
            verify=module.verify,
            delivery_id=module.delivery_id,
            events=module.events,
            secret_problem=module.secret_problem,
            deletion_events=module.DEFAULT_REQUEST_EVENTS,
        )


SCHEMES: dict[str, Provider] = {
    Scheme.STANDARD_WEBHOOKS: Provider.of(standard_webhooks),
    Scheme.OKTA: Provider.of(okta),
    Scheme.AUTH0: Provider.of(auth0),
    Scheme.WORKOS: Provider.of(workos),
    Scheme.KEYCLOAK: Provider.of(keycloak),
    Scheme.STATIC_HEADER: Provider.of(generic),
}


def secret_problem(scheme: str, value: str) -> str | None:
    """Why `value` cannot be a secret of `scheme`, if it cannot."""
    if len(value) < 8:
        return "a secret has at least 8 characters"
    if value != value.strip():
        return "a secret must not start or end with white space"
    provider = SCHEMES.get(scheme)
    return provider.secret_problem(value) if provider else None
