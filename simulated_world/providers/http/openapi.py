"""GET /openapi.json: the instance's routes as a minimal OpenAPI 3.1 document."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from simulated_world.providers.http.runtime import json_response

_MUTATING = {"POST", "PUT"}


def _operation(route: Route, method: str) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if method == "POST":
        params.append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}})
    operation: dict[str, Any] = {
        "operationId": f"{route.name}_{method.lower()}",
        "summary": route.name.replace("_", " "),
        "parameters": params,
        "responses": {"default": {"description": "JSON; errors are {error, message, field?}"}},
    }
    if method in _MUTATING:
        operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return operation


def document(kind: str, routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                paths.setdefault(route.path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"Simulated {kind} provider", "version": "1"},
        "paths": paths,
    }


def openapi_route(kind: str, routes: list[BaseRoute]) -> Route:
    spec = document(kind, routes)

    async def serve(_request: Request) -> Response:
        return json_response(spec)

    return Route("/openapi.json", serve, methods=["GET"])
