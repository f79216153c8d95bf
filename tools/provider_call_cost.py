"""`python -m tools.provider_call_cost`: client-side CPU of one provider call through ProviderClient.

A provider stand-in (a Starlette app answering a hold as JSON) runs under uvicorn in a child
process, so this process's CPU (time.process_time) is the client's alone: the pooled aiohttp
session, the request, reading and decoding the answer, the call counter. A GET and an idempotent
POST, as a gRPC request makes them (inside the client's retry loop) and as a saga step does (one
attempt, no loop), are each timed over many sequential calls on one kept-alive connection.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.provider_client.client import ProviderClient, provider_session
from tools.free_ports import free_port
from tools.waiting import wait_for

HOLD = {"id": "hold_1", "status": "HELD", "price": {"amount": 123_45, "currency": "EUR"}}


async def _read_hold(request: Request) -> JSONResponse:
    return JSONResponse(HOLD)


async def _create_hold(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(HOLD, status_code=201)


def _serve(port: int) -> None:
    app = Starlette(
        routes=[Route("/holds/{id}", _read_hold), Route("/holds", _create_hold, methods=["POST"])]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def _cpu_us_per_call(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1e6


async def measure(url: str, calls: int) -> dict[str, float]:
    """CPU microseconds per call, client side, for a GET and a POST, with and without the retry loop."""
    async with provider_session(timeout_seconds=10) as http:
        client = ProviderClient(http, url, name="bench")
        step = client.single_attempt()
        body = {"hotelId": "HTL-LIS-01", "checkIn": "2031-01-01", "checkOut": "2031-01-03", "guests": 2}
        for _ in range(calls // 10):  # warm up: the connection, imports, caches
            await client.get("/holds/hold_1")
        return {
            "GET, request": await _cpu_us_per_call(lambda: client.get("/holds/hold_1"), calls),
            "POST, request": await _cpu_us_per_call(lambda: client.post("/holds", body, "key-1"), calls),
            "GET, saga step": await _cpu_us_per_call(lambda: step.get("/holds/hold_1"), calls),
            "POST, saga step": await _cpu_us_per_call(lambda: step.post("/holds", body, "key-1"), calls),
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per figure")
    args = parser.parse_args(argv)
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    try:
        wait_for(
            lambda: _listening(port), what="the provider stand-in", abort_if=lambda: not server.is_alive()
        )
        costs = asyncio.run(measure(f"http://127.0.0.1:{port}", args.calls))
    finally:
        server.terminate()
        server.join()
    for call, cost in costs.items():
        print(f"{call:<18} {cost:7.0f} µs CPU per call, client side")
    return 0


if __name__ == "__main__":
    sys.exit(main())
