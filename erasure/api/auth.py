"""`Authorization: Bearer <key>` authentication and per-view scopes."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions, permissions

from erasure import logs
from erasure.models import ApiKey
from erasure.services.api_keys import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[ApiKey, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise exceptions.AuthenticationFailed(
                "use the header `Authorization: Bearer <api key>`"
            )
        key = api_key_authenticate(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("invalid or revoked API key")
        logs.actor.set(f"api_key:{key.name}")  # for the request's log lines
        # The key is both the "user" and the "auth" of the request.
        return key, key

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


def required_scopes(view: Any) -> tuple[str, ...]:
    """The scopes of which a key needs one to call `view`: its `required_scopes` (one view
    per operation, so one tuple per view; erasure.api.routing joins views of one path)."""
    return tuple(getattr(view, "required_scopes", ()))


class HasScope(permissions.BasePermission):
    """Grants access when the key holds one of the view's `required_scopes`."""

    message = "this API key lacks the scope this endpoint needs"

    def has_permission(self, request: Any, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("an API key is required (Authorization: Bearer)")
        if not hasattr(view, request.method.lower()):
            return True  # the view answers 405, which says more than a 403
        required = required_scopes(view)
        if not required:
            return False
        if not set(required) & set(key.scopes):
            self.message = f"this API key needs one of the scopes: {', '.join(required)}"
            return False
        return True
