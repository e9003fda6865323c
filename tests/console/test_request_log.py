"""A refused page (403) is logged as one line; errors keep their traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from console.request_log import OneLineRefusals


def test_a_refused_page_is_logged_without_a_traceback(
    make_user: Callable[..., User], client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(make_user(None))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/").status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is None
    assert "Forbidden" in record.getMessage()
    assert "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal "
                                   "Server Error: /", None, sys.exc_info())  # fmt: skip
    record.status_code = 500
    assert OneLineRefusals().filter(record)
    assert record.exc_info is not None
