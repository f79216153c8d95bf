"""Long-lived gRPC channels to the backends and cached per-method callables, spread round robin."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from gateway.config import GatewayConfig
from gateway.descriptors import service_key
from kit.channels import open_channel, peer_options
from kit.retry_policy import RetryScope, idempotent_methods


def retried_reads(methods: Iterable[tuple[str, ServiceDescriptor]]) -> dict[str, RetryScope]:
    """Per package, the reads of each service the gateway routes to: what gRPC may retry."""
    scopes: dict[str, dict[str, Iterable[str]]] = {}
    for package, service in methods:
        scopes.setdefault(package, {}).update(idempotent_methods(service))
    return dict(scopes)


class RoundRobin:
    """Hands out one of several equivalent callables per call: one per replica channel."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self._cycle: Iterator[Any] = itertools.cycle(items)

    def next(self) -> Any:
        return next(self._cycle)


class Backends:
    """The channels of every backend package; created by `open()`, never at import time."""

    def __init__(
        self, config: GatewayConfig, packages: Iterable[str], retried: Mapping[str, RetryScope] | None = None
    ) -> None:
        self._addresses = {package: config.addresses_for(service_key(package)) for package in packages}
        self._retried = retried or {}
        self._tls = config.tls
        self._channels: dict[str, list[grpc.aio.Channel]] = {}
        self._callables: dict[str, RoundRobin] = {}

    @property
    def packages(self) -> list[str]:
        return sorted(self._addresses)

    def open(self) -> None:
        for package, addresses in self._addresses.items():
            options = peer_options(self._retried.get(package))
            self._channels[package] = [open_channel(address, options, self._tls) for address in addresses]

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
