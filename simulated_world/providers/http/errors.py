"""One mapping from provider errors to HTTP: 400 field, 404, 409 business, 422 key reuse; JSON always."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from simulated_world.providers.domain.errors import (
    IdempotencyKeyReused,
    InvalidField,
    ProviderError,
    RequestRefused,
    ResourceNotFound,
)
from simulated_world.providers.http.runtime import json_response

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[ProviderError], int]] = [
    (InvalidField, 400),
    (ResourceNotFound, 404),
    (RequestRefused, 409),
    (IdempotencyKeyReused, 422),
]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, **extra}


async def provider_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProviderError)
    status = next((s for t, s in _STATUS if isinstance(exc, t)), 400)
    extra = {"field": exc.field} if isinstance(exc, InvalidField) else {}
    return json_response(error_body(exc.code, exc.message, **extra), status)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return json_response(error_body(code, str(exc.detail)), exc.status_code)


async def unexpected_error(_request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return json_response(error_body("INTERNAL", "internal error"), 500)


EXCEPTION_HANDLERS = {
    ProviderError: provider_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
