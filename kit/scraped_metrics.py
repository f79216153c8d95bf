"""Gauges read when /metrics is scraped: an async read run on the process's event loop, no timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# A scrape waits this long for the loop; a busy or stuck process answers without these gauges.
READ_TIMEOUT_SECONDS = 5.0

Read = Callable[[], Awaitable[Iterable[GaugeMetricFamily]]]


class ScrapedGauges(Collector):
    """Runs `read` on the event loop from the metrics thread, once per scrape."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read: Read, name: str) -> None:
        self._loop = loop
        self._read = read
        self._name = name

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Nothing to describe: otherwise registering would collect at once, on the loop's own thread.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        future = asyncio.run_coroutine_threadsafe(_gathered(self._read), self._loop)
        try:
            families = future.result(READ_TIMEOUT_SECONDS)
        except Exception as error:  # a scrape must answer with what it has, whatever failed
            future.cancel()
            log.warning("metrics: could not read %s: %r", self._name, error)
            return
        yield from families


async def _gathered(read: Read) -> list[GaugeMetricFamily]:
    return list(await read())


def register_scraped_gauges(
    read: Read, name: str, registry: CollectorRegistry = REGISTRY
) -> Callable[[], None]:
    """Register gauges read at scrape time from the running loop; returns what unregisters them."""
    collector = ScrapedGauges(asyncio.get_running_loop(), read, name)
    registry.register(collector)
    return lambda: registry.unregister(collector)
