"""Container health probe: `python -m kit.health_probe grpc|http|redis TARGET`; 0 = healthy."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.request

from grpc_health.v1 import health_pb2, health_pb2_grpc

from kit.channels import peer_channel
from kit.grpc_tls import GrpcTls
from kit.redis_connection import RedisSettings, redis_client
from kit.settings import Env


async def grpc_serving(address: str, timeout: float) -> bool:
    """The standard health service answers SERVING, over TLS when the process is configured for it."""
    async with peer_channel(address, GrpcTls.from_env(Env())) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout)  # type: ignore[attr-defined]
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str, timeout: float) -> bool:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bool(response.status == 200)


async def redis_answers(timeout: float) -> bool:
    client = redis_client(RedisSettings.from_env(Env()), socket_timeout=timeout)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.health_probe", description=__doc__)
    parser.add_argument("kind", choices=("grpc", "http", "redis"))
    parser.add_argument("target", nargs="?", default="", help="host:port (grpc) or URL (http)")
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args(argv)
    try:
        if args.kind == "grpc":
            healthy = asyncio.run(grpc_serving(args.target, args.timeout))
        elif args.kind == "http":
            healthy = http_ok(args.target, args.timeout)
        else:
            healthy = asyncio.run(redis_answers(args.timeout))
    except Exception as error:  # any failure to reach the target is simply "unhealthy"
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
