"""The quiet HTTP server: it answers with a current Date header, and a stop signal ends it; it has no tick."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from tests.e2e.system import ROOT
from tests.support.polling import wait_for
from tests.support.ports import free_port

DEADLINE_SECONDS = 20.0
SERVER = """
import sys
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from kit.http_server import HttpServerLimits, serve

async def hello(_):
    return PlainTextResponse("hello")

serve(Starlette(routes=[Route("/", hello)]), "127.0.0.1", int(sys.argv[1]), HttpServerLimits(),
      log_level="warning")
"""


def answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None


def test_serves_with_a_date_header_and_stops_on_a_signal() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT)
    try:
        reply = wait_for(
            lambda: answer(f"http://127.0.0.1:{port}/"), timeout=DEADLINE_SECONDS, what="the server to start",
            interval=0.05, abort_if=lambda: process.poll() is not None and "the server exited",
        )  # fmt: skip
        assert reply.text == "hello"
        assert reply.headers["date"].endswith("GMT")
        # No timer renews the Date: it is read when a response is made, so it is now's, and it moves on.
        first = parsedate_to_datetime(reply.headers["date"])
        assert abs(first - datetime.now(UTC)) < timedelta(minutes=1)
        wait_for(
            lambda: (later := answer(f"http://127.0.0.1:{port}/")) is not None
            and parsedate_to_datetime(later.headers["date"]) > first,
            timeout=DEADLINE_SECONDS, what="a later Date header", interval=0.2,
        )  # fmt: skip
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert process.wait(timeout=DEADLINE_SECONDS) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
