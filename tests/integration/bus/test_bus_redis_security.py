"""The saga bus through a Redis that demands a password, an ACL user, TLS and client certificates."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bus_harness import Recorder, all_handlers, confirm_slip, running
from redis.exceptions import ConnectionError as RedisConnectionError

from bus.history import HistoryEvent, read_history
from bus.keys import BusKeys
from bus.publisher import start_saga
from bus.runtime import connect_redis
from kit.certificates import write_certificates
from kit.redis_connection import RedisSettings, redis_client
from kit.settings import ConfigError, Env
from tests.private_redis import APP_PASSWORD, DEFAULT_PASSWORD, PrivateRedis, private_redis
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("redis-tls")
    write_certificates(folder, ["redis", "sessions"], datetime.now(UTC))
    return folder


@pytest.fixture(scope="module")
def password_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    # The ACL user may touch the bus tests' namespaces only: the bus stays inside its namespace.
    with private_redis(tmp_path_factory.mktemp("auth"), app_keys="bustest-*") as server:
        yield server


@pytest.fixture(scope="module")
def mutual_tls_redis(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path) -> Iterator[PrivateRedis]:
    with private_redis(
        tmp_path_factory.mktemp("mtls"), tls_dir, client_certs=True, app_keys="bustest-*"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path_factory.mktemp("tls"), tls_dir, app_keys="bustest-*") as server:
        yield server


def settings_for(url: str, tls_dir: Path | None = None, client_cert: bool = False) -> RedisSettings:
    """Exactly what a process reads: REDIS_URL and the REDIS_TLS_* files."""
    env = {"REDIS_URL": url}
    if tls_dir is not None:
        env["REDIS_TLS_CA_FILE"] = str(tls_dir / "ca.pem")
    if tls_dir is not None and client_cert:
        env["REDIS_TLS_CERT_FILE"] = str(tls_dir / "sessions.pem")
        env["REDIS_TLS_KEY_FILE"] = str(tls_dir / "sessions.key")
    return RedisSettings.from_env(Env(env))


async def one_saga_completes(settings: RedisSettings) -> None:
    """Publish one routing slip and let the participants consume it to the end, through `settings`."""
    redis = await connect_redis(settings)
    namespace = f"bustest-{uuid.uuid4().hex[:12]}"
    keys = BusKeys(namespace)
    saga_id = f"secure-{uuid.uuid4().hex[:8]}"
    recorder = Recorder()
    try:
        async with running(redis, namespace, all_handlers(recorder), partitions=keys.partitions):
            assert await start_saga(redis, keys, confirm_slip(saga_id)) is not None

            async def completed() -> bool:
                history = await read_history(redis, keys, saga_id)
                return any(r.event == HistoryEvent.SAGA_COMPLETED for r in history)

            await eventually(completed, what=f"saga {saga_id} to complete")
        assert recorder.calls == {"hotel.confirm": 1, "flights.confirm": 1, "sessions.complete": 1}
    finally:
        found = [key async for key in redis.scan_iter(match=f"{namespace}:*", count=1000)]
        if found:
            await redis.delete(*found)
        await redis.aclose()


async def refusal(settings: RedisSettings) -> str:
    with pytest.raises(ConfigError) as caught:
        redis = await connect_redis(settings)
        await redis.aclose()
    return str(caught.value)


async def test_saga_through_redis_with_a_password(password_redis: PrivateRedis) -> None:
    await one_saga_completes(settings_for(password_redis.url(password=DEFAULT_PASSWORD)))


async def test_saga_through_redis_as_an_acl_user(password_redis: PrivateRedis) -> None:
    await one_saga_completes(settings_for(password_redis.url("app", APP_PASSWORD)))


async def test_wrong_or_missing_password_fails_at_start_with_a_clear_error(
    password_redis: PrivateRedis,
) -> None:
    for url in (
        password_redis.url(password="not-the-password"),
        password_redis.url("app", "not-the-password"),
        password_redis.url("nobody", APP_PASSWORD),
    ):
        message = await refusal(settings_for(url))
        assert "refused the credentials in REDIS_URL" in message
        assert "invalid username-password pair" in message
        assert "not-the-password" not in message and APP_PASSWORD not in message and "***" in message
    assert "Authentication required" in await refusal(settings_for(password_redis.url()))


async def test_saga_through_redis_over_mutual_tls(mutual_tls_redis: PrivateRedis, tls_dir: Path) -> None:
    url = mutual_tls_redis.url("app", APP_PASSWORD)
    assert url.startswith("rediss://")
    await one_saga_completes(settings_for(url, tls_dir, client_cert=True))


async def test_saga_through_redis_over_tls_with_only_the_ca(tls_redis: PrivateRedis, tls_dir: Path) -> None:
    await one_saga_completes(settings_for(tls_redis.url("app", APP_PASSWORD), tls_dir))


async def test_tls_mistakes_are_refused(mutual_tls_redis: PrivateRedis, tls_dir: Path) -> None:
    url = mutual_tls_redis.url("app", APP_PASSWORD)
    without_ca = await refusal(settings_for(url))
    assert "TLS handshake with Redis" in without_ca and "CERTIFICATE_VERIFY_FAILED" in without_ca
    wrong_password = await refusal(
        settings_for(mutual_tls_redis.url("app", "nope"), tls_dir, client_cert=True)
    )
    assert "refused the credentials" in wrong_password
    # Under TLS 1.3 the server's refusal of a missing client certificate can reach the client as
    # an alert or as a reset, so only the refusal itself is certain.
    without_client_cert = redis_client(settings_for(url, tls_dir), socket_timeout=5)
    try:
        with pytest.raises(RedisConnectionError):
            await without_client_cert.ping()
    finally:
        await without_client_cert.aclose()
