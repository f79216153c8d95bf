"""Running a service process: logging, config errors as one clear line, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

from services.kit.grpc_server import wait_for_stop_signal
from services.kit.settings import ConfigError


class Stoppable(Protocol):
    async def stop(self) -> None: ...


def run_process(name: str, start: Callable[[], Awaitable[Stoppable]]) -> None:
    """Start a process's components, wait for a stop signal, stop them gracefully."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s",
    )

    async def main() -> None:
        running = await start()
        await wait_for_stop_signal()
        logging.getLogger(name).info("stopping")
        await running.stop()

    try:
        asyncio.run(main())
    except ConfigError as error:
        print(f"{name}: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
