"""What every API view shares: authentication, roles, JSON errors, paging and auditing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console import audit
from console.api.errors import exception_handler
from console.api.tokens import HashedTokenAuthentication
from console.models import Outcome
from console.roles import Action, RolePermission

# Token first: DRF takes the WWW-Authenticate challenge from the first class, and without
# one (SessionAuthentication has none) it answers 403 where 401 is meant.
AUTHENTICATION = (HashedTokenAuthentication, SessionAuthentication)

# Viewset action names as the audit log spells them.
_VERBS = {
    "create": "create", "update": "update", "partial_update": "update", "destroy": "delete",
    "test": "test",
}  # fmt: skip


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=``; a page is never larger than ``max_limit`` rows."""

    default_limit = 100
    max_limit = 1000


class ConsoleAPIView(APIView):
    """Base of the console's API views.

    ``read_action``/``write_action`` name the ``console.roles.Action`` that safe and unsafe
    methods need. Every unsafe request, refused and invalid ones too, is audited as
    ``<audit_type>.<verb>``; views set ``audit_target`` to the object they changed.
    """

    authentication_classes = AUTHENTICATION
    permission_classes = (RolePermission,)
    pagination_class: type[BasePagination] | None = Pagination
    read_action: Action = Action.VIEW
    write_action: Action | None = None
    audit_type = ""
    audit_target: models.Model | None = None

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return exception_handler

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            self.audit(request, response)
        return response

    def audit(self, request: Request, response: Response) -> None:
        """Record this unsafe request with its outcome (from the status code)."""
        verb = _VERBS.get(getattr(self, "action", None) or "", (request.method or "").lower())
        audit.record(
            request,
            f"{self.audit_type or 'api'}.{verb}",
            _outcome(response.status_code),
            target=self.audit_target,
            target_type=self.audit_type,
            target_id=str(self.kwargs.get("pk", "")),
            detail=_detail(request, response),
        )


def _outcome(status_code: int) -> Outcome:
    if status_code < 400:
        return Outcome.OK
    if status_code in {401, 403, 405}:
        return Outcome.REFUSED
    return Outcome.FAILED


def _detail(request: Request, response: Response) -> dict[str, Any]:
    """Field names only: the values may be secrets (api_key, launch_env)."""
    detail: dict[str, Any] = {"status": response.status_code}
    try:
        data = request.data
    except APIException:
        data = None  # a body that does not parse: the response already says so
    if isinstance(data, dict) and data:
        detail["fields"] = sorted(str(key) for key in data)
    if response.status_code == 400 and isinstance(response.data, dict):
        detail["invalid"] = sorted(str(key) for key in response.data)
    return detail
