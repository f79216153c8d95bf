"""Production refuses to start without its secrets and keys, each time with one line naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.secret_files import SecretLayout
from kit.secrets import write_secrets
from kit.service_identity import service_private_key, trusted_service_keys
from kit.settings import ConfigError, Env, Mode
from kit.tokens import customer_token_private_key, customer_token_public_key
from kit.webhook_secret import new_webhook_secret, webhook_secret
from services.customers.config import CustomersConfig
from services.expiry.config import ExpiryConfig
from services.participant.config import ParticipantConfig
from services.payments.config import PaymentsConfig
from services.sessions.config import SessionsConfig
from simulated_world.providers.config import ProviderConfig

STRONG = new_webhook_secret()


def production(tmp_path: Path, **settings: str) -> Env:
    # Only settings are read here: nothing connects to this Redis.
    base = {"TRAVEL_DATA_DIR": str(tmp_path / "data"), "REDIS_URL": "redis://127.0.0.1:6379/0"}
    return Env({"TRAVEL_ENV": "production", **base, **settings})


def refusal(make: object) -> str:
    with pytest.raises(ConfigError) as error:
        make()  # type: ignore[operator]
    message = str(error.value)
    assert "\n" not in message
    return message


def test_the_mode_is_development_unless_set(tmp_path: Path) -> None:
    assert Env({}).mode() is Mode.DEVELOPMENT
    assert Env({"TRAVEL_ENV": "Production"}).mode() is Mode.PRODUCTION
    message = refusal(lambda: Env({"TRAVEL_ENV": "prod"}).mode())
    assert message == "TRAVEL_ENV must be development or production, got 'prod'"


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "PAYMENT_WEBHOOK_SECRET (or PAYMENT_WEBHOOK_SECRET_FILE) is required in production"),
        ({"PAYMENT_WEBHOOK_SECRET": "dev-webhook-secret"}, "PAYMENT_WEBHOOK_SECRET is a known default"),
        ({"PAYMENT_WEBHOOK_SECRET": "change-me"}, "PAYMENT_WEBHOOK_SECRET is a known default"),
        ({"PAYMENT_WEBHOOK_SECRET": STRONG[:31]}, "PAYMENT_WEBHOOK_SECRET is shorter than 32 bytes"),
        ({"PAYMENT_WEBHOOK_SECRET": "ab" * 20}, "PAYMENT_WEBHOOK_SECRET has fewer than 8 distinct"),
        ({"PAYMENT_WEBHOOK_SECRET": STRONG, "PAYMENT_WEBHOOK_SECRET_FILE": "/x"}, "not both"),
        ({"PAYMENT_WEBHOOK_SECRET_FILE": "/nonexistent/s"}, "PAYMENT_WEBHOOK_SECRET_FILE cannot be read"),
    ],
)
def test_a_weak_or_missing_webhook_secret_is_refused(
    tmp_path: Path, settings: dict[str, str], problem: str
) -> None:
    assert problem in refusal(lambda: webhook_secret(production(tmp_path, **settings)))
    assert not (tmp_path / "data" / "secrets").exists(), "production never makes a secret up"


def test_a_weak_secret_file_is_refused_and_a_strong_one_accepted(tmp_path: Path) -> None:
    weak, strong = tmp_path / "weak", tmp_path / "strong"
    weak.write_text("change-me\n")
    strong.write_text(STRONG + "\n")
    message = refusal(lambda: webhook_secret(production(tmp_path, PAYMENT_WEBHOOK_SECRET_FILE=str(weak))))
    assert "PAYMENT_WEBHOOK_SECRET_FILE is a known default" in message
    assert webhook_secret(production(tmp_path, PAYMENT_WEBHOOK_SECRET_FILE=str(strong))) == STRONG
    assert webhook_secret(production(tmp_path, PAYMENT_WEBHOOK_SECRET=STRONG)) == STRONG


@pytest.mark.parametrize(
    ("load", "problem"),
    [
        (customer_token_private_key, "CUSTOMER_TOKEN_PRIVATE_KEY_FILE is required in production"),
        (customer_token_public_key, "CUSTOMER_TOKEN_PUBLIC_KEY_FILE is required in production"),
        (lambda env: service_private_key(env, "expiry"), "SERVICE_KEY_FILE is required in production"),
        (lambda env: trusted_service_keys(env, {"payments"}), "TRUSTED_KEYS_DIR is required in production"),
    ],
)
def test_a_missing_key_is_refused_never_made(tmp_path: Path, load: object, problem: str) -> None:
    assert problem in refusal(lambda: load(production(tmp_path)))  # type: ignore[operator]
    assert not (tmp_path / "data" / "secrets").exists()


def test_a_key_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    message = refusal(lambda: service_private_key(production(tmp_path, SERVICE_KEY_FILE=str(junk)), "hotel"))
    assert message.startswith("SERVICE_KEY_FILE is not a PEM private key")
    missing = str(tmp_path / "missing.pem")
    env = production(tmp_path, CUSTOMER_TOKEN_PUBLIC_KEY_FILE=missing)
    assert "CUSTOMER_TOKEN_PUBLIC_KEY_FILE cannot be read" in refusal(lambda: customer_token_public_key(env))


def test_trusted_keys_must_cover_every_allowed_caller(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    env = production(tmp_path, TRUSTED_KEYS_DIR=str(trusted))
    message = refusal(lambda: trusted_service_keys(env, {"payments", "expiry"}))
    assert message == f"TRUSTED_KEYS_DIR ({trusted}) lacks expiry.pub, payments.pub"


def test_every_process_starts_from_what_make_secrets_writes(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    write_secrets(folder, tls=False)
    layout = SecretLayout(folder)
    shared = {
        "PAYMENT_WEBHOOK_SECRET_FILE": str(layout.webhook_secret),
        "CUSTOMER_TOKEN_PUBLIC_KEY_FILE": str(layout.customer_token_public_key),
        "TRUSTED_KEYS_DIR": str(layout.trusted_keys_dir),
    }

    def env_of(service: str | None, **extra: str) -> Env:
        own = {"SERVICE_KEY_FILE": str(layout.service_private_key(service))} if service else {}
        return production(tmp_path, **shared, **own, **extra)

    private = {"CUSTOMER_TOKEN_PRIVATE_KEY_FILE": str(layout.customer_token_private_key)}
    customers = CustomersConfig.from_env(env_of(None, **private))
    assert customers.token_private_key == layout.customer_token_private_key.read_bytes()
    SessionsConfig.from_env(env_of(None))
    ParticipantConfig.from_env(env_of("hotel"), "hotel", "hotel")
    PaymentsConfig.from_env(env_of("payments"))
    ExpiryConfig.from_env(env_of("expiry"))
    admin = {"PROVIDER_ADMIN_TOKEN_FILE": str(layout.provider_admin_token)}
    provider = ProviderConfig.from_env(env_of(None, PROVIDER_KIND="payment", **admin))
    assert provider.webhook_secret == layout.webhook_secret.read_text().strip()
    assert not (tmp_path / "data" / "secrets").exists()


def test_a_process_without_its_key_names_it(tmp_path: Path) -> None:
    assert "SERVICE_KEY_FILE" in refusal(lambda: ExpiryConfig.from_env(production(tmp_path)))
    assert "CUSTOMER_TOKEN" in refusal(lambda: SessionsConfig.from_env(production(tmp_path)))
