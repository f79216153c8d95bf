"""docker-compose.yml checked without a Docker engine: against the Procfile, `make secrets` and the code."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import GatewayConfig
from kit.db import database_url, schema_name
from kit.health_probe import main as probe_main
from kit.migrations import migrated_services
from kit.service_identity import service_credentials
from kit.settings import ConfigError, Env
from kit.topology import GATEWAY_PORT, GRPC_DEFAULT_PORTS
from kit.webhook_secret import webhook_secret
from services.customers.config import CustomersConfig
from services.expiry.config import ExpiryConfig
from services.participant.config import ParticipantConfig
from services.payments.config import PaymentsConfig
from services.sessions.config import SessionsConfig
from simulated_world.providers.config import ProviderConfig

ROOT = Path(__file__).resolve().parents[3]
IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$")
INFRASTRUCTURE = {"redis", "postgres"}
# Runs to completion before the services, rather than serving: no Procfile line, no healthcheck.
ONE_SHOT = {"migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def procfile() -> dict[str, list[str]]:
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip():
            # Environment assignments in front of the command are the Procfile's local port choices.
            words = [w for w in shlex.split(command) if not re.match(r"^[A-Z_]+=", w)]
            commands[name.strip()] = words
    return commands


@pytest.fixture(scope="module")
def secrets_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make secrets` writes, made by the same command into a fresh folder."""
    folder = tmp_path_factory.mktemp("compose") / "secrets"
    subprocess.run(
        [sys.executable, "-m", "kit.secrets", str(folder)], cwd=ROOT, check=True, capture_output=True
    )
    return folder


