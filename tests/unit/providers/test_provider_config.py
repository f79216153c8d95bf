"""Provider settings: defaults per kind, and invalid values fail fast naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.settings import ConfigError, Env
from kit.webhook_secret import dev_webhook_secret
from simulated_world.providers.config import ProviderConfig


def _config(tmp_path: Path, **env: str) -> ProviderConfig:
    return ProviderConfig.from_env(Env({"TRAVEL_DATA_DIR": str(tmp_path), **env}))


@pytest.mark.parametrize(("kind", "port"), [("hotel", 8081), ("flight", 8082), ("payment", 8083)])
def test_each_kind_has_its_port_and_database(tmp_path: Path, kind: str, port: int) -> None:
    config = _config(tmp_path, PROVIDER_KIND=kind)
    assert config.port == port
    assert config.database_url.endswith(f"provider_{kind}.sqlite3")
    assert config.hold_window_seconds == 900
    assert config.chaos.failure_rate == 0 and config.auto_complete_ms is None
    # Only the payment provider signs webhooks: with its data folder's random secret.
    assert config.webhook_secret == (dev_webhook_secret(tmp_path) if kind == "payment" else "")


def test_environment_overrides(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        PROVIDER_KIND="payment",
        PROVIDER_PORT="9999",
        PROVIDER_FAILURE_RATE="0.1",
        PROVIDER_CHAOS_SEED="5",
        PAYMENT_AUTO_COMPLETE_MS="200",
        PAYMENT_WEBHOOK_DUPLICATE_RATE="0.2",
        DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test",
        DB_SCHEMA_PREFIX="x_",
    )
    assert config.port == 9999 and config.chaos.seed == 5 and config.auto_complete_ms == 200
    assert config.chaos.webhook_duplicate_rate == 0.2
    assert config.schema == "x_provider_payment"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "PROVIDER_KIND"),
        ({"PROVIDER_KIND": "train"}, "PROVIDER_KIND"),
        ({"PROVIDER_KIND": "hotel", "PROVIDER_PORT": "x"}, "PROVIDER_PORT"),
        ({"PROVIDER_KIND": "hotel", "PROVIDER_FAILURE_RATE": "1.5"}, "failureRate"),
        ({"PROVIDER_KIND": "hotel", "PROVIDER_HOLD_WINDOW_SECONDS": "0"}, "PROVIDER_HOLD_WINDOW_SECONDS"),
        ({"PROVIDER_KIND": "payment", "PAYMENT_AUTO_DECLINE_RATE": "2"}, "PAYMENT_AUTO_DECLINE_RATE"),
        ({"PROVIDER_KIND": "hotel", "TRAVEL_ENV": "staging"}, "TRAVEL_ENV"),
    ],
)
def test_bad_values_fail_fast(tmp_path: Path, env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        _config(tmp_path, **env)
