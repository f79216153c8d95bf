"""Reading every process of a running system at one moment: CPU from /proc, calls from each /metrics."""

from __future__ import annotations

import os
import time

import httpx
from redis.exceptions import RedisError

from kit.redis_connection import RedisSettings, sync_redis_client
from kit.settings import ConfigError, Env
from tools.call_counts import CallCounts, parse_call_counts
from tools.cost import DRIVER_ROLE, ProcessReading, Reading
from tools.process_cpu import command_name, cpu_seconds_of_command, process_cpu_seconds
from tools.supervised_system import SupervisedSystem


def redis_server_pid(system: SupervisedSystem) -> int | None:
    """Redis's pid from INFO, when that pid is a redis-server on this machine (else its CPU is unseen)."""
    try:
        settings = RedisSettings.from_env(Env(system.env), url=system.redis_url)
        with sync_redis_client(settings, socket_timeout=5) as redis:
            pid = int(redis.info("server")["process_id"])
    except (ConfigError, RedisError, KeyError, ValueError):
        return None
    name = command_name(pid) or ""
    return pid if name.startswith("redis") else None


class CostProbe:
    """Takes readings of a supervised system, Redis and this process (the load driver)."""

    def __init__(self, system: SupervisedSystem, timeout_seconds: float = 5.0) -> None:
        self.system = system
        self.redis_pid = redis_server_pid(system)
        self._http = httpx.Client(timeout=timeout_seconds)

    def close(self) -> None:
        self._http.close()

    def read(self) -> Reading:
        supervisor = self.system.supervisor
        if supervisor is None:
            raise RuntimeError("the system is not running")
        pids = supervisor.pid_by_name()
        readings: dict[str, ProcessReading] = {}
        for process in self.system.topology.processes:
            pid = pids.get(process.name)
            counts = self._counts(process.metrics_port) if pid else {}
            cpu = process_cpu_seconds(pid) if pid else None
            readings[process.name] = ProcessReading(process.name, process.role, pid, cpu, counts)
        if self.redis_pid is not None:
            readings["redis"] = self._plain("redis", "redis", self.redis_pid)
        if self.system.settings.database_url:
            # The database server is the product's too when it runs here (its workers come and go).
            pid, cpu = cpu_seconds_of_command("postgres")
            if pid is not None:
                readings["postgresql"] = ProcessReading("postgresql", "postgresql", pid, cpu)
        if supervisor.own_pid is not None:
            readings["supervisord"] = self._plain("supervisord", "supervisord", supervisor.own_pid)
        readings["load driver"] = self._plain("load driver", DRIVER_ROLE, os.getpid())
        return Reading(time.monotonic(), readings)

    @staticmethod
    def _plain(name: str, role: str, pid: int) -> ProcessReading:
        return ProcessReading(name, role, pid, process_cpu_seconds(pid))

    def _counts(self, port: int | None) -> CallCounts:
        if port is None:
            return {}
        try:
            answer = self._http.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.HTTPError:
            return {}  # down or restarting: its counters start again from zero anyway
        return parse_call_counts(answer.text) if answer.status_code == 200 else {}
