"""Putting a context variable back after a block, also when the block ends in another context."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TypeVar

T = TypeVar("T")


def reset(variable: ContextVar[T], token: Token[T]) -> None:
    """Put `variable` back as it was before the `set` that gave `token`.

    An async generator its reader stopped reading (a response stream whose client went away) is
    closed later by the event loop, in a task and a context of its own. There the token is refused
    (ValueError), and nothing needs putting back: that context ends with its task.
    """
    if token.var is not variable:
        raise ValueError(f"the token is of {token.var.name}, not of {variable.name}")
    # Runs on every RPC, request and saga step: a bare try costs nothing when the reset works.
    try:  # noqa: SIM105
        variable.reset(token)
    except ValueError:
        pass
