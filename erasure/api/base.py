"""What every view of the API shares: the base view, the scopes, pagination, the error
schema, and reading a request's key and body."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import renderers, serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.views import APIView

from erasure.actors import Actor
from erasure.api.schema import AutoSchema
from erasure.errors import InvalidInput
from erasure.models import ApiKey

Scope = ApiKey.Scope
READ_SCOPES = (Scope.REQUESTS_WRITE, Scope.REQUESTS_APPROVE, Scope.AUDIT_READ)
ALL_SCOPES = tuple(Scope.values)


class ApiJSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer (UTF-8, not ASCII-escaped), but for a lone surrogate.

    `"\\ud800"` is valid JSON, so it can reach a view, and an error message may quote the
    value it refuses (`"\\ud800" is not a valid choice.`). A lone surrogate has no UTF-8
    encoding: DRF's renderer would raise while the response renders, after the exception
    handler, and Django would answer its HTML 500 page. Such an answer goes out ASCII-only
    instead, the surrogate as the JSON escape it came in as.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _AsciiJSONRenderer().render(data, accepted_media_type, renderer_context)


class _AsciiJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True


class ApiView(APIView):
    """Base of every view of the API: JSON bodies only (anything else is a 415), component
    names from erasure.api.schema."""

    # (drf-spectacular takes a view's docstring, inherited ones too, as the description of
    # its operations that have none: this one is in the schema.)

    parser_classes = [JSONParser]
    renderer_classes = [ApiJSONRenderer, renderers.BrowsableAPIRenderer]
    schema = AutoSchema()
    required_scopes: tuple[str, ...] = ()
    # Set by erasure.api.routing when other views serve the other methods of this path.
    path_methods: tuple[str, ...] = ()

    @property
    def allowed_methods(self) -> list[str]:
        """What `Allow` names (on every answer, a 405 included): the methods of the path,
        which on a path routed by method are not all this view's."""
        return list(self.path_methods) or super().allowed_methods


class Pagination(PageNumberPagination):
    """`?page=N`, 100 per page; a page past the end is a 404."""

    page_size = 100


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    # Declared fields leave the class body (DRF's metaclass), so this one does not shadow
    # Serializer.fields; the stubs cannot know that.
    fields = serializers.DictField()  # type: ignore[assignment]


# The one shape of every 4xx and 5xx (erasure.api.errors). Serializers carry comments, not
# docstrings: drf-spectacular would publish a docstring as the component's description.
class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


ERRORS: dict[int, Any] = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}
# An Idempotency-Key reused with another body, or still in progress.
POST_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorSerializer}
LIST_ERRORS: dict[int, Any] = {**ERRORS, 404: ErrorSerializer}  # 404: a page past the end


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` of an export or a certificate names the document's format, not one of
    DRF's renderers (which it would otherwise pick by that name, and 404 for `csv`). The
    view streams its own body; errors are JSON."""

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[renderers.BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[renderers.BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


def api_key_of(request: Request) -> ApiKey:
    """The API key that authenticated the request (HasScope let nothing else through)."""
    key = request.auth
    if not isinstance(key, ApiKey):
        raise NotAuthenticated("an API key is required (Authorization: Bearer)")
    return key


def actor_of(request: Request) -> Actor:
    return Actor.for_api_key(api_key_of(request))


def validated_body(serializer_class: type[serializers.Serializer], request: Request) -> Any:
    """The body validated by `serializer_class`; a 400 unless it is a valid JSON object."""
    if not isinstance(request.data, dict):
        raise InvalidInput("the body must be a JSON object")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
