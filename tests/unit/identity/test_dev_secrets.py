"""Development secrets: random per data folder, stable across restarts, agreed on by concurrent starts."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kit.secret_files import SecretLayout
from kit.service_identity import dev_service_key
from kit.settings import Env
from kit.signing_keys import public_pem_of
from kit.webhook_secret import dev_webhook_secret, guessable_reason, webhook_secret


def test_each_data_folder_has_its_own_random_webhook_secret(tmp_path: Path) -> None:
    first = webhook_secret(Env({"TRAVEL_DATA_DIR": str(tmp_path / "a")}))
    second = webhook_secret(Env({"TRAVEL_DATA_DIR": str(tmp_path / "b")}))
    assert first != second
    assert guessable_reason(first) is None and guessable_reason(second) is None


def test_the_webhook_secret_survives_a_restart(tmp_path: Path) -> None:
    env = Env({"TRAVEL_DATA_DIR": str(tmp_path)})
    first = webhook_secret(env)
    assert webhook_secret(Env({"TRAVEL_DATA_DIR": str(tmp_path)})) == first
    assert dev_webhook_secret(tmp_path) == first
    path = SecretLayout.of_data_dir(tmp_path).webhook_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_explicit_secret_wins_in_development(tmp_path: Path) -> None:
    env = Env({"TRAVEL_DATA_DIR": str(tmp_path), "PAYMENT_WEBHOOK_SECRET": "short"})
    assert webhook_secret(env) == "short"
    assert not SecretLayout.of_data_dir(tmp_path).webhook_secret.exists()


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(lambda _: dev_webhook_secret(tmp_path), range(32)))
        keys = set(pool.map(lambda _: dev_service_key(tmp_path, "payments"), range(32)))
    assert len(secrets) == 1 and len(keys) == 1
    layout = SecretLayout.of_data_dir(tmp_path)
    assert layout.service_public_key("payments").read_bytes() == public_pem_of(keys.pop())
    leftovers = [p.name for p in layout.root.rglob(".*")]
    assert leftovers == []


def test_each_service_has_its_own_key(tmp_path: Path) -> None:
    keys = {name: dev_service_key(tmp_path, name) for name in ("hotel", "flights", "payments")}
    assert len(set(keys.values())) == 3
    assert dev_service_key(tmp_path, "hotel") == keys["hotel"]
