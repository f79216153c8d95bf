"""Long-lived gRPC channels to the backends and cached per-method callables, spread round robin."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc

from gateway.config import GatewayConfig
from gateway.descriptors import service_key
from kit.channels import open_channel

# Also balance inside one address when its name resolves to several replicas.
_CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
    ("grpc.keepalive_time_ms", 30_000),
]


class RoundRobin:
    """Hands out one of several equivalent callables per call: one per replica channel."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self._cycle: Iterator[Any] = itertools.cycle(items)

    def next(self) -> Any:
        return next(self._cycle)


class Backends:
    """The channels of every backend package; created by `open()`, never at import time."""

    def __init__(self, config: GatewayConfig, packages: Iterable[str]) -> None:
        self._addresses = {package: config.addresses_for(service_key(package)) for package in packages}
        self._tls = config.tls
        self._channels: dict[str, list[grpc.aio.Channel]] = {}
        self._callables: dict[str, RoundRobin] = {}

    @property
    def packages(self) -> list[str]:
        return sorted(self._addresses)

    def open(self) -> None:
        for package, addresses in self._addresses.items():
            self._channels[package] = [
                open_channel(address, _CHANNEL_OPTIONS, self._tls) for address in addresses
            ]

    async def close(self) -> None:
        channels = [channel for group in self._channels.values() for channel in group]
        self._channels.clear()
        self._callables.clear()
        for channel in channels:
            await channel.close(grace=None)

    def channels(self, package: str) -> list[grpc.aio.Channel]:
        return self._channels[package]

    def unary(
        self,
        package: str,
        rpc_path: str,
        serializer: Callable[[Any], bytes],
        deserializer: Callable[[bytes], Any],
    ) -> RoundRobin:
        """The cached multicallables of one method, one per replica channel."""
        cached = self._callables.get(rpc_path)
        if cached is None:
            cached = RoundRobin(
                [
                    channel.unary_unary(
                        rpc_path,
                        request_serializer=serializer,
                        response_deserializer=deserializer,
                        _registered_method=True,  # type: ignore[call-arg]  # grpc>=1.63 keyword, not yet in its stubs
                    )
                    for channel in self._channels[package]
                ]
            )
            self._callables[rpc_path] = cached
        return cached
