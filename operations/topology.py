"""Which processes run, on which ports, with which settings: the Procfile expanded with replicas. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Saga participants and the expiry worker scale out; the edge, the customers and the providers stay single.
REPLICATED = frozenset({"sessions", "hotel", "flights", "payments", "expiry"})
GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")
PROVIDER_KINDS = ("hotel", "flight", "payment")
# What the process killer may aim at.
KILLABLE = frozenset({"sessions", "expiry", "hotel", "flights", "payments", "gateway"})

DEFAULT_PORTS: Mapping[str, int] = {
    "customers": 50051,
    "sessions": 50052,
    "hotel": 50053,
    "flights": 50054,
    "payments": 50055,
    "gateway": 8080,
    "provider-hotel": 8081,
    "provider-flight": 8082,
    "provider-payment": 8083,
}
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
        return f"http://127.0.0.1:{self.port('gateway')}"

    def provider_url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port(f'provider-{kind}')}"

    @property
    def killable(self) -> list[str]:
        return [p.name for p in self.processes if p.role in KILLABLE]


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
                environment[f"{role.upper()}_PORT"] = str(port)
            processes.append(Process(name, role, command, environment, port))
    shared: dict[str, str] = {}
    for service in GRPC_SERVICES:
        ports = [p.port for p in processes if p.role == service and p.port is not None]
        if ports:
            shared[f"{service.upper()}_GRPC_ADDR"] = ",".join(f"127.0.0.1:{port}" for port in ports)
            shared[f"{service.upper()}_PORT"] = str(ports[0])
    for kind in PROVIDER_KINDS:
        for process in processes:
            if process.role == f"provider-{kind}" and process.port is not None:
                shared[f"{kind.upper()}_PROVIDER_PORT"] = str(process.port)
    gateway = [p for p in processes if p.role == "gateway" and p.port is not None]
    if gateway:
        shared["GATEWAY_PORT"] = str(gateway[0].port)
    return Topology(tuple(processes), shared)
