"""The operator console's package is served by the sessions process unless told otherwise."""

from __future__ import annotations

from gateway.config import GatewayConfig
from kit.settings import Env


def test_operations_follow_the_sessions_address() -> None:
    config = GatewayConfig.from_env(Env({"SESSIONS_GRPC_ADDR": "s1:1,s2:2"}), services=["operations"])
    assert config.addresses_for("operations") == ("s1:1", "s2:2")
    assert GatewayConfig.from_env(Env({}), services=["operations"]).addresses_for("operations") == (
        "127.0.0.1:50052",
    )


def test_their_own_variable_wins() -> None:
    env = Env({"SESSIONS_GRPC_ADDR": "s1:1", "OPERATIONS_GRPC_ADDR": "ops:9"})
    assert GatewayConfig.from_env(env, services=["operations"]).addresses_for("operations") == ("ops:9",)
