"""Stream slots, declared body lengths and HTTP server settings: the pure parts of the gateway's limits."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.errors import GatewayError
from gateway.request_body import declared_length, read_capped
from kit.http_server import HttpServerLimits
from kit.open_streams import OpenStreams, StreamCaps
from kit.settings import ConfigError, Env


def test_stream_slots_per_customer_and_in_total() -> None:
    streams = OpenStreams(StreamCaps(per_customer=2, total=3))
    assert streams.acquire("ana") is None and streams.acquire("ana") is None
    assert "per customer" in (streams.acquire("ana") or "")
    assert streams.acquire("bo") is None
    assert streams.full()
    assert "at most 3 event streams" in (streams.acquire("cy") or "")
    streams.release("ana")
    assert not streams.full() and streams.held_by("ana") == 1
    assert streams.acquire("cy") is None
    for customer in ("ana", "bo", "cy"):
        streams.release(customer)
    assert streams.total == 0 and streams.held_by("ana") == 0


@pytest.mark.parametrize("caps", [{"per_customer": 0}, {"total": 0}, {"retry_after_seconds": 0}])
def test_stream_caps_are_positive(caps: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        StreamCaps(**caps)


def test_a_declared_length_over_the_cap_or_malformed_is_refused_before_reading() -> None:
    declared_length(None, 10)
    declared_length("10", 10)
    with pytest.raises(GatewayError) as over:
        declared_length("11", 10)
    assert over.value.http_status == 413
    for malformed in ("-1", "1e3", "٣", ""):
        with pytest.raises(GatewayError) as bad:
            declared_length(malformed, 10)
        assert bad.value.http_status == 400


def test_http_server_limits_from_the_environment() -> None:
    assert HttpServerLimits.from_env(Env({}), "GATEWAY") == HttpServerLimits()
    limits = HttpServerLimits.from_env(
        Env(
            {
                "GATEWAY_MAX_CONNECTIONS": "50",
                "GATEWAY_KEEP_ALIVE_SECONDS": "2",
                "GATEWAY_HEADER_TIMEOUT_SECONDS": "1.5",
                "GATEWAY_MAX_HEADER_BYTES": "4096",
                "GATEWAY_BACKLOG": "64",
                "GATEWAY_FORWARDED_ALLOW_IPS": "10.0.0.2",
            }
        ),
        "GATEWAY",
    )
    assert limits == HttpServerLimits(50, 2, 1.5, 4096, 64, "10.0.0.2")
    with pytest.raises(ConfigError, match="GATEWAY_FORWARDED_ALLOW_IPS"):
        HttpServerLimits.from_env(Env({"GATEWAY_FORWARDED_ALLOW_IPS": "*"}), "GATEWAY")
    with pytest.raises(ConfigError, match="PROVIDER_MAX_CONNECTIONS"):
        HttpServerLimits.from_env(Env({"PROVIDER_MAX_CONNECTIONS": "0"}), "PROVIDER")


async def test_a_body_that_stops_arriving_is_408() -> None:
    never = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"{"
        await never.wait()
        yield b"}"

    with pytest.raises(GatewayError) as slow:
        await read_capped(stalled(), limit=1024, timeout=0.05)
    assert slow.value.http_status == 408
    assert slow.value.body()["code"] == 4  # DEADLINE_EXCEEDED


async def test_a_body_within_the_cap_is_read_whole() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"ab", b"cd", b"e"):
            yield part

    assert await read_capped(chunks(), limit=5) == b"abcde"
    with pytest.raises(GatewayError) as over:
        await read_capped(chunks(), limit=4)
    assert over.value.http_status == 413
