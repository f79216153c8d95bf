"""What a process says about itself on its spans, and how OTEL_* settings override it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kit.release import VERSION
from kit.tracing import process_resource

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)


def test_a_process_names_itself_its_instance_version_and_deployment() -> None:
    attributes = process_resource("hotel", "production", instance="i-1").attributes
    assert attributes["service.name"] == "hotel"
    assert attributes["service.instance.id"] == "i-1"
    assert attributes["service.version"] == VERSION
    assert attributes["deployment.environment"] == "production"
    assert attributes["deployment.environment.name"] == "production"


def test_two_replicas_of_one_service_are_told_apart() -> None:
    first = process_resource("hotel", "development").attributes["service.instance.id"]
    second = process_resource("hotel", "development").attributes["service.instance.id"]
    assert first != second


def test_the_standard_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "hotel-eu")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7,deployment.environment=staging")
    attributes = process_resource("hotel", "production").attributes
    assert attributes["service.name"] == "hotel-eu"
    assert attributes["service.instance.id"] == "pod-7"
    assert attributes["deployment.environment"] == "staging"


def test_the_version_is_the_projects() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == VERSION
