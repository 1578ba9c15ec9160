"""One error shape for every 4xx/5xx of the API:

{"error": {"code": "...", "message": "...", "fields": {"name": ["problem", ...]}}}
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from erasure.errors import ServiceError

logger = logging.getLogger(__name__)


def error_response(
    *, code: str, message: str, http_status: int, fields: dict[str, Any] | None = None
) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "fields": fields or {}}}, status=http_status
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return error_response(
            code=exc.code, message=exc.message, http_status=exc.http_status, fields=exc.fields
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug, not the client's fault: the traceback goes to the log (which never
        # carries request bodies), the client gets the one error shape and no detail.
        request = context.get("request")
        logger.error(
            "unhandled %s in %s %s",
            type(exc).__name__,
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        set_rollback()
        return error_response(
            code="internal_error",
            message="internal error; it has been logged",
            http_status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "error": {"code": "invalid_input", "message": "the input is invalid", "fields": fields}
        }
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else "request refused"
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        response.data = {"error": {"code": code, "message": message, "fields": {}}}
    return response


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/v1/: a 404 in the error shape, not Django's HTML page.

    CSRF-exempt as every view of the API: Django's CSRF check would otherwise answer a
    POST, PUT, PATCH or DELETE here with its HTML 403 page (the API authenticates by key,
    never by cookie; this view reads nothing and writes nothing)."""
    return JsonResponse(
        {
            "error": {
                "code": "not_found",
                "message": f"no API endpoint at {request.path}",
                "fields": {},
            }
        },
        status=404,
    )
