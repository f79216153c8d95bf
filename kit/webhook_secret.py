"""The payment webhook secret: explicit and unguessable in production, random per data folder otherwise."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from kit.secret_files import SecretLayout, read_file, write_once
from kit.settings import ConfigError, Env, Mode
from kit.shared_settings import PAYMENT_WEBHOOK_SECRET, PAYMENT_WEBHOOK_SECRET_FILE

MIN_BYTES = 32
MIN_DISTINCT_CHARACTERS = 8
# Values that appear in docs, samples and earlier versions of this project: anyone can guess them.
KNOWN_DEFAULTS = frozenset(
    {
        "dev-webhook-secret",
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "webhook-secret",
        "webhook_secret",
        "password",
        "test",
        "example",
        "default",
    }
)


def new_webhook_secret() -> str:
    """A fresh random secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def guessable_reason(secret: str) -> str | None:
    """Why a secret could be guessed, or None when it looks random enough."""
    if secret.strip().lower() in KNOWN_DEFAULTS:
        return "is a known default"
    if len(secret.encode()) < MIN_BYTES:
        return f"is shorter than {MIN_BYTES} bytes"
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


def dev_webhook_secret(data_dir: Path) -> str:
    """The development secret of a data folder: made once at random, then the same for every process."""
    path = SecretLayout.of_data_dir(data_dir).webhook_secret
    write_once(path, new_webhook_secret().encode())
    return path.read_text().strip()


def webhook_secret(env: Env) -> str:
    """PAYMENT_WEBHOOK_SECRET or PAYMENT_WEBHOOK_SECRET_FILE; in development, else the data folder's."""
    secret, setting = _configured(env)
    if env.mode() is Mode.PRODUCTION:
        if secret is None:
            raise ConfigError(
                "PAYMENT_WEBHOOK_SECRET (or PAYMENT_WEBHOOK_SECRET_FILE) is required in production"
            )
        reason = guessable_reason(secret)
        if reason is not None:
            raise ConfigError(
                f"{setting} {reason}; production needs a random secret of at least {MIN_BYTES} bytes"
            )
        return secret
    # An explicit setting always wins in development, so tests can pick one they sign with.
    return secret if secret is not None else dev_webhook_secret(env.data_dir())


def _configured(env: Env) -> tuple[str | None, str]:
    inline = PAYMENT_WEBHOOK_SECRET.optional(env)
    path = PAYMENT_WEBHOOK_SECRET_FILE.optional(env)
    if inline is not None and path is not None:
        raise ConfigError("set PAYMENT_WEBHOOK_SECRET or PAYMENT_WEBHOOK_SECRET_FILE, not both")
    if path is not None:
        content = read_file(Path(path), "PAYMENT_WEBHOOK_SECRET_FILE").decode(errors="replace").strip()
        if not content:
            raise ConfigError(f"PAYMENT_WEBHOOK_SECRET_FILE is empty ({path})")
        return content, "PAYMENT_WEBHOOK_SECRET_FILE"
    return inline, "PAYMENT_WEBHOOK_SECRET"
