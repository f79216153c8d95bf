"""REDIS_MODE: `single` by default, `cluster` on request, anything else stops the process with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio

from kit.redis_connection import RedisMode, RedisSettings, blocking_reader, is_cluster, redis_client
from kit.settings import ConfigError, Env
from launcher.__main__ import main as launcher_main

URL = "redis://app:s3cret@127.0.0.1:7000/0"


def settings_of(**env: str) -> RedisSettings:
    return RedisSettings.from_env(Env({"REDIS_URL": URL, **env}))


def test_single_is_the_default_and_keeps_the_plain_client() -> None:
    settings = settings_of()
    assert settings.mode is RedisMode.SINGLE
    assert repr(settings) == "RedisSettings(url='redis://app:***@127.0.0.1:7000/0', ca_file=None)"
    client = redis_client(settings)
    assert type(client) is redis.asyncio.Redis and not is_cluster(client)


@pytest.mark.parametrize("raw", ["cluster", "CLUSTER", " Cluster "])
def test_cluster_is_read_without_regard_to_case_or_blanks(raw: str) -> None:
    settings = settings_of(REDIS_MODE=raw)
    assert settings.mode is RedisMode.CLUSTER
    assert "s3cret" not in repr(settings) and "mode='cluster'" in repr(settings)


@pytest.mark.parametrize("raw", ["sentinel", "clustered", "1"])
def test_any_other_mode_is_refused_naming_the_setting(raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_of(REDIS_MODE=raw)
    assert str(refused.value) == f"REDIS_MODE must be single or cluster, got {raw!r}"


def test_a_blank_mode_counts_as_unset() -> None:
    assert settings_of(REDIS_MODE="  ").mode is RedisMode.SINGLE


def test_cluster_mode_refuses_a_unix_socket_and_a_database_other_than_0() -> None:
    with pytest.raises(ConfigError, match=r"REDIS_MODE=cluster needs a redis:// or rediss:// REDIS_URL"):
        RedisSettings.from_env(Env({"REDIS_URL": "unix:///tmp/redis.sock", "REDIS_MODE": "cluster"}))
    with pytest.raises(ConfigError, match=r"database 0 only, REDIS_URL names '2'") as refused:
        RedisSettings.from_env(Env({"REDIS_URL": "redis://:s3cret@h:7000/2", "REDIS_MODE": "cluster"}))
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"names '3'"):
        RedisSettings.from_env(Env({"REDIS_URL": "redis://h:7000?db=3", "REDIS_MODE": "cluster"}))
    assert RedisSettings.from_env(Env({"REDIS_URL": "redis://h:7000", "REDIS_MODE": "cluster"})).url


async def test_cluster_mode_makes_cluster_clients_that_connect_only_when_used() -> None:
    settings = settings_of(REDIS_MODE="cluster")
    client = redis_client(settings, decode_responses=True)
    assert isinstance(client, redis.asyncio.RedisCluster) and is_cluster(client)
    reader = blocking_reader(client, 15.0)
    assert isinstance(reader, redis.asyncio.RedisCluster) and reader is not client
    assert reader.connection_kwargs["socket_timeout"] == 15.0
    assert reader.connection_kwargs["password"] == "s3cret"
    assert reader.connection_kwargs["decode_responses"] is True


def test_the_launcher_refuses_cluster_mode_without_a_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_MODE", "cluster")
    monkeypatch.setenv("TRAVEL_DATA_DIR", str(tmp_path))
    assert launcher_main(["--only", "gateway"]) == 2
    assert "REDIS_MODE=cluster needs REDIS_URL" in capsys.readouterr().err
