"""The polling helpers: they return the first truthy answer and fail with what they waited for."""

from __future__ import annotations

import pytest

from tests.support.polling import eventually, wait_for


def test_wait_for_returns_the_first_truthy_answer_and_tolerates_errors_meanwhile() -> None:
    answers = iter([ValueError("starting"), 0, "ready"])

    def check() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for(check, timeout=5, interval=0) == "ready"


def test_wait_for_names_what_it_waited_for_and_the_last_error() -> None:
    def check() -> object:
        raise ValueError("still down")

    with pytest.raises(AssertionError, match=r"the gateway.*still down"):
        wait_for(check, timeout=0.05, what="the gateway", interval=0.01)


async def test_eventually_awaits_async_checks() -> None:
    answers = iter([False, False, 7])

    async def check() -> object:
        return next(answers)

    assert await eventually(check, timeout=5, interval=0) == 7


async def test_eventually_names_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match="the stream to empty"):
        await eventually(lambda: False, timeout=0.05, what="the stream to empty", interval=0.01)


def test_wait_for_gives_up_at_once_when_told_the_condition_cannot_come_true() -> None:
    checks: list[int] = []

    def check() -> bool:
        checks.append(1)
        return False

    with pytest.raises(AssertionError, match=r"gave up waiting for the server.*exited"):
        wait_for(check, timeout=60, what="the server", interval=0, abort_if=lambda: "exited")
    assert len(checks) == 1


async def test_eventually_gives_up_at_once_when_told_the_condition_cannot_come_true() -> None:
    with pytest.raises(AssertionError, match=r"gave up waiting for uvicorn.*task done"):
        await eventually(lambda: False, timeout=60, what="uvicorn", interval=0, abort_if=lambda: "task done")
