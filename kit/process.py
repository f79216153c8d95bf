"""Running a service process: logs, traces, metrics, config errors in one line, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

import uvloop

from kit.grpc_server import wait_for_stop_signal
from kit.log_format import LogSettings, configure_logging
from kit.metrics import serve_metrics
from kit.settings import ConfigError, Env
from kit.tracing import TracingSettings, start_tracing


class Stoppable(Protocol):
    async def stop(self) -> None: ...


def run_process(name: str, start: Callable[[], Awaitable[Stoppable]]) -> None:
    """Start a process's components, wait for a stop signal, stop them gracefully."""
    env = Env()
    try:
        configure_logging(LogSettings.from_env(env), name)
        # Before start(): the instrumentations patch the servers, channels and clients it makes.
        tracing = start_tracing(TracingSettings.from_env(env), name)
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        sys.exit(2)

    async def main() -> None:
        serve_metrics(Env())
        running = await start()
        await wait_for_stop_signal()
        logging.getLogger(name).info("stopping")
        await running.stop()

    try:
        uvloop.run(main())
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    finally:
        tracing.shutdown()
