"""Follow a session through its event stream (`/v1/sessions/{id}/events:stream`): pushed, never polled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

# A stream that could not be opened or broke off (a gateway restarting or full) is opened again
# after this pause, doubled each time up to the longest.
FIRST_PAUSE_SECONDS = 0.2
LONGEST_PAUSE_SECONDS = 2.0
# Worth opening again; any other refusal (401, 403, 404) is final.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# A frame is one line of JSON: a session with its items stays far below this.
LONGEST_LINE_BYTES = 1 << 20

FrameHandler = Callable[[str, Any], None]


@dataclass(frozen=True)
class StreamEnd:
    """Where following a session stopped: its state then, and whether the stream said it ended."""

    state: str
    ended: bool


async def sse_frames(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """(event, data) of each Server-Sent Event frame of a response, until the response ends."""
    name = "message"
    while raw := await response.content.readline(max_line_length=LONGEST_LINE_BYTES):
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            yield name, json.loads(line.removeprefix("data:").strip())
        elif not line:
            name = "message"


async def follow_session(
    client: aiohttp.ClientSession,
    gateway_url: str,
    session_id: str,
    headers: dict[str, str],
    timeout: float,
    on_frame: FrameHandler | None = None,
) -> StreamEnd:
    """Read the session's stream until the gateway ends it (an end state, its sagas done) or time runs out.

    The stream is read to its last byte after its `end` frame (the gateway closes the response right
    after it), so its connection goes back to the session's pool for the customer's next call
    instead of being closed.
    """
    url = f"{gateway_url}/v1/sessions/{session_id}/events:stream"
    deadline = time.monotonic() + timeout
    state = ""
    pause = FIRST_PAUSE_SECONDS
    while True:
        wait = pause
        end: StreamEnd | None = None
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                async with client.get(url, headers=headers) as response:
                    if response.status == 200:
                        async for name, data in sse_frames(response):
                            if on_frame is not None:
                                on_frame(name, data)
                            if name == "session":
                                state = str(data.get("state", state))
                            elif name == "end":
                                end = StreamEnd(str(data.get("state", state)), ended=True)
                            elif name == "problem":
                                end = StreamEnd(state, ended=False)
                    else:
                        await response.read()
                        if response.status not in RETRIED_STATUSES:
                            return StreamEnd(state, ended=False)
                        wait = max(pause, _retry_after(response))
        except (aiohttp.ClientError, TimeoutError):
            pass  # broke off or timed out: the deadline below decides
        if end is not None:
            return end
        left = deadline - time.monotonic()
        if left <= 0:
            return StreamEnd(state, ended=False)
        await asyncio.sleep(min(wait, left))
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


def _retry_after(response: aiohttp.ClientResponse) -> float:
    try:
        return float(response.headers.get("retry-after", "0"))
    except ValueError:
        return 0.0
