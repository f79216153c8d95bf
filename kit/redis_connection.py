"""The one way a process connects to Redis: REDIS_URL as given (user, password, `rediss://`) plus TLS files.

REDIS_URL reaches redis-py unchanged, so credentials and query options survive. For `rediss://`,
REDIS_TLS_CA_FILE is the CA that signed the server's certificate, and REDIS_TLS_CERT_FILE with
REDIS_TLS_KEY_FILE a client certificate for servers that ask for one. With REDIS_MODE=cluster the
URL names any node of a Redis Cluster and the client is redis-py's cluster client
(`redis.asyncio.RedisCluster`). What differs between the two kinds of client has one function
each here: a second client for blocking reads, a client for pub/sub, and the errors a caller
retries; Lua scripts are in `redis_scripts.py`.
"""

from __future__ import annotations

import enum
import inspect
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import hiredis
import redis
import redis.asyncio
import redis.cluster
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ClusterDownError,
    NoPermissionError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kit.metrics import count_redis_round_trip
from kit.settings import ConfigError, Env
from kit.shared_settings import (
    REDIS_MODE,
    REDIS_TLS_CA_FILE,
    REDIS_TLS_CERT_FILE,
    REDIS_TLS_KEY_FILE,
    REDIS_URL,
)

log = logging.getLogger(__name__)

# Either kind of asyncio client: what `redis_client` makes in single or in cluster mode.
AnyRedis = redis.asyncio.Redis | redis.asyncio.RedisCluster
Client = TypeVar("Client", redis.asyncio.Redis, redis.asyncio.RedisCluster)

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


