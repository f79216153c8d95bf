"""PROVIDER_ADMIN_TOKEN: required and unguessable in production, optional in development."""

from pathlib import Path

import pytest

from kit.settings import ConfigError, Env
from simulated_world.providers.admin_access import admin_token, admits

GOOD = "Zq8s-3kVb7Lw2Rn9Tx4Pm6Yc1Hd5Gf0Ja"


def test_development_without_a_token_leaves_the_admin_routes_open(tmp_path: Path) -> None:
    assert admin_token(Env({"TRAVEL_DATA_DIR": str(tmp_path)})) is None
    assert admits(None, None)


def test_production_requires_a_token() -> None:
    with pytest.raises(ConfigError, match=r"PROVIDER_ADMIN_TOKEN .*required in production"):
        admin_token(Env({"TRAVEL_ENV": "production"}))


@pytest.mark.parametrize("token", ["change-me", "short-but-random-9", "a" * 40])
def test_production_refuses_a_guessable_token(token: str) -> None:
    with pytest.raises(ConfigError, match="PROVIDER_ADMIN_TOKEN"):
        admin_token(Env({"TRAVEL_ENV": "production", "PROVIDER_ADMIN_TOKEN": token}))


def test_production_takes_a_random_token_inline_or_from_a_file(tmp_path: Path) -> None:
    assert admin_token(Env({"TRAVEL_ENV": "production", "PROVIDER_ADMIN_TOKEN": GOOD})) == GOOD
    path = tmp_path / "admin_token"
    path.write_text(GOOD + "\n")
    assert admin_token(Env({"TRAVEL_ENV": "production", "PROVIDER_ADMIN_TOKEN_FILE": str(path)})) == GOOD
    with pytest.raises(ConfigError, match="not both"):
        admin_token(Env({"PROVIDER_ADMIN_TOKEN": GOOD, "PROVIDER_ADMIN_TOKEN_FILE": str(path)}))


def test_only_the_exact_bearer_token_is_admitted() -> None:
    assert admits(GOOD, f"Bearer {GOOD}")
    assert admits(GOOD, f"bearer  {GOOD} ")
    assert not admits(GOOD, None)
    assert not admits(GOOD, GOOD)
    assert not admits(GOOD, f"Basic {GOOD}")
    assert not admits(GOOD, f"Bearer {GOOD[:-1]}")
    assert not admits(GOOD, "Bearer ")
