"""Errors as JSON: every API failure answers with a body, never Django's HTML pages."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

NOT_FOUND_ROUTE = "api-not-found"


class Conflict(APIException):
    """The request is valid but the object's current state forbids it."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's current state does not allow this."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, and a JSON 500 (logged with its traceback) for everything else."""
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    logger.error("unhandled error in %s", type(context.get("view")).__name__, exc_info=exc)
    return Response(
        {"detail": "Internal error; the server log has the details."},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


@csrf_exempt  # an API client with a token gets the JSON 404, not the CSRF page
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown paths under /api/ answer 404 in JSON, like every other API error.

    This catch-all also hides APPEND_SLASH's redirect, so the answer names the URL meant.
    """
    detail = "No such API endpoint."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.url_name != NOT_FOUND_ROUTE:
            detail = f"No such API endpoint; did you mean {request.path}/ ?"
    return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)
