"""Which processes run, on which ports, with which settings: the Procfile expanded with replicas. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from kit.topology import (
    DEFAULT_METRICS_PORTS,
    DEFAULT_PORTS,
    GATEWAY_PORT,
    GRPC_ADDRESS,
    GRPC_PORT,
    GRPC_SERVICES,
    LOOPBACK,
    PROVIDER_KINDS,
    PROVIDER_PORT_OF,
)

# Saga participants and the expiry worker scale out; the edge, the customers and the providers stay single.
REPLICATED = frozenset({"sessions", "hotel", "flights", "payments", "expiry"})
# What the process killer may aim at.
KILLABLE = frozenset({"sessions", "expiry", "hotel", "flights", "payments", "gateway"})

# Replica n of a default-port service listens on its port + (n - 1) * REPLICA_PORT_STEP.
REPLICA_PORT_STEP = 100


@dataclass(frozen=True)
class Process:
    """One supervised process: a Procfile entry, possibly one of several replicas."""

    name: str
    role: str
    command: str
    environment: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    metrics_port: int | None = None


@dataclass(frozen=True)
class Topology:
    processes: tuple[Process, ...]
    shared_env: Mapping[str, str]

    def named(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def of_role(self, role: str) -> list[Process]:
        return [p for p in self.processes if p.role == role]

    def port(self, name: str) -> int:
        port = self.named(name).port
        if port is None:
            raise KeyError(f"{name} listens on no port")
        return port

    @property
    def gateway_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port('gateway')}"

    def provider_url(self, kind: str) -> str:
        return f"http://{LOOPBACK}:{self.port(f'provider-{kind}')}"

    @property
    def killable(self) -> list[str]:
        return [p.name for p in self.processes if p.role in KILLABLE]


# A Procfile line names its metrics port as `METRICS_PORT=${<ROLE>_METRICS_PORT:-<default>}`.
_METRICS_SETTING = re.compile(r"METRICS_PORT=\$\{(\w+):-(\d+)\}")


def metrics_setting(command: str) -> tuple[str, int]:
    """The variable a Procfile line takes its metrics port from, and the line's default port."""
    found = _METRICS_SETTING.search(command)
    if found is None:
        raise ValueError(f"the Procfile line {command!r} sets no METRICS_PORT=${{VARIABLE:-port}}")
    return found.group(1), int(found.group(2))


def default_metrics_port(process: Process) -> int:
    """The role's default metrics port (the Procfile's too); replica n's is shifted as its service port is."""
    port = DEFAULT_METRICS_PORTS[process.role]
    return port + (int(process.environment.get("REPLICA", "1")) - 1) * REPLICA_PORT_STEP


def with_metrics_ports(topology: Topology, port_for: Callable[[Process], int]) -> Topology:
    """Every process serves /metrics on port_for(process), set through its Procfile line's variable."""
    processes = []
    for process in topology.processes:
        variable, _ = metrics_setting(process.command)
        port = port_for(process)
        environment = {**process.environment, variable: str(port)}
        processes.append(replace(process, environment=environment, metrics_port=port))
    return Topology(tuple(processes), topology.shared_env)


def default_port(role: str, replica: int) -> int:
    return DEFAULT_PORTS[role] + (replica - 1) * REPLICA_PORT_STEP


def _listens(role: str) -> bool:
    return role in DEFAULT_PORTS


def plan_topology(
    procfile: Mapping[str, str], replicas: int, port_for: Callable[[str, int], int]
) -> Topology:
    """Expand the Procfile: `replicas` copies of each replicated role, each with its own port and REPLICA."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    processes: list[Process] = []
    for role, command in procfile.items():
        count = replicas if role in REPLICATED else 1
        for replica in range(1, count + 1):
            name = role if count == 1 else f"{role}-{replica}"
            port = port_for(role, replica) if _listens(role) else None
            environment = {"REPLICA": str(replica)}
            if role in GRPC_SERVICES and port is not None:
                environment[GRPC_PORT[role].name] = str(port)
            processes.append(Process(name, role, command, environment, port))
    shared: dict[str, str] = {}
    for service in GRPC_SERVICES:
        ports = [p.port for p in processes if p.role == service and p.port is not None]
        if ports:
            shared[GRPC_ADDRESS[service].name] = ",".join(f"{LOOPBACK}:{port}" for port in ports)
            shared[GRPC_PORT[service].name] = str(ports[0])
    for kind in PROVIDER_KINDS:
        for process in processes:
            if process.role == f"provider-{kind}" and process.port is not None:
                shared[PROVIDER_PORT_OF[kind].name] = str(process.port)
    gateway = [p for p in processes if p.role == "gateway" and p.port is not None]
    if gateway:
        shared[GATEWAY_PORT.name] = str(gateway[0].port)
    return Topology(tuple(processes), shared)
