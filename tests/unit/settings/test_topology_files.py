"""The Procfile and docker-compose.yml agree with the topology module on every port."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kit.topology import (
    DEFAULT_METRICS_PORTS,
    DEFAULT_PORTS,
    GATEWAY_PORT,
    GRPC_ADDRESS,
    GRPC_DEFAULT_PORTS,
    METRICS_PORT_OF,
    PROVIDER_DEFAULT_PORTS,
    PROVIDER_PORT_OF,
    PROVIDER_URL_OF,
)
from tools.supervision import read_procfile
from tools.topology import metrics_setting

ROOT = Path(__file__).resolve().parents[3]
PROCFILE = read_procfile(ROOT / "Procfile")
PROVIDER_PORT_SETTING = re.compile(r"PROVIDER_PORT=\$\{(\w+):-(\d+)\}")


def _compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def test_the_procfile_runs_every_process_of_the_topology() -> None:
    assert set(PROCFILE) == set(DEFAULT_PORTS) | {"expiry"} == set(DEFAULT_METRICS_PORTS)


def test_the_procfile_metrics_ports_are_the_topology_defaults() -> None:
    for name, command in PROCFILE.items():
        assert metrics_setting(command) == (METRICS_PORT_OF[name].name, DEFAULT_METRICS_PORTS[name]), name


def test_the_procfile_provider_ports_are_the_topology_defaults() -> None:
    for kind, port in PROVIDER_DEFAULT_PORTS.items():
        found = PROVIDER_PORT_SETTING.search(PROCFILE[f"provider-{kind}"])
        assert found is not None, kind
        assert (found.group(1), int(found.group(2))) == (PROVIDER_PORT_OF[kind].name, port)


def test_compose_addresses_and_healthchecks_use_the_default_ports() -> None:
    compose = _compose()
    shared = compose["x-service"]["environment"]
    for service, port in GRPC_DEFAULT_PORTS.items():
        assert shared[GRPC_ADDRESS[service].name] == f"{service}:{port}"
        assert compose["services"][service]["healthcheck"]["test"][-1] == f"localhost:{port}"
    for kind, port in PROVIDER_DEFAULT_PORTS.items():
        name = f"provider-{kind}"
        assert shared[PROVIDER_URL_OF[kind].name] == f"http://{name}:{port}"
        spec = compose["services"][name]
        assert spec["environment"]["PROVIDER_PORT"] == str(port)
        assert spec["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/healthz"
    gateway = GATEWAY_PORT.default_value
    assert shared["PAYMENT_WEBHOOK_URL"] == f"http://gateway:{gateway}/v1/webhooks/payments"
    assert compose["services"]["gateway"]["ports"] == [f"{gateway}:{gateway}"]
    assert compose["services"]["gateway"]["healthcheck"]["test"][-1] == f"http://127.0.0.1:{gateway}/healthz"
