"""Addresses from the topology module: loopback on the declared ports, moved by port or address settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import GatewayConfig
from kit.settings import ConfigError, Env
from kit.topology import (
    GRPC_DEFAULT_PORTS,
    grpc_address,
    grpc_port,
    grpc_target,
    provider_url,
)
from simulated_world.providers.config import ProviderConfig


def test_defaults_are_loopback_on_the_declared_ports() -> None:
    env = Env({})
    for service, port in GRPC_DEFAULT_PORTS.items():
        assert grpc_address(env, service) == f"127.0.0.1:{port}"
    assert provider_url(env, "payment") == "http://127.0.0.1:8083"


def test_a_port_setting_moves_the_server_and_the_address_its_callers_use() -> None:
    env = Env({"SESSIONS_PORT": "6000", "HOTEL_PROVIDER_PORT": "7000"})
    assert grpc_port(env, "sessions") == 6000
    assert grpc_address(env, "sessions") == "127.0.0.1:6000"
    assert provider_url(env, "hotel") == "http://127.0.0.1:7000"
    assert GatewayConfig.from_env(env).addresses_for("sessions") == ("127.0.0.1:6000",)
    # The operator API is served by the sessions process, so it follows it.
    gateway = GatewayConfig.from_env(env, services=("operations",))
    assert gateway.addresses_for("operations") == ("127.0.0.1:6000",)


def test_an_address_setting_wins_over_the_port() -> None:
    env = Env({"SESSIONS_PORT": "6000", "SESSIONS_GRPC_ADDR": "a:1,b:2", "HOTEL_PROVIDER_URL": "http://h/"})
    assert grpc_address(env, "sessions") == "a:1,b:2"
    assert grpc_target("a:1, b:2") == "ipv4:a:1,b:2" and grpc_target("a:1") == "a:1"
    assert provider_url(env, "hotel") == "http://h"


def test_a_provider_listens_where_its_clients_look_for_it(tmp_path: Path) -> None:
    env = {"TRAVEL_DATA_DIR": str(tmp_path), "PROVIDER_KIND": "flight"}
    assert ProviderConfig.from_env(Env(env)).port == 8082
    assert ProviderConfig.from_env(Env({**env, "FLIGHT_PROVIDER_PORT": "7100"})).port == 7100
    assert ProviderConfig.from_env(Env({**env, "PROVIDER_PORT": "7200"})).port == 7200


def test_a_port_out_of_range_fails_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="PAYMENTS_PORT must be <= 65535"):
        grpc_port(Env({"PAYMENTS_PORT": "70000"}), "payments")
