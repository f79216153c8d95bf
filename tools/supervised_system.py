"""The whole system under supervisord, with its own data folder, Redis namespace and PostgreSQL schemas."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from kit.grpc_io import with_grpc_io
from kit.migrations import migrate
from kit.settings import Env
from kit.shared_settings import REDIS_URL
from launcher.embedded_redis import EmbeddedRedis, start_embedded_redis
from tools.free_ports import free_port
from tools.supervision import Supervisor, read_procfile, supervisord_config
from tools.topology import (
    PROVIDER_KINDS,
    Topology,
    default_metrics_port,
    default_port,
    plan_topology,
    with_metrics_ports,
)

ROOT = Path(__file__).resolve().parent.parent
LOCAL_REDIS = ("127.0.0.1", 6379)


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class SystemSettings:
    replicas: int = 1
    redis_url: str | None = None
    database_url: str | None = None
    default_ports: bool = False
    data_dir: Path | None = None
    keep_data: bool = False
    # A Redis of the run's own even when one answers on 6379: nobody else's commands in its CPU.
    own_redis: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 120.0


class SupervisedSystem:
    """Start with `with`; every process is a supervisord program that can be SIGKILLed and restarted."""

    def __init__(self, settings: SystemSettings, log: Callable[[str], None] = print) -> None:
        if settings.replicas > 1 and not settings.database_url:
            raise ValueError("replicas share their databases: they need DATABASE_URL (PostgreSQL)")
        self.settings = settings
        self._log = log
        self.run_id = uuid.uuid4().hex[:10]
        self.namespace = f"load{self.run_id}"
        self.schema_prefix = f"load_{self.run_id}_" if settings.database_url else None
        self._own_data_dir = settings.data_dir is None
        self.data_dir = settings.data_dir or Path(tempfile.mkdtemp(prefix="travel-load-"))
        # A unix socket path must stay short (about 100 bytes), whatever the data folder is.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="tsv-"))
        self._embedded_redis: EmbeddedRedis | None = None
        port_for = default_port if settings.default_ports else (lambda _role, _replica: free_port())
        planned = plan_topology(read_procfile(ROOT / "Procfile"), settings.replicas, port_for)
        metrics_port_for = default_metrics_port if settings.default_ports else (lambda _process: free_port())
        self.topology: Topology = with_metrics_ports(planned, metrics_port_for)
        self.redis_url = ""
        self.env: dict[str, str] = {}
        self.supervisor: Supervisor | None = None
        # When every process first answered (monotonic seconds): where "at rest" is counted from.
        self.ready_at: float | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> SupervisedSystem:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.redis_url = self._redis()
        self.env = self._environment()
        # Before any process starts, as `make run` and compose's `migrate` do.
        migrate(Env(self.env))
        socket_path = self._socket_dir / "supervisor.sock"
        config = self.data_dir / "supervisord.conf"
        config.write_text(supervisord_config(self.topology, ROOT, self.log_dir, socket_path))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(config, socket_path, self.env)
        self.supervisor.start()
        self._log(
            f"system: {len(self.topology.processes)} processes under supervisord, gateway "
            f"{self.topology.gateway_url}, namespace {self.namespace}, data {self.data_dir}"
            + (f", schemas {self.schema_prefix}*" if self.schema_prefix else "")
        )
        self.wait_ready(self.settings.startup_timeout)
        self.ready_at = time.monotonic()

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.shutdown()
            self.supervisor = None
        if self.settings.keep_data:
            # Kept for a post-mortem: the provider records and the streams of the run stay readable.
            self._log(f"system: kept namespace {self.namespace} and schemas {self.schema_prefix}*")
        else:
            self._drop_schemas()
            self._forget_namespace()
        if self._embedded_redis is not None:
            self._embedded_redis.stop()
            self._embedded_redis = None
        shutil.rmtree(self._socket_dir, ignore_errors=True)
        if self._own_data_dir and not self.settings.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def _redis(self) -> str:
        configured = self.settings.redis_url or REDIS_URL.optional(Env())
        if configured and not self.settings.own_redis:
            return configured
        if answers(*LOCAL_REDIS) and not self.settings.own_redis:
            return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"
        self._embedded_redis = start_embedded_redis(self.data_dir, free_port())
        return self._embedded_redis.url

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.env)
        env.update(self.topology.shared_env)
        with_grpc_io(env)
        # Children find this interpreter's packages first, whatever PATH the caller had.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "TRAVEL_DATA_DIR": str(self.data_dir),
                "REDIS_URL": self.redis_url,
                "TRAVEL_NAMESPACE": self.namespace,
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in ("DATABASE_URL", "DB_SCHEMA_PREFIX"):
            env.pop(name, None)
        if self.settings.database_url and self.schema_prefix:
            env["DATABASE_URL"] = self.settings.database_url
            env["DB_SCHEMA_PREFIX"] = self.schema_prefix
        return env

    # -- health ----------------------------------------------------------------------------------

    def ready(self) -> bool:
        if self.supervisor is None or not self.supervisor.alive:
            raise RuntimeError(f"supervisord is not running; see {self.log_dir}")
        try:
            states = self.supervisor.states()
        except OSError:  # supervisord has not opened its socket yet
            return False
        if any(state != "RUNNING" for state in states.values()):
            return False
        urls = [f"{self.topology.gateway_url}/healthz"]
        urls += [f"{self.topology.provider_url(kind)}/healthz" for kind in PROVIDER_KINDS]
        try:
            return all(httpx.get(url, timeout=2).status_code == 200 for url in urls)
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                states = self.supervisor.states() if self.supervisor else {}
                raise RuntimeError(f"the system was not ready within {timeout:.0f}s: {states}")
            time.sleep(0.2)

    def wait_running(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self._supervisor().states().get(name) != "RUNNING":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not come back within {timeout:.0f}s")
            time.sleep(0.1)

    def _supervisor(self) -> Supervisor:
        if self.supervisor is None:
            raise RuntimeError("the system is not running")
        return self.supervisor

    # -- faults ----------------------------------------------------------------------------------

    def kill(self, name: str, pause_seconds: float) -> None:
        """SIGKILL one process; it comes back after the pause (or at once, by autorestart, with no pause)."""
        supervisor = self._supervisor()
        if pause_seconds <= 0:
            supervisor.kill(name)
            return
        supervisor.kill_and_hold(name)
        time.sleep(pause_seconds)
        supervisor.resume(name)

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- clean-up --------------------------------------------------------------------------------

    def _drop_schemas(self) -> None:
        if not (self.settings.database_url and self.schema_prefix):
            return
        import psycopg

        try:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, %s)",
                    (self.schema_prefix,),
                ).fetchall()
                for (schema,) in rows:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        except psycopg.Error as error:
            self._log(f"system: could not drop the schemas {self.schema_prefix}*: {error}")

    def _forget_namespace(self) -> None:
        if not self.redis_url:
            return
        from redis.exceptions import RedisError

        from kit.redis_connection import RedisSettings, sync_redis_client
        from kit.settings import ConfigError

        try:
            settings = RedisSettings.from_env(Env(self.env), url=self.redis_url)
        except ConfigError as error:
            self._log(f"system: could not delete the namespace {self.namespace}: {error}")
            return
        try:
            with sync_redis_client(settings, socket_timeout=5) as redis:
                keys = list(redis.scan_iter(match=f"{self.namespace}:*", count=1000))
                for start in range(0, len(keys), 500):
                    redis.delete(*keys[start : start + 500])
        except RedisError as error:
            self._log(f"system: could not delete the namespace {self.namespace}: {error}")
