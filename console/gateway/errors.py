"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

import json


class GatewayError(Exception):
    """A request the gateway answers itself, with an HTTP status and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str,
        code: str,
        *,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.retry_after = retry_after

    def body(self) -> bytes:
        error = {"message": self.message, "type": self.error_type, "param": self.param,
                 "code": self.code}  # fmt: skip
        return json.dumps({"error": error}).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        return headers


def unauthorized(message: str) -> GatewayError:
    return GatewayError(401, message, "invalid_request_error", "invalid_api_key")


def not_found(message: str, code: str = "not_found") -> GatewayError:
    return GatewayError(404, message, "invalid_request_error", code)


def bad_request(message: str, param: str | None = None) -> GatewayError:
    return GatewayError(400, message, "invalid_request_error", "invalid_request", param=param)


def unavailable(message: str, code: str, retry_after: int) -> GatewayError:
    return GatewayError(503, message, "service_unavailable", code, retry_after=retry_after)
