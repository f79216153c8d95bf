"""The one way a process connects to Redis: REDIS_URL as given (user, password, `rediss://`) plus TLS files.

REDIS_URL reaches redis-py unchanged, so credentials and query options survive. For `rediss://`,
REDIS_TLS_CA_FILE is the CA that signed the server's certificate, and REDIS_TLS_CERT_FILE with
REDIS_TLS_KEY_FILE a client certificate for servers that ask for one.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.exceptions import AuthenticationError, AuthorizationError, NoPermissionError, RedisError

from services.kit.metrics import count_redis_round_trip
from services.kit.settings import ConfigError, Env
from services.kit.shared_settings import REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE, REDIS_URL

log = logging.getLogger(__name__)

SCHEMES = ("redis", "rediss", "unix")
_SECRET_QUERY_KEYS = frozenset({"password"})


def masked_url(url: str) -> str:
    """The URL with its password (in the authority or the query) replaced by `***`, safe to log."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rpartition("@")[2]
            netloc = f"{user}:***@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<unparseable Redis URL>"


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is and how to prove who we are to it; `repr` never shows the password."""

    url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __repr__(self) -> str:
        return f"RedisSettings(url={self.display_url!r}, ca_file={self.ca_file!r})"

    @property
    def display_url(self) -> str:
        return masked_url(self.url)

    @classmethod
    def from_env(cls, env: Env, url: str | None = None) -> RedisSettings:
        """From REDIS_URL (or `url`, an operator's command-line choice) and the REDIS_TLS_* files."""
        url = url or REDIS_URL.optional(env)
        if url is None:
            raise ConfigError(
                "REDIS_URL is required (the launcher, `make run`, starts an embedded Redis and sets it)"
            )
        return cls.checked(
            url,
            ca_file=REDIS_TLS_CA_FILE.optional(env),
            cert_file=REDIS_TLS_CERT_FILE.optional(env),
            key_file=REDIS_TLS_KEY_FILE.optional(env),
        )

    @classmethod
    def checked(
        cls, url: str, ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
    ) -> RedisSettings:
        """Settings whose URL and files are usable, else one ConfigError naming the variable."""
        try:
            scheme = urlsplit(url).scheme
        except ValueError:
            scheme = ""
        if scheme not in SCHEMES:
            raise ConfigError(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {masked_url(url)}"
            )
        tls_files = {
            "REDIS_TLS_CA_FILE": ca_file,
            "REDIS_TLS_CERT_FILE": cert_file,
            "REDIS_TLS_KEY_FILE": key_file,
        }
        named = [name for name, path in tls_files.items() if path]
        if named and scheme != "rediss":
            raise ConfigError(f"{', '.join(named)} set, but REDIS_URL is not rediss:// ({masked_url(url)})")
        if (cert_file is None) != (key_file is None):
            raise ConfigError("REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together")
        for name, path in tls_files.items():
            if path:
                _check_readable(name, path)
        return cls(url, ca_file, cert_file, key_file)

    def connection_options(self) -> dict[str, Any]:
        """What redis-py needs beyond the URL: the TLS files, only for `rediss://`."""
        options: dict[str, Any] = {}
        if self.ca_file:
            options["ssl_ca_certs"] = self.ca_file
        if self.cert_file and self.key_file:
            options["ssl_certfile"] = self.cert_file
            options["ssl_keyfile"] = self.key_file
        return options


def redis_client(settings: RedisSettings, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client; `options` are redis-py's (decode_responses, socket_timeout, ...)."""
    client = redis.asyncio.Redis.from_url(settings.url, **settings.connection_options(), **options)
    _count_round_trips(client.connection_pool)
    return client


def sync_redis_client(settings: RedisSettings, **options: Any) -> redis.Redis:
    """The same connection for synchronous tools (operations, tests)."""
    client = redis.Redis.from_url(settings.url, **settings.connection_options(), **options)
    _count_round_trips(client.connection_pool)
    return client


# -- round trips: every command or pipeline a connection sends --------------------------------------


class _CountedAsyncConnection:
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        count_redis_round_trip()
        await super().send_packed_command(command, check_health)  # type: ignore[misc]


class _CountedConnection:
    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        count_redis_round_trip()
        super().send_packed_command(command, check_health)  # type: ignore[misc]


_counted_classes: dict[type, type] = {}


def _count_round_trips(pool: redis.asyncio.ConnectionPool | redis.ConnectionPool) -> None:
    """Make the pool's connections count what they send: a command, or a whole pipeline, is one.

    The URL scheme decides the connection class (plain, TLS or unix socket) and wins over a
    `connection_class` option, so the counting subclass is put on the pool once the URL chose.
    """
    base = pool.connection_class
    counted = _counted_classes.get(base)
    if counted is None:
        mixin = (
            _CountedAsyncConnection if isinstance(pool, redis.asyncio.ConnectionPool) else _CountedConnection
        )
        counted = _counted_classes[base] = type(f"Counted{base.__name__}", (mixin, base), {})
    pool.connection_class = counted


async def check_access(client: redis.asyncio.Redis, settings: RedisSettings) -> None:
    """Fail at start, with one clear line, when Redis refuses our credentials; an unreachable
    Redis is only logged, since the bus reconnects by itself once it answers."""
    try:
        await client.ping()
    except (AuthenticationError, AuthorizationError, NoPermissionError) as error:
        raise ConfigError(
            f"Redis at {settings.display_url} refused the credentials in REDIS_URL: {error}"
        ) from None
    except (RedisError, OSError) as error:
        handshake = _tls_failure(error)
        if handshake is not None:
            raise ConfigError(
                f"the TLS handshake with Redis at {settings.display_url} failed ({handshake}); "
                "check REDIS_TLS_CA_FILE, and REDIS_TLS_CERT_FILE/REDIS_TLS_KEY_FILE if Redis asks "
                "for a client certificate"
            ) from None
        # TLS 1.3 may report a refused client certificate as a plain reset, so a hint, not an error.
        hint = ""
        if settings.url.startswith("rediss:") and not settings.cert_file:
            hint = " (if Redis asks for client certificates, set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)"
        log.warning("Redis at %s does not answer yet: %s%s", settings.display_url, error, hint)
    else:
        log.info("connected to Redis at %s", settings.display_url)


def _tls_failure(error: BaseException) -> str | None:
    """The TLS reason behind a connection error (redis-py wraps it), if that is what it was."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return str(seen.reason or seen)
        seen = seen.__cause__ or seen.__context__
    return None


def _check_readable(name: str, path: str) -> None:
    try:
        with Path(path).open("rb") as file:
            file.read(1)
    except OSError as error:
        raise ConfigError(f"{name} cannot be read: {error}") from None
