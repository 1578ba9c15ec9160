"""Who did something: a person, an API key, a webhook source, or the service itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from erasure.models import ApiKey


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "api_key" | "webhook" | "system"
    label: str
    user: User | None = None
    api_key: ApiKey | None = None

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(kind="user", label=f"user:{user.get_username()}", user=user)

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(kind="api_key", label=f"api_key:{api_key.name}", api_key=api_key)

    @classmethod
    def for_webhook(cls, source_slug: str) -> Actor:
        return cls(kind="webhook", label=f"webhook:{source_slug}")

    @classmethod
    def system(cls, what: str = "worker") -> Actor:
        return cls(kind="system", label=f"system:{what}")

    def is_same(self, other: Actor) -> bool:
        if self.user is not None and other.user is not None:
            return self.user.pk == other.user.pk
        if self.api_key is not None and other.api_key is not None:
            return self.api_key.pk == other.api_key.pk
        return False
