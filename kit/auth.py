"""Bearer-token authentication for gRPC servers: verify the caller, check its access, name it to handlers."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable
from typing import Any

from kit.access_policy import Access
from kit.context_vars import reset
from kit.error_reasons import ErrorReason
from kit.errors import PermissionDenied, Unauthenticated
from kit.tokens import Caller, TokenVerifier

log = logging.getLogger(__name__)

_current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "current_caller", default=None
)

ALWAYS_PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def current_caller() -> Caller:
    """The authenticated caller of the RPC being handled."""
    caller = _current_caller.get()
    if caller is None:
        raise Unauthenticated("missing bearer token", reason=ErrorReason.TOKEN_MISSING)
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


def bind_caller(caller: Caller | None) -> contextvars.Token[Caller | None]:
    """Make `caller` the current caller until the token is given to `unbind_caller`."""
    return _current_caller.set(caller)


def unbind_caller(token: contextvars.Token[Caller | None]) -> None:
    reset(_current_caller, token)


class CallerCheck:
    """Verifies the caller's token, then admits the call only if the access policy allows it."""

    def __init__(self, verifier: TokenVerifier, policy: Access) -> None:
        self._verifier = verifier
        self._policy = policy

    def admit(self, method_name: str, metadata: Iterable[tuple[str, Any]] | None) -> Caller | None:
        """The verified caller (None when anonymous); Unauthenticated or PermissionDenied if refused.

        A public method takes a caller whose token fails as anonymous rather than refusing it.
        """
        always_public = method_name.startswith(ALWAYS_PUBLIC_PREFIXES)
        is_public = always_public or self._policy.is_public(method_name)
        token = bearer_token(metadata)
        caller: Caller | None = None
        if token is not None:
            try:
                caller = self._verifier.verify(token)
            except Unauthenticated:
                if not is_public:
                    raise
        if not always_public:
            try:
                self._policy.check(method_name, caller)
            except PermissionDenied as error:
                log.warning("denied: %s", error.message)
                raise
        return caller
