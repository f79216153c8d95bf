"""Start the whole system with the launcher on free ports, and talk to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kit.settings import Env
from kit.webhook_secret import webhook_secret

# Also taken from here by the e2e modules, beside the system they poll.
from tests.support.polling import wait_for as wait_for
from tests.support.ports import free_port
from tools.supervision import read_procfile
from tools.topology import metrics_setting

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("customers", "sessions", "hotel", "flights", "payments", "gateway")
PROVIDERS = ("hotel", "flight", "payment")


@dataclass
class RunningSystem:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    ports: dict[str, int]
    log_path: Path
    data_dir: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.gateway_url, timeout=30)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def provider_url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'provider-{kind}']}"

    def grpc_address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def metrics_url(self, process: str) -> str:
        """Where a process of the Procfile serves /metrics."""
        return f"http://127.0.0.1:{self.ports[f'{process}:metrics']}/metrics"

    @property
    def webhook_secret(self) -> str:
        """The secret the gateway checks webhooks with, found exactly as the processes find it."""
        return webhook_secret(Env(self.env))

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def system_env(
    base: dict[str, str], data_dir: Path, redis_url: str, extra: dict[str, str]
) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: free_port() for name in SERVICES}
    ports |= {f"provider-{kind}": free_port() for kind in PROVIDERS}
    env = dict(base)
    env.update(
        {
            "TRAVEL_DATA_DIR": str(data_dir),
            "REDIS_URL": redis_url,
            "TRAVEL_NAMESPACE": f"e2e{uuid.uuid4().hex[:10]}",
            "GATEWAY_PORT": str(ports["gateway"]),
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "8192",
            # Every test client comes from 127.0.0.1: address limits sized for the suite, not a person.
            "LOGIN_LIMIT_PER_ADDRESS": "100000",
            "REGISTER_LIMIT_PER_ADDRESS": "100000",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    for service in SERVICES[:-1]:
        env[f"{service.upper()}_PORT"] = str(ports[service])
        env[f"{service.upper()}_GRPC_ADDR"] = f"127.0.0.1:{ports[service]}"
    for kind in PROVIDERS:
        env[f"{kind.upper()}_PROVIDER_PORT"] = str(ports[f"provider-{kind}"])
    # Each Procfile line reads its metrics port from a variable of its own; a free one each here.
    for name, command in read_procfile(ROOT / "Procfile").items():
        variable, _ = metrics_setting(command)
        ports[f"{name}:metrics"] = free_port()
        env[variable] = str(ports[f"{name}:metrics"])
    env.update(extra)
    return env, ports


@contextmanager
def running_system(
    tmp_path: Path, redis_url: str, extra_env: dict[str, str] | None = None, only: list[str] | None = None
) -> Iterator[RunningSystem]:
    data_dir = tmp_path / "data"
    env, ports = system_env(dict(os.environ), data_dir, redis_url, extra_env or {})
    log_path = tmp_path / "system.log"
    command = [sys.executable, "-m", "launcher", "--no-chaos"]
    if only:
        command += ["--only", *only]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    system = RunningSystem(process, env, ports, log_path, data_dir)
    try:
        wait_for(lambda: _healthy(system), 90, "the gateway to report every backend SERVING")
        yield system
    except AssertionError:
        print(system.log_tail(200))
        raise
    finally:
        system.http.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy(system: RunningSystem) -> bool:
    if system.process.poll() is not None:
        raise AssertionError(f"the launcher exited early:\n{system.log_tail()}")
    answer = system.http.get("/healthz")
    if answer.status_code != 200:
        raise RuntimeError(f"/healthz answered {answer.status_code}: {answer.text[:500]}")
    return True
