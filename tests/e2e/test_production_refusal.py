"""In production a guessable secret or a missing key stops a process at once: exit 2, one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.signing_keys import new_private_pem
from kit.webhook_secret import new_webhook_secret

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def start(module: str, data_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    inherited = ("PAYMENT_", "SERVICE_", "CUSTOMER_TOKEN", "TRUSTED_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env |= {"TRAVEL_ENV": "production", "TRAVEL_DATA_DIR": str(data_dir), **settings}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    return subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("module", "settings", "line"),
    [
        (
            "gateway",
            {"PAYMENT_WEBHOOK_SECRET": "change-me"},
            "gateway: configuration error: PAYMENT_WEBHOOK_SECRET is a known default; "
            "production needs a random secret of at least 32 bytes",
        ),
        (
            "simulated_world.providers",
            {"PROVIDER_KIND": "payment", "PAYMENT_WEBHOOK_SECRET": new_webhook_secret()[:20]},
            "provider: configuration error: PAYMENT_WEBHOOK_SECRET is shorter than 32 bytes; "
            "production needs a random secret of at least 32 bytes",
        ),
        (
            "services.expiry",
            {},
            "expiry: configuration error: SERVICE_KEY_FILE is required in production: "
            "expiry signs its calls with it",
        ),
    ],
)
def test_production_refuses_to_start(
    tmp_path: Path, module: str, settings: dict[str, str], line: str
) -> None:
    if module == "gateway":
        # The gateway's own key is in order, so the secret is what stops it.
        key = tmp_path / "gateway.key"
        key.write_bytes(new_private_pem())
        settings = {**settings, "SERVICE_KEY_FILE": str(key)}
    finished = start(module, tmp_path / "data", **settings)
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.splitlines() == [line]
    assert not (tmp_path / "data" / "secrets").exists(), "production never makes a secret up"
