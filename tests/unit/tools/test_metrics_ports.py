"""Metrics ports: every Procfile line names its own, and the harness moves them as it moves service ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.supervision import read_procfile
from tools.topology import (
    default_metrics_port,
    default_port,
    metrics_setting,
    plan_topology,
    with_metrics_ports,
)

PROCFILE = read_procfile(Path(__file__).resolve().parents[3] / "Procfile")


def test_every_process_has_a_metrics_port_of_its_own_in_the_procfile() -> None:
    settings = {name: metrics_setting(command) for name, command in PROCFILE.items()}
    assert len({variable for variable, _ in settings.values()}) == len(PROCFILE)
    assert len({port for _, port in settings.values()}) == len(PROCFILE)


def test_replicas_on_default_ports_shift_their_metrics_port_like_their_service_port() -> None:
    topology = with_metrics_ports(plan_topology(PROCFILE, 2, default_port), default_metrics_port)
    ports = [process.metrics_port for process in topology.processes]
    assert len(set(ports)) == len(ports)
    first, second = topology.named("hotel-1"), topology.named("hotel-2")
    assert second.metrics_port == (first.metrics_port or 0) + 100
    assert second.environment["HOTEL_METRICS_PORT"] == str(second.metrics_port)


def test_free_ports_reach_each_process_through_its_procfile_variable() -> None:
    chosen = iter(range(40000, 40100))
    topology = with_metrics_ports(plan_topology(PROCFILE, 1, default_port), lambda _process: next(chosen))
    expiry = topology.named("expiry")
    variable, _ = metrics_setting(expiry.command)
    assert expiry.environment[variable] == str(expiry.metrics_port)


def test_a_procfile_line_without_a_metrics_port_is_refused() -> None:
    with pytest.raises(ValueError):
        metrics_setting("python -m services.hotel")
