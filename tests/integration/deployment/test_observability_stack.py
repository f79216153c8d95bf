"""The compose profile `observability` checked without a Docker engine: its services and their files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kit.topology import DEFAULT_METRICS_PORTS
from tests.support.observability_queries import (
    STACK,
    dashboards,
    exported_as,
    panels,
    queried_metrics,
    rule_files,
    rules,
)

ROOT = Path(__file__).resolve().parents[3]
PROFILE = "observability"
STACK_SERVICES = {"otel-collector", "jaeger", "prometheus", "grafana"}
# What `docker compose up` starts without the profile, as before the profile existed.
DEFAULT_SERVICES = {"redis", "postgres", *DEFAULT_METRICS_PORTS}
# Metric families are declared in the code as string literals (prometheus_client's first argument).
_DECLARED = re.compile(r'"((?:travel|rpc|http)_[a-z0-9_]+)"')


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


def _mounted(spec: dict[str, Any]) -> dict[str, Path]:
    """Container path -> the file or folder of the repository mounted there."""
    mounts = {}
    for volume in spec.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def test_the_stack_runs_only_under_its_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    profiled = {name for name, spec in services.items() if spec.get("profiles")}
    assert profiled >= STACK_SERVICES
    for name in STACK_SERVICES:
        assert services[name]["profiles"] == [PROFILE], name
    default = {name for name, spec in services.items() if not spec.get("profiles")}
    assert default >= DEFAULT_SERVICES
    for name in default:
        # Nothing the default system runs waits for the stack, which may not be there.
        assert not set(services[name].get("depends_on", {})) & STACK_SERVICES, name


def test_processes_export_spans_only_when_the_endpoint_is_given(compose: dict[str, Any]) -> None:
    for name in DEFAULT_METRICS_PORTS:
        environment = compose["services"][name]["environment"]
        # No value: compose passes the shell's or the env file's, and leaves it unset without them.
        assert (
            "OTEL_EXPORTER_OTLP_ENDPOINT" in environment
            and environment["OTEL_EXPORTER_OTLP_ENDPOINT"] is None
        )
    settings = dict(
        line.split("=", 1)
        for line in (STACK / "observability.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["COMPOSE_PROFILES"] == PROFILE
    assert settings["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"


def test_every_mounted_configuration_exists(compose: dict[str, Any]) -> None:
    for name in STACK_SERVICES:
        for target, source in _mounted(compose["services"][name]).items():
            assert source.exists(), f"{name}: {source} for {target}"


def test_the_collector_receives_otlp_and_sends_traces_to_jaeger(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((STACK / "otel-collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    for kind in ("receivers", "processors", "exporters"):
        for component in traces[kind]:
            assert component in config[kind], f"{kind}: {component}"
    (exporter,) = traces["exporters"]
    assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    assert "--config=/etc/otelcol/config.yaml" in compose["services"]["otel-collector"]["command"]


def test_prometheus_scrapes_every_process_on_its_metrics_port(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((STACK / "prometheus.yml").read_text())
    (travel,) = [job for job in config["scrape_configs"] if job["job_name"] == "travel"]
    (discovery,) = travel["dns_sd_configs"]
    assert set(discovery["names"]) == set(DEFAULT_METRICS_PORTS)
    for name in DEFAULT_METRICS_PORTS:
        environment = compose["services"][name]["environment"]
        assert str(environment["METRICS_PORT"]) == str(discovery["port"]), name
        assert environment["METRICS_HOST"] == "0.0.0.0", name
    mounts = _mounted(compose["services"]["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"] == ROOT / "deploy/observability/prometheus.yml"
    (pattern,) = config["rule_files"]
    folder, _, glob = pattern.rpartition("/")
    assert sorted(p.name for p in mounts[folder].glob(glob)) == sorted(rule_files())


def test_every_alert_rule_is_complete() -> None:
    found = list(rules())
    assert {rule["alert"] for rule in found} >= {
        "TravelDeadLettersRising",
        "TravelStuckSagas",
        "TravelBusLagHigh",
        "TravelGrpcErrorRate",
    }
    for rule in found:
        for key in ("expr", "for", "labels", "annotations"):
            assert rule.get(key), f"{rule['alert']}: no {key}"
        assert rule["labels"].get("severity"), rule["alert"]
        assert rule["annotations"].get("summary"), rule["alert"]


def test_the_dashboard_is_provisioned_and_every_panel_queries(compose: dict[str, Any]) -> None:
    found = dashboards()
    assert "travel.json" in found
    mounts = _mounted(compose["services"]["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "dashboards.yaml").read_text())["providers"]
    assert mounts[provider["options"]["path"]] == STACK / "grafana" / "dashboards"
    sources = yaml.safe_load((provisioning / "datasources" / "datasources.yaml").read_text())["datasources"]
    uids = {source["uid"]: source for source in sources}
    assert uids["prometheus"]["url"] == "http://prometheus:9090"
    for dashboard in found.values():
        titles = [panel["title"] for panel in panels(dashboard)]
        assert len(titles) == len(set(titles)), titles
        for panel in panels(dashboard):
            if panel.get("type") == "row":
                continue
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip(), panel["title"]
                assert target["datasource"]["uid"] in uids, panel["title"]


def test_every_queried_metric_is_declared_in_the_code() -> None:
    sources = [ROOT / folder for folder in ("kit", "bus", "services", "gateway", "simulated_world")]
    declared = {
        name
        for folder in sources
        for path in folder.rglob("*.py")
        for name in _DECLARED.findall(path.read_text())
    }
    queried = queried_metrics()
    assert queried, "the dashboard and the rules query nothing"
    missing = {name: readers for name, readers in queried.items() if not exported_as(name, declared)}
    assert not missing, missing
