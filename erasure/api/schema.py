"""OpenAPI generation (drf-spectacular): component names and the Bearer key scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: serializers.Serializer, direction: Any) -> str:
        """Serializers nested in a view are named after it: `RequestsApi.InputSerializer`
        becomes the component `RequestsInput`, not one of many clashing `Input`s."""
        qualname = type(serializer).__qualname__
        if "." not in qualname:
            return super().get_serializer_name(serializer, direction)
        parts = [
            part.removesuffix("Api").removesuffix("Serializer") for part in qualname.split(".")
        ]
        return "".join(parts)

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        """Each operation's description ends with the scopes it needs, taken from the
        view's own `required_scopes`, so that the documentation cannot drift from the
        check (and survives an `extend_schema(description=...)`)."""
        from erasure.api.auth import required_scopes

        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        scopes = required_scopes(self.view)
        if scopes:
            if len(scopes) == 1:
                needs = f"Scope: `{scopes[0]}`."
            else:
                needs = "Scope: any of " + ", ".join(f"`{s}`" for s in scopes) + "."
            operation["description"] = f"{operation.get('description', '')}\n\n{needs}".strip()
        elif not getattr(self.view, "authentication_classes", True):
            public = "Public: no key needed; it shows nothing secret."
            operation["description"] = f"{operation.get('description', '')}\n\n{public}".strip()
        return operation


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "erasure.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `manage.py create_api_key NAME --scope SCOPE ...`, "
            "sent as `Authorization: Bearer <key>`. A missing, unknown or revoked key is a "
            "401; a key without the scope an operation names is a 403.",
        }
