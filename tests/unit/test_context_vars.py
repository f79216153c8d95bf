"""A context variable is put back after its block, and a block that ends in another context
(a stream closed by the event loop) leaves no error."""

from __future__ import annotations

import contextvars

import pytest

from kit.context_vars import reset

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")
OTHER: contextvars.ContextVar[str] = contextvars.ContextVar("other", default="")


def test_the_value_before_the_set_comes_back() -> None:
    token = WHO.set("c-1")
    reset(WHO, token)
    assert WHO.get() == "nobody"


def test_a_token_of_another_context_is_let_go() -> None:
    token = WHO.set("c-1")
    contextvars.Context().run(reset, WHO, token)
    assert WHO.get() == "c-1"  # this context's value is its own, untouched by the other
    reset(WHO, token)
    assert WHO.get() == "nobody"


def test_a_token_of_another_variable_is_a_mistake() -> None:
    token = OTHER.set("x")
    try:
        with pytest.raises(ValueError, match="other"):
            reset(WHO, token)
    finally:
        OTHER.reset(token)
