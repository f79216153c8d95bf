"""A streaming response through the served-call interceptor: the caller and the call's ids are
current while it streams, an error it raises midway becomes its status, and a stream its reader
drops midway is closed without an error."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from kit import errors, log_context
from kit.auth import CallerCheck, current_caller
from kit.served_calls import ServedCallInterceptor
from kit.signing_keys import new_private_pem, public_pem_of
from kit.tokens import TokenIssuer, TokenVerifier
from services.sessions.access import ACCESS

METHOD = f"/{ACCESS.service}/GetSession"


class Context:
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata
        self.aborted: grpc.Status | None = None

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.aborted = status
        raise grpc.aio.AbortError()

    def code(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata


@pytest.fixture
def customer() -> tuple[CallerCheck, tuple[tuple[str, str], ...]]:
    key = new_private_pem()
    token = TokenIssuer(key, 600).issue("c-1", now=int(time.time()), token_id=str(uuid.uuid4()))
    request_id = uuid.uuid4().hex
    return CallerCheck(TokenVerifier(public_pem_of(key)), ACCESS), (
        ("authorization", f"Bearer {token}"),
        ("x-request-id", request_id),
    )


async def collect(stream: Any) -> list[str]:
    return [item async for item in stream]


async def test_a_stream_runs_with_its_caller_and_ids_current(
    customer: tuple[CallerCheck, tuple[tuple[str, str], ...]],
) -> None:
    check, metadata = customer

    async def handler(request: Any, context: Any) -> AsyncIterator[str]:
        for _ in range(2):
            yield f"{current_caller().subject} {log_context.current_request_id()}"

    stream = await ServedCallInterceptor(check).intercept(handler, None, Context(metadata), METHOD)
    assert await collect(stream) == [f"c-1 {metadata[1][1]}"] * 2


async def test_an_error_midway_through_a_stream_is_its_status(
    customer: tuple[CallerCheck, tuple[tuple[str, str], ...]],
) -> None:
    check, metadata = customer

    async def handler(request: Any, context: Any) -> AsyncIterator[str]:
        yield "first"
        raise errors.NotFound("gone midway")

    context = Context(metadata)
    stream = await ServedCallInterceptor(check).intercept(handler, None, context, METHOD)
    with pytest.raises(grpc.aio.AbortError):
        await collect(stream)
    assert context.aborted is not None and context.aborted.code == grpc.StatusCode.NOT_FOUND


async def test_a_stream_for_an_anonymous_caller_is_refused_before_it_starts() -> None:
    started: list[bool] = []

    async def handler(request: Any, context: Any) -> AsyncIterator[str]:
        started.append(True)
        yield "never"

    check = CallerCheck(TokenVerifier(public_pem_of(new_private_pem())), ACCESS)
    context = Context(())
    with pytest.raises(grpc.aio.AbortError):
        await ServedCallInterceptor(check).intercept(handler, None, context, METHOD)
    assert context.aborted is not None and context.aborted.code == grpc.StatusCode.UNAUTHENTICATED
    assert not started


async def test_a_stream_dropped_midway_is_closed_by_the_loop_without_an_error(
    customer: tuple[CallerCheck, tuple[tuple[str, str], ...]],
) -> None:
    """A server stops reading a stream whose client went away; the event loop then closes the
    generator in a task of its own, where the caller and ids cannot be put back, nor need to be."""
    check, metadata = customer
    traced = (*metadata, ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
    problems: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, problem: problems.append(problem))

    async def handler(request: Any, context: Any) -> AsyncIterator[str]:
        while True:
            yield "update"

    async def read_one() -> None:
        stream = await ServedCallInterceptor(check).intercept(handler, None, Context(traced), METHOD)
        async for _ in stream:
            break

    await asyncio.create_task(read_one())
    gc.collect()
    for _ in range(5):  # the loop's finalizer closes the generator in a task: let it run
        await asyncio.sleep(0)
    assert problems == []
