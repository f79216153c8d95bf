"""Fixtures: a loopback gRPC backend with test servicers and the real gateway served by uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.gateway.fake_backends import CallLog, start_backend
from tests.support.gateway import RunningGateway, running_gateway
from tests.support.ports import free_port


@pytest.fixture
async def gateway() -> AsyncIterator[RunningGateway]:
    log = CallLog()
    server, port, servicer = await start_backend(log)
    try:
        async with running_gateway(f"127.0.0.1:{port}", log, servicer) as running:
            yield running
    finally:
        await server.stop(grace=None)


@pytest.fixture
async def gateway_without_backend() -> AsyncIterator[RunningGateway]:
    async with running_gateway(f"127.0.0.1:{free_port()}", CallLog(), None) as running:
        yield running
