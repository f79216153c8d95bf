"""Served calls and bus commits land in the right children: status code, route, participant, saga kind."""

from __future__ import annotations

import time
import uuid
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from bus.commit_metrics import count_commits
from bus.history import HistoryEvent
from bus.outcomes import Commit, SagaEnd
from kit import errors
from kit.http_metrics import CountedRequests
from kit.served_calls import ServedCallInterceptor


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rpc_served(service: str, method: str, code: str) -> float:
    return value(
        "rpc_server_duration_seconds_count",
        rpc_system="grpc",
        rpc_service=service,
        rpc_method=method,
        rpc_grpc_status_code=code,
    )


class Context:
    def __init__(self) -> None:
        self.aborted: grpc.Status | None = None

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.aborted = status
        raise grpc.aio.AbortError()

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.PERMISSION_DENIED

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


async def test_a_refused_rpc_is_timed_under_the_numeric_code_it_answered() -> None:
    name = uuid.uuid4().hex[:8]
    method = f"/travel.test.v1.T/{name}"

    async def missing(request: Any, context: Any) -> Any:
        raise errors.NotFound("no such thing")

    async def answered(request: Any, context: Any) -> Any:
        return request

    with pytest.raises(grpc.aio.AbortError):
        await ServedCallInterceptor().intercept(missing, None, Context(), method)
    assert await ServedCallInterceptor().intercept(answered, 1, Context(), method) == 1
    assert rpc_served("travel.test.v1.T", name, "5") == 1  # NOT_FOUND
    assert rpc_served("travel.test.v1.T", name, "0") == 1  # OK


async def test_an_rpc_its_handler_aborted_is_timed_under_the_context_code() -> None:
    name = uuid.uuid4().hex[:8]
    method = f"/travel.test.v1.T/{name}"

    async def denied(request: Any, context: Any) -> Any:
        raise grpc.aio.AbortError()

    with pytest.raises(grpc.aio.AbortError):
        await ServedCallInterceptor().intercept(denied, None, Context(), method)
    assert rpc_served("travel.test.v1.T", name, "7") == 1  # PERMISSION_DENIED


async def _receive() -> Message:
    return {"type": "http.request"}


async def _send(message: Message) -> None:
    return None


async def test_http_requests_are_timed_by_status_code_and_a_crash_counts_as_500() -> None:
    template = f"/things-{uuid.uuid4().hex[:8]}/{{id}}"
    route = Route(template, lambda request: None)

    async def missing(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route
        raise RuntimeError("boom")

    await CountedRequests(missing)({"type": "http", "method": "GET", "path": "/x/1"}, _receive, _send)
    with pytest.raises(RuntimeError):
        await CountedRequests(crashing)({"type": "http", "method": "POST", "path": "/x/1"}, _receive, _send)
    name = "http_server_request_duration_seconds_count"
    assert value(name, http_route=template, http_request_method="GET", http_response_status_code="404") == 1
    assert value(name, http_route=template, http_request_method="POST", http_response_status_code="500") == 1


def test_a_committed_batch_counts_hops_retries_dead_letters_and_finished_sagas() -> None:
    participant = f"p{uuid.uuid4().hex[:8]}"
    kind = f"kind{uuid.uuid4().hex[:8]}"  # a kind of its own, so no other test's saga counts here
    finished = SagaEnd(kind, "completed", time.time() - 2)
    count_commits(
        participant,
        [
            Commit([], [], HistoryEvent.RETRY_SCHEDULED),
            Commit([], [], HistoryEvent.RETRY_SCHEDULED),
            Commit([], [], HistoryEvent.DEAD_LETTERED),
            Commit([], [], HistoryEvent.COMPLETED, finished=finished),
        ],
    )
    assert value("travel_bus_steps_committed_total", participant=participant) == 4
    assert value("travel_bus_retries_scheduled_total", participant=participant) == 2
    assert value("travel_bus_dead_letters_total", participant=participant) == 1
    assert value("travel_saga_duration_seconds_count", kind=kind, outcome="completed") == 1
    assert value("travel_saga_duration_seconds_bucket", kind=kind, outcome="completed", le="1.0") == 0
    assert value("travel_saga_duration_seconds_sum", kind=kind, outcome="completed") >= 2