class RedisMode(enum.StrEnum):
    """REDIS_MODE: one Redis, or a Redis Cluster reached through any of its nodes."""

    SINGLE = "single"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class RedisSettings:
    """Where Redis is and how to prove who we are to it; `repr` never shows the password."""

    url: str
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    mode: RedisMode = RedisMode.SINGLE

    def __repr__(self) -> str:
        shown_mode = "" if self.mode is RedisMode.SINGLE else f", mode={self.mode.value!r}"
        return f"RedisSettings(url={self.display_url!r}, ca_file={self.ca_file!r}{shown_mode})"

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
            mode=RedisMode(REDIS_MODE.read(env)),
        )

    @classmethod
    def checked(
        cls,
        url: str,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        mode: RedisMode = RedisMode.SINGLE,
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
        if mode is RedisMode.CLUSTER:
            _check_cluster_url(url, scheme)
        return cls(url, ca_file, cert_file, key_file, mode)

    def connection_options(self) -> dict[str, Any]:
        """What redis-py needs beyond the URL: the TLS files, only for `rediss://`."""
        options: dict[str, Any] = {}
        if self.ca_file:
            options["ssl_ca_certs"] = self.ca_file
        if self.cert_file and self.key_file:
            options["ssl_certfile"] = self.cert_file
            options["ssl_keyfile"] = self.key_file
        return options


class FailoverAwareCluster(redis.asyncio.RedisCluster):
    """redis-py's asyncio cluster client, reading the slot map again when the node it asks for a
    command's keys is gone.

    For a command whose keys have no fixed place (XREADGROUP, XREAD), redis-py 8.1 asks one node,
    the default node of its last slot-map read, `COMMAND GETKEYS` before routing it. If that node
    dies, the connection error comes before the command is routed, where redis-py does not mark its
    slot map stale, so every later XREADGROUP fails the same way while the cluster has long failed
    over (seen here: a consumer stuck for minutes after its URL's master was killed): the slot is
    found before the slot map is read again, so marking it stale is not enough. Here the map, and
    with it the node asked, are read again at once and the keys asked once more; during the
    failover itself that may fail too, and the caller's retry comes back here.
    """

    async def _determine_slot(self, *args: Any) -> int:
        try:
            return await super()._determine_slot(*args)
        except (RedisConnectionError, RedisTimeoutError):
            self._initialize = True
            await self.initialize()
            return await super()._determine_slot(*args)


def redis_client(settings: RedisSettings, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client; `options` are redis-py's (decode_responses, socket_timeout, ...).

    With REDIS_MODE=cluster it is a `redis.asyncio.RedisCluster`, which answers the same command
    methods (routed by each command's key slot) and is typed as `Redis` so code written for one
    Redis type-checks unchanged; what differs goes through the functions below (and Lua scripts
    through `redis_scripts.py`). The cluster client connects on its first command, when it reads
    the slot map from the URL's node.
    """
    if settings.mode is RedisMode.CLUSTER:
        options = {**settings.connection_options(), **options}
        cluster = FailoverAwareCluster.from_url(settings.url, **options)
        count_cluster_round_trips(cluster)
        return cast(redis.asyncio.Redis, cluster)
    client = redis.asyncio.Redis.from_url(settings.url, **settings.connection_options(), **options)
    _count_round_trips(client.connection_pool)
    return client


def sync_redis_client(settings: RedisSettings, **options: Any) -> redis.Redis:
    """The same connection for synchronous tools (operations, tests).

    In cluster mode a `redis.cluster.RedisCluster`, which (unlike the asyncio one) reads the slot
    map as it is made, and whose round trips are not counted: it builds a pool per node itself.
    """
    if settings.mode is RedisMode.CLUSTER:
        options = {**settings.connection_options(), **options}
        return cast(redis.Redis, redis.cluster.RedisCluster.from_url(settings.url, **options))
    client = redis.Redis.from_url(settings.url, **settings.connection_options(), **options)
    _count_round_trips(client.connection_pool)
    return client


# -- what differs between one Redis and a cluster ----------------------------------------------------

# What a caller treats as "Redis is not there right now" and retries after a pause. On a cluster,
# while a primary fails and its replica takes over (cluster-node-timeout, then an election),
# commands on its slots fail with ConnectionError (the node is gone; redis-py reads the slot map
# again, which still names it until the replica is promoted): the only error callers saw in the
# failover test. ClusterDownError (CLUSTERDOWN, the nodes agree a slot has no owner yet),
# TryAgainError (TRYAGAIN, during a resharding), SlotNotCoveredError (a slot map read meanwhile
# lacks the slot) and TimeoutError (a node that hangs rather than dies) come the same way when a
# failover or a resharding lasts longer than redis-py's own retries (3, a quarter second apart for
# CLUSTERDOWN). RedisClusterException is not a RedisError: a client that reaches no node at all
# raises it ("Redis Cluster cannot be connected").
TRANSIENT_REDIS_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
    OSError,
)


def is_transient(error: BaseException) -> bool:
    """True for an error that says Redis, or the part of the cluster a key lives on, is away for now."""
    if isinstance(error, TRANSIENT_REDIS_ERRORS):
        return True
    # What the cluster client raises when it cannot read a whole slot map: no node answers, or,
    # while a master fails over, the nodes disagree or leave slots unserved for a moment.
    return isinstance(error, RedisClusterException) and any(
        sign in str(error) for sign in ("cannot be connected", "could not agree", "slots are not covered")
    )


def is_cluster(client: object) -> bool:
    """Whether `client` is redis-py's asyncio cluster client (REDIS_MODE=cluster)."""
    return isinstance(client, redis.asyncio.RedisCluster)


def blocking_reader(client: Client, timeout_s: float) -> Client:
    """A second client like `client` with pools of its own and socket timeout `timeout_s`, for blocking
    reads (XREADGROUP BLOCK), so a blocked read never holds a connection commands wait for.

    One Redis: a new pool with the same connection class and options (what the bus consumer made
    itself). A cluster: a new RedisCluster from the same nodes and options, so the read goes to the
    node owning the stream's slot and follows it through a failover.
    """
    if isinstance(client, redis.asyncio.RedisCluster):
        return _cluster_twin(client, socket_timeout=timeout_s)
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": timeout_s}
    return redis.asyncio.Redis(
        connection_pool=redis.asyncio.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )


def pubsub_client(client: AnyRedis) -> redis.asyncio.Redis:
    """A client whose `pubsub()` SUBSCRIBEs: `client` itself on one Redis; on a cluster, a plain
    client of one node: the URL's before the cluster client read the slot map, then its default
    node, a master of the slot map it read last (so not a master that died before that read).

    A PUBLISH on a cluster reaches every node, so a subscriber on any node hears every channel, and
    a PUBLISH from a Lua script runs where the script's keys live. redis-py 8.1's asyncio
    `RedisCluster.pubsub()` does subscribe, but it picks its node from the first channel's key slot
    on first use (needing the slot map read beforehand), borrows a connection of that node's
    command pool, and re-routes only sharded (SSUBSCRIBE) channels when the topology changes: a
    plain client is simpler and behaves as on one Redis. If that node goes away the subscription
    fails like a lost connection to one Redis; the caller makes a new one from this function.
    """
    if not isinstance(client, redis.asyncio.RedisCluster):
        return client
    node = client.get_default_node() or next(iter(client.nodes_manager.startup_nodes.values()))
    options = dict(node.connection_kwargs)
    pool = redis.asyncio.ConnectionPool(connection_class=node.connection_class, **options)
    return redis.asyncio.Redis(connection_pool=pool)


# RedisCluster's own arguments, which its connection options share names with; the rest (the
# connection class, response callbacks and per-client registries) it makes itself.
_CLUSTER_ARGUMENTS = frozenset(inspect.signature(redis.asyncio.RedisCluster.__init__).parameters) - {
    "self",
    "host",
    "port",
    "startup_nodes",
}


def _cluster_twin(cluster: redis.asyncio.RedisCluster, **overrides: Any) -> redis.asyncio.RedisCluster:
    """A new cluster client from the same nodes, credentials, TLS and options, with `overrides`."""
    options = {key: value for key, value in cluster.connection_kwargs.items() if key in _CLUSTER_ARGUMENTS}
    tls = issubclass(cluster.connection_kwargs["connection_class"], redis.asyncio.SSLConnection)
    nodes = [
        redis.asyncio.cluster.ClusterNode(node.host, node.port)
        for node in cluster.nodes_manager.startup_nodes.values()
    ]
    twin = FailoverAwareCluster(startup_nodes=nodes, ssl=tls, **{**options, **overrides})
    count_cluster_round_trips(twin)
    return twin


# -- round trips: every command or pipeline a connection sends --------------------------------------


class _CountedAsyncConnection:
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Count the round trip, and send as redis-py does, but for one race it loses.

        redis-py 8.1 checks that a connection is open, then yields (to the task `wait_for` makes
        for its socket timeout) before it writes. If another task finishes closing the connection
        in that gap, which the cluster client does to a node's free connections when it reads a
        new slot map, the write meets no writer and raises AttributeError, an error no caller
        retries (seen here: a bus consumer died during a failover). It is a lost connection, so it
        is raised as one: the cluster client then reads the slot map and tries again.
        """
        count_redis_round_trip()
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except AttributeError:
            if getattr(self, "_writer", None) is not None:
                raise
            raise RedisConnectionError("the connection was closed while the command was being sent") from None

    def pack_command(self, *args: Any) -> list[bytes]:
        """The command in Redis's protocol, packed by hiredis in C.

        redis-py's synchronous connections pack with hiredis when it is installed; its asyncio ones
        always encode and join every argument in Python, which was a fifth of a bus participant's
        CPU (a step's commit script carries some twenty arguments). hiredis encodes text as UTF-8,
        strictly, so it packs only for connections that encode that way; an argument it does not
        take (None, a bool, a bytearray) goes the Python way, which raises redis-py's own error.
        """
        encoder = self.encoder  # type: ignore[attr-defined]
        if encoder.encoding != "utf-8" or encoder.encoding_errors != "strict":
            return super().pack_command(*args)  # type: ignore[misc]
        command = args[0]
        if isinstance(command, str):
            args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            args = (*command.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)  # type: ignore[misc]


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
    pool.connection_class = _counted(pool.connection_class, isinstance(pool, redis.asyncio.ConnectionPool))


def count_cluster_round_trips(cluster: redis.asyncio.RedisCluster) -> None:
    """The same for a cluster client: a command, or one node's share of a pipeline, is one.

    RedisCluster takes no `connection_class` option; every node it meets (those of the URL now,
    those the slot map names later) makes its connections with the class in the client's
    `connection_kwargs`, so the counting subclass goes there and on the nodes already made.
    """
    counted = _counted(cluster.connection_kwargs["connection_class"], asynchronous=True)
    cluster.connection_kwargs["connection_class"] = counted
    for node in cluster.nodes_manager.startup_nodes.values():
        node.connection_class = counted


def _counted(base: type, asynchronous: bool) -> type:
    if base in _counted_classes.values():
        return base
    counted = _counted_classes.get(base)
    if counted is None:
        mixin = _CountedAsyncConnection if asynchronous else _CountedConnection
        counted = _counted_classes[base] = type(f"Counted{base.__name__}", (mixin, base), {})
    return counted


async def check_access(client: redis.asyncio.Redis, settings: RedisSettings) -> None:
    """Fail at start, with one clear line, when Redis refuses our credentials (or, in cluster mode,
    is no cluster); an unreachable Redis is only logged, since the bus reconnects by itself once it
    answers."""
    try:
        await client.ping()
    except (AuthenticationError, AuthorizationError, NoPermissionError) as error:
        raise ConfigError(
            f"Redis at {settings.display_url} refused the credentials in REDIS_URL: {error}"
        ) from None
    except (RedisError, OSError, RedisClusterException) as error:
        # The cluster client wraps what its first node said in RedisClusterException.
        refusal = _cause_of(error, (AuthenticationError, AuthorizationError, NoPermissionError))
        if refusal is not None:
            raise ConfigError(
                f"Redis at {settings.display_url} refused the credentials in REDIS_URL: {refusal}"
            ) from None
        if "Cluster mode is not enabled" in str(error):
            raise ConfigError(
                f"REDIS_MODE is cluster, but Redis at {settings.display_url} is not a cluster node "
                "(set REDIS_MODE=single, or point REDIS_URL at a node started with --cluster-enabled yes)"
            ) from None
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


def _cause_of(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


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


def _check_cluster_url(url: str, scheme: str) -> None:
    """A Redis Cluster speaks TCP and has database 0 only, so the URL may name nothing else."""
    if scheme == "unix":
        raise ConfigError(
            f"REDIS_MODE=cluster needs a redis:// or rediss:// REDIS_URL, got {masked_url(url)}"
        )
    parts = urlsplit(url)
    database = parts.path.strip("/") or dict(parse_qsl(parts.query)).get("db", "0")
    if database not in ("", "0"):
        raise ConfigError(
            f"REDIS_MODE=cluster: a Redis Cluster has database 0 only, REDIS_URL names {database!r} "
            f"({masked_url(url)})"
        )
