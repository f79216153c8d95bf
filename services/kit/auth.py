"""Bearer-token authentication for gRPC servers: verify once, hand the caller to the handler."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterable
from typing import Any

from grpc_interceptor.server import AsyncServerInterceptor

from services.kit.access_policy import Access
from services.kit.errors import PermissionDenied, Unauthenticated
from services.kit.grpc_status import to_rpc_status
from services.kit.tokens import Caller, TokenVerifier

log = logging.getLogger(__name__)

_current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "current_caller", default=None
)

ALWAYS_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def current_caller() -> Caller:
    """The authenticated caller of the RPC being handled."""
    caller = _current_caller.get()
    if caller is None:
        raise Unauthenticated("missing bearer token")
    return caller


def bearer_token(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class AuthInterceptor(AsyncServerInterceptor):
    """Verifies the caller's token, then lets the call through only if the access policy allows it."""

    def __init__(self, verifier: TokenVerifier, policy: Access) -> None:
        self._verifier = verifier
        self._policy = policy

    async def intercept(
        self, method: Callable[..., Any], request_or_iterator: Any, context: Any, method_name: str
    ) -> Any:
        always_public = method_name.startswith(ALWAYS_PUBLIC_PREFIXES)
        is_public = always_public or self._policy.is_public(method_name)
        token = bearer_token(context.invocation_metadata())
        caller: Caller | None = None
        if token is not None:
            try:
                caller = self._verifier.verify(token)
            except Unauthenticated as error:
                if not is_public:
                    await context.abort_with_status(to_rpc_status(error))
        if not always_public:
            try:
                self._policy.check(method_name, caller)
            except PermissionDenied as error:
                log.warning("denied: %s", error.message)
                await context.abort_with_status(to_rpc_status(error))
            except Unauthenticated as error:
                await context.abort_with_status(to_rpc_status(error))
        reset = _current_caller.set(caller)
        try:
            response = method(request_or_iterator, context)
            if hasattr(response, "__aiter__"):
                return response
            return await response
        finally:
            _current_caller.reset(reset)
