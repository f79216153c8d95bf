"""The asyncio clients' commands are packed in C exactly as redis-py packs them in Python."""

from __future__ import annotations

import enum

import pytest
import redis.asyncio
from redis.exceptions import DataError

from kit.redis_connection import RedisSettings, redis_client


class Stage(enum.StrEnum):
    CONFIRM = "confirm"


def connection(**options: object) -> redis.asyncio.Connection:
    """A connection of the factory's class, never connected: packing needs no server."""
    client = redis_client(RedisSettings.checked("redis://127.0.0.1:1/0"), **options)
    made = client.connection_pool.make_connection()
    assert isinstance(made, redis.asyncio.Connection)
    return made


def packed(conn: redis.asyncio.Connection, *args: object) -> bytes:
    return b"".join(bytes(chunk) for chunk in conn.pack_command(*args))


def python_packed(conn: redis.asyncio.Connection, *args: object) -> bytes:
    return b"".join(bytes(chunk) for chunk in redis.asyncio.Connection.pack_command(conn, *args))


COMMANDS = [
    ("PING",),
    ("SET", "key", "value", "EX", 60),
    ("XADD", "stream:{s-1}", "*", "slip", b"\x00\xff binary", "at", 1733550000.25),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", "ação", "日本", -7, 10**20, 0.1),
    ("XINFO GROUPS", "stream"),
    (b"CLIENT SETNAME", "name"),
    ("HSET", "h", "stage", Stage.CONFIRM, "payload", memoryview(b"view")),
    ("SET", "big", "x" * 20_000),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[str(args[0]) for args in COMMANDS])
@pytest.mark.parametrize("decode_responses", [True, False])
def test_the_same_bytes_as_redis_py(args: tuple[object, ...], decode_responses: bool) -> None:
    conn = connection(decode_responses=decode_responses)
    assert packed(conn, *args) == python_packed(conn, *args)


@pytest.mark.parametrize("bad", [None, True, [1], {"a": 1}])
def test_an_argument_redis_does_not_take_is_refused_as_redis_py_refuses_it(bad: object) -> None:
    conn = connection()
    with pytest.raises(DataError):
        conn.pack_command("SET", "key", bad)


def test_another_encoding_is_packed_by_redis_py() -> None:
    conn = connection(encoding="latin-1")
    assert packed(conn, "SET", "key", "ção") == python_packed(conn, "SET", "key", "ção")
    assert "ção".encode("latin-1") in packed(conn, "SET", "key", "ção")
