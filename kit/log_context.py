"""The ids a log line carries about the work in hand: request, session, saga and step, per task."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType

from kit.context_vars import reset

FIELD_NAMES = ("request_id", "session_id", "saga_id", "step")

# Each asyncio task (an HTTP request, an RPC, a saga step) sees its own ids; one variable holding
# them all costs one set and one reset per block however many ids it binds.
_FIELDS: ContextVar[Mapping[str, str]] = ContextVar("log_fields", default=MappingProxyType({}))


class bound:  # named like a function, as it is used: `with bound(saga_id=...):`
    """Within the block, log lines carry the given ids (an empty one leaves the outer value).

    A class rather than a generator: it runs on every saga step, RPC and request.
    """

    __slots__ = ("_new", "_token")

    def __init__(
        self, *, request_id: str = "", session_id: str = "", saga_id: str = "", step: str = ""
    ) -> None:
        new = {}
        if request_id:
            new["request_id"] = request_id
        if session_id:
            new["session_id"] = session_id
        if saga_id:
            new["saga_id"] = saga_id
        if step:
            new["step"] = step
        self._new = new
        self._token: Token[Mapping[str, str]] | None = None

    def __enter__(self) -> None:
        outer = _FIELDS.get()
        self._token = _FIELDS.set({**outer, **self._new} if outer else self._new)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            reset(_FIELDS, self._token)


def current_fields() -> Mapping[str, str]:
    """The ids set in this context, empty ones left out."""
    return _FIELDS.get()


def current_request_id() -> str:
    return _FIELDS.get().get("request_id", "")
