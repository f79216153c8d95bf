"""`python -m tools.metrics_path_cost`: CPU a served call spends in the code that times it.

An HTTP request through the timing middleware against the bare ASGI app, a gRPC call through the
served-call interceptor (which also times it; no caller check, a plain request) against the bare
handler, and the bus's counting after a commit, for a step and for a saga's last step. Each figure
is CPU per call in one process.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from bus.commit_metrics import count_commits
from bus.history import HistoryEvent
from bus.outcomes import Commit, SagaEnd
from kit.http_metrics import CountedRequests
from kit.served_calls import ServedCallInterceptor
from tools.counting_cost import cpu_ns_per_call

_ROUTE = Route("/bench/{id}", lambda request: None)


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = _ROUTE
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _receive() -> Message:
    return {"type": "http.request"}


async def _send(message: Message) -> None:
    return None


async def _handler(request: Any, context: Any) -> Any:
    return request


class _BareCall:
    def code(self) -> None:
        return None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()


def _async_ns_per_call(call: Callable[[], Awaitable[Any]], calls: int = 50_000) -> float:
    async def run() -> None:
        for _ in range(calls):
            await call()

    start = time.process_time()
    asyncio.run(run())
    return (time.process_time() - start) / calls * 1e9


def path_costs() -> dict[str, float]:
    """CPU nanoseconds each instrumented path adds to a call."""
    scope = {"type": "http", "method": "GET", "path": "/bench/1"}
    timed = CountedRequests(_app)
    interceptor, context = ServedCallInterceptor(), _BareCall()
    step = [Commit([], [], HistoryEvent.COMPLETED)]
    last = [Commit([], [], HistoryEvent.COMPLETED, finished=SagaEnd("confirm", "completed", time.time()))]
    return {
        "http request, timing middleware": _async_ns_per_call(lambda: timed(dict(scope), _receive, _send))
        - _async_ns_per_call(lambda: _app(dict(scope), _receive, _send)),
        "grpc call, served-call interceptor": _async_ns_per_call(
            lambda: interceptor.intercept(_handler, 1, context, "/travel.bench.v1.Bench/Call")
        )
        - _async_ns_per_call(lambda: _handler(1, context)),
        "bus commit of a step": cpu_ns_per_call(lambda: count_commits("bench", step)),
        "bus commit of a saga's last step": cpu_ns_per_call(lambda: count_commits("bench", last)),
    }


def main() -> int:
    for path, cost in path_costs().items():
        print(f"{path:<36} {cost:7.0f} ns CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
