"""Measure the gateway's cost: the same cheap RPC through REST and directly over gRPC.

Run `python -m tools.gateway_bench`. A child process serves a test customers servicer (grpc.aio)
and the real gateway on loopback, with the server `python -m gateway` runs (kit.http_server, on
uvloop); this process drives both, also on uvloop, with a fixed number of concurrent workers and
prints throughput, p99 and the REST/gRPC ratios. Bounded (< 30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import grpc
import httpx
import uvloop
from google.protobuf import timestamp_pb2
from travel.customers.v1 import customers_pb2, customers_pb2_grpc

from gateway.app import build_app
from gateway.config import GatewayConfig
from kit.http_server import HttpServerLimits, QuietServer, server_config

TOKEN = "Bearer bench-token"


class BenchCustomers(customers_pb2_grpc.CustomersServiceServicer):
    """GetMe answers a fixed customer: the cheapest call, so the edge's cost shows."""

    def __init__(self) -> None:
        self.reply = customers_pb2.GetMeResponse(
            customer=customers_pb2.Customer(
                id="c-1",
                email="bench@example.com",
                name="Bench",
                create_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
            )
        )

    async def GetMe(self, request: Any, context: Any) -> customers_pb2.GetMeResponse:
        return self.reply

    async def Register(self, request: Any, context: Any) -> customers_pb2.RegisterResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not measured")
        raise AssertionError("abort raises")

    async def Login(self, request: Any, context: Any) -> customers_pb2.LoginResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not measured")
        raise AssertionError("abort raises")

    async def FindCustomer(self, request: Any, context: Any) -> customers_pb2.FindCustomerResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not measured")
        raise AssertionError("abort raises")


async def _serve(pipe: Connection) -> None:
    server = grpc.aio.server()
    customers_pb2_grpc.add_CustomersServiceServicer_to_server(BenchCustomers(), server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    config = GatewayConfig(backends={"customers": (f"127.0.0.1:{grpc_port}",)})
    app = build_app(config, files=[customers_pb2.DESCRIPTOR])
    # The gateway's own server: its protocol, limits and Date header, as `python -m gateway` runs it.
    web = QuietServer(
        server_config(app, "127.0.0.1", 0, HttpServerLimits(), log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(web.serve())
    while not web.started:
        await asyncio.sleep(0.01)
    pipe.send((grpc_port, web.servers[0].sockets[0].getsockname()[1]))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until told to stop
    web.handle_exit(signal.SIGTERM, None)
    await serving
    await server.stop(grace=None)


def _serve_in_child(pipe: Connection) -> None:
    # On uvloop, as every process of the system runs (kit.process, uvicorn's own choice).
    uvloop.run(_serve(pipe))


@dataclass(frozen=True)
class Result:
    name: str
    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds


async def _drive(
    name: str, call: Callable[[int], Awaitable[None]], workers: int, warmup: float, duration: float
) -> Result:
    """Run `call(worker index)` in `workers` loops; only calls begun after the warm-up count."""
    latencies: list[float] = []
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker(index: int) -> None:
        while True:
            began = time.perf_counter()
            if began >= stop_at:
                return
            await call(index)
            if began >= measure_from:
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(index) for index in range(workers)))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(name, len(latencies), duration, statistics.median(latencies) * 1e3, p99 * 1e3)


class RawHttpClient:
    """A minimal keep-alive HTTP/1.1 GET client: shows the gateway's own cost without httpx's."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.request = (f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {TOKEN}\r\n\r\n").encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self) -> None:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"gateway answered {head[:40]!r}")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def _bench(grpc_port: int, http_port: int, workers: int, warmup: float, duration: float) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
    stub = customers_pb2_grpc.CustomersServiceStub(channel)
    metadata = (("authorization", TOKEN),)
    # One single-connection httpx client per worker: a shared pool scans every connection on
    # every request (httpcore), which would measure httpx rather than the gateway.
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}",
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            headers={"authorization": TOKEN},
        )
        for _ in range(workers)
    ]
    raw_clients = [RawHttpClient(http_port, "/v1/customers/me") for _ in range(workers)]

    async def direct(_: int) -> None:
        await stub.GetMe(customers_pb2.GetMeRequest(), metadata=metadata)

    async def rest_httpx(index: int) -> None:
        reply = await clients[index].get("/v1/customers/me")
        if reply.status_code != 200:
            raise RuntimeError(f"gateway answered {reply.status_code}: {reply.text}")

    async def rest_raw(index: int) -> None:
        await raw_clients[index].get()

    try:
        results = [
            await _drive("gRPC direct", direct, workers, warmup, duration),
            await _drive("REST (httpx)", rest_httpx, workers, warmup, duration),
            await _drive("REST (raw)", rest_raw, workers, warmup, duration),
        ]
    finally:
        for client in clients:
            await client.aclose()
        for raw in raw_clients:
            raw.close()
        await channel.close()
    _report(results, workers)


def _report(results: list[Result], workers: int) -> None:
    direct, *rest = results
    print(f"GetMe, {workers} concurrent workers, {direct.seconds:.0f} s measured per client")
    for result in results:
        print(
            f"  {result.name:<13} {result.per_second:8.0f} calls/s   "
            f"p50 {result.p50_ms:6.2f} ms   p99 {result.p99_ms:6.2f} ms"
        )
    for result in rest:
        print(
            f"  {result.name}: throughput gRPC/REST {direct.per_second / result.per_second:.2f}x, "
            f"p99 REST/gRPC {result.p99_ms / direct.p99_ms:.2f}x"
        )


def main() -> None:
    # httpcore probes for sniffio on every request; absent, each probe walks sys.path.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type,unused-ignore]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    if 3 * (args.warmup + args.duration) > 25:
        parser.error("3 x (warmup + duration) must stay under 25 s: the run ends within 30 s")
    # Servers in a child process, load in this one: the load generator does not steal their loop.
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve_in_child, args=(child,))
    server.start()
    try:
        if not parent.poll(15):
            raise SystemExit("the bench servers did not start")
        grpc_port, http_port = parent.recv()
        uvloop.run(_bench(grpc_port, http_port, args.workers, args.warmup, args.duration))
    finally:
        parent.send("stop")
        server.join(10)
        if server.is_alive():
            server.terminate()


if __name__ == "__main__":
    main()
