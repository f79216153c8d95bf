"""Backend health through the standard grpc.health.v1 service, checked in parallel with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2

from gateway.backends import Backends

SERVING = "SERVING"
DEGRADED = "DEGRADED"
_CHECK_PATH = "/grpc.health.v1.Health/Check"


async def check_backends(
    backends: Backends, services: Mapping[str, str], timeout: float
) -> tuple[bool, dict[str, object]]:
    """(all serving, JSON body) for every service, keyed by full service name.

    `services` maps a full service name to its package. A service with several replicas
    reports the worst answer among them, so one sick replica shows.
    """
    names = sorted(services)
    results = await asyncio.gather(
        *(_check_service(backends, name, services[name], timeout) for name in names)
    )
    statuses = dict(zip(names, results, strict=True))
    healthy = all(status == SERVING for status in statuses.values())
    return healthy, {"status": SERVING if healthy else DEGRADED, "backends": statuses}


async def _check_service(backends: Backends, service: str, package: str, timeout: float) -> str:
    channels = backends.channels(package)
    answers = await asyncio.gather(*(_check_one(ch, service, timeout) for ch in channels))
    for answer in answers:
        if answer != SERVING:
            return answer
    return SERVING


async def _check_one(channel: grpc.aio.Channel, service: str, timeout: float) -> str:
    check = channel.unary_unary(
        _CHECK_PATH,
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    try:
        try:
            reply = await check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:
                raise
            # The server does not register this name: its overall status is the best we know.
            reply = await check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.aio.AioRpcError as error:
        return str(error.code().name)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