def _default_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What `docker compose up` starts: every service outside a profile (the observability stack's)."""
    return {name: spec for name, spec in compose["services"].items() if not spec.get("profiles")}


def _application_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    skipped = INFRASTRUCTURE | ONE_SHOT
    return {name: spec for name, spec in _default_services(compose).items() if name not in skipped}


def test_every_process_of_the_procfile_runs_the_same_command(
    compose: dict[str, Any], procfile: dict[str, list[str]]
) -> None:
    services = _application_services(compose)
    assert set(services) == set(procfile)
    for name, words in procfile.items():
        assert services[name]["command"] == words, name


def test_images_and_healthchecks_are_well_formed(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        assert IMAGE_NAME.match(spec["image"]), f"{name}: image {spec['image']!r}"
        if name in ONE_SHOT:
            assert "healthcheck" not in spec and spec["restart"] == "no", name
            continue
        if spec.get("profiles"):
            continue
        test = spec["healthcheck"]["test"]
        assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1, name
        if name in INFRASTRUCTURE:
            continue
        assert test[1:4] == ["python", "-m", "kit.health_probe"], name
        assert importlib.util.find_spec("kit.health_probe") is not None
        kind = test[4]
        assert kind in {"grpc", "http", "redis"}, name


def test_healthchecks_name_the_port_each_process_listens_on(compose: dict[str, Any]) -> None:
    for name, spec in _application_services(compose).items():
        test = spec["healthcheck"]["test"]
        environment = spec.get("environment", {})
        if test[4] == "grpc":
            port = GRPC_DEFAULT_PORTS[name]
            assert test[5] == f"localhost:{port}", name
            assert environment.get(f"{name.upper()}_GRPC_ADDR", f"{name}:{port}").endswith(f":{port}")
        elif test[4] == "http":
            port = environment.get("PROVIDER_PORT", str(GATEWAY_PORT.default_value))
            assert test[5] == f"http://127.0.0.1:{port}/healthz", name


def _one_shots(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in compose["services"].items() if name in ONE_SHOT}


def test_migrate_upgrades_every_service_database_before_the_services_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]
    assert migrate["command"][:3] == ["python", "-m", "kit.migrations"]
    assert sorted(migrate["command"][3:]) == migrated_services() == ["customers", "payments", "sessions"]
    assert migrate["image"] == services["customers"]["image"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    completed = {"condition": "service_completed_successfully"}
    for name in migrated_services():
        assert services[name]["depends_on"]["migrate"] == completed, name
        # The same database and schema names as the service itself reads.
        for setting in ("DATABASE_URL", "DB_SCHEMA_PREFIX"):
            assert migrate["environment"].get(setting) == services[name]["environment"].get(setting), name


def test_the_migrate_command_makes_every_service_database(compose: dict[str, Any], tmp_path: Path) -> None:
    """Run as compose runs it, on the SQLite files of a data folder (no DATABASE_URL here)."""
    environment = {key: str(value) for key, value in compose["services"]["migrate"]["environment"].items()}
    environment.pop("DATABASE_URL")
    environment["TRAVEL_DATA_DIR"] = str(tmp_path)
    environment["PATH"] = os.environ.get("PATH", "")
    done = subprocess.run(
        [sys.executable, *compose["services"]["migrate"]["command"][1:]],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in migrated_services():
        assert f"migrations: {name} database at revision " in done.stdout
        assert (tmp_path / f"{name}.sqlite3").is_file(), name
    again = subprocess.run(
        [sys.executable, *compose["services"]["migrate"]["command"][1:]],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and again.stdout == done.stdout, again.stderr


def test_a_healthcheck_fails_when_nothing_answers() -> None:
    assert probe_main(["http", "http://127.0.0.1:9/healthz", "--timeout", "1"]) == 1
    assert probe_main(["grpc", "127.0.0.1:9", "--timeout", "1"]) == 1


def test_the_gateway_waits_for_healthy_backends(compose: dict[str, Any]) -> None:
    waits = compose["services"]["gateway"]["depends_on"]
    for backend in ("customers", "sessions", "hotel", "flights", "payments", "redis", "postgres"):
        assert waits[backend] == {"condition": "service_healthy"}, backend


def test_every_mounted_file_is_made_by_make_secrets(compose: dict[str, Any], secrets_folder: Path) -> None:
    for name, secret in compose["secrets"].items():
        relative = Path(secret["file"]).relative_to("secrets")
        assert (secrets_folder / relative).is_file(), f"secret {name}: {secret['file']}"
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./secrets"):
                assert (secrets_folder / Path(source).relative_to("secrets")).exists(), f"{name}: {source}"
        for entry in spec.get("secrets", []):
            source = entry["source"] if isinstance(entry, dict) else entry
            assert source in compose["secrets"], f"{name} mounts an undeclared secret {source}"


def _settings_loaders() -> dict[str, Callable[[Env], object]]:
    """What each process reads at start, as its entry point reads it (`python -m ...`)."""
    return {
        "migrate": lambda env: [(database_url(env, s), schema_name(env, s)) for s in migrated_services()],
        "customers": CustomersConfig.from_env,
        "sessions": SessionsConfig.from_env,
        "hotel": lambda env: ParticipantConfig.from_env(env, "hotel", "hotel"),
        "flights": lambda env: ParticipantConfig.from_env(env, "flights", "flight"),
        "payments": PaymentsConfig.from_env,
        "expiry": ExpiryConfig.from_env,
        "gateway": lambda env: (
            GatewayConfig.from_env(env),
            service_credentials(env, "gateway"),
            webhook_secret(env),
        ),
        "provider-hotel": ProviderConfig.from_env,
        "provider-flight": ProviderConfig.from_env,
        "provider-payment": ProviderConfig.from_env,
    }


def _container_environment(
    spec: dict[str, Any], files: dict[str, str], secrets_folder: Path, data_dir: Path
) -> dict[str, str]:
    """The container's environment, with the paths it mounts pointing at the files `make secrets` wrote."""
    mounts: dict[str, str] = {}
    for entry in spec.get("secrets", []):
        source, target = (entry["source"], entry["target"]) if isinstance(entry, dict) else (entry, entry)
        mounts[f"/run/secrets/{target}"] = source
    # A key without a value passes the variable through from the shell: unset there, unset here.
    environment = {key: str(value) for key, value in spec.get("environment", {}).items() if value is not None}
    for key, value in list(environment.items()):
        if value in mounts:
            environment[key] = str(secrets_folder / Path(files[mounts[value]]).relative_to("secrets"))
        elif value.startswith("/run/secrets/"):
            environment[key] = str(secrets_folder / "not-mounted" / Path(value).name)
    for volume in spec.get("volumes", []):
        source, target = volume.split(":")[:2]
        for key, value in environment.items():
            if value == target and source.startswith("./secrets"):
                environment[key] = str(secrets_folder / Path(source).relative_to("secrets"))
    environment["TRAVEL_DATA_DIR"] = str(data_dir)
    return environment


def test_every_required_setting_is_set_in_production(
    compose: dict[str, Any], secrets_folder: Path, tmp_path: Path
) -> None:
    files = {name: secret["file"] for name, secret in compose["secrets"].items()}
    loaders = _settings_loaders()
    for name, spec in (_application_services(compose) | _one_shots(compose)).items():
        environment = _container_environment(spec, files, secrets_folder, tmp_path / name)
        assert environment["TRAVEL_ENV"] == "production", name
        try:
            loaders[name](Env(environment))
        except ConfigError as error:
            pytest.fail(f"{name} would not start: {error}")
    # Nothing was generated on the way: production reads what it was given, or stops.
    assert not any((tmp_path / name / "secrets").exists() for name in loaders)
