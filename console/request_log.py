"""Logging of refused requests: one line each, not a traceback.

Django logs a view's ``PermissionDenied`` on ``django.request`` with the exception, so a
viewer opening an admin page printed a full traceback in the terminal for what is a normal
answer (403), burying real errors. The method, path and status stay; the exception goes.
"""

from __future__ import annotations

import logging

REFUSED = 403


class OneLineRefusals(logging.Filter):
    """Drops the traceback of a ``django.request`` record about a 403 answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == REFUSED:
            record.exc_info = None
            record.exc_text = None
        return True
