"""Reading settings from the environment: typed, with defaults, failing fast on bad values."""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or malformed; the process must not start."""


class Env:
    """Typed access to an environment mapping; every error names the variable."""

    def __init__(self, environ: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise ConfigError(f"{name} is required but not set")
        return default

    def optional(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def int(
        self, name: builtins.str, default: builtins.int, minimum: builtins.int | None = None
    ) -> builtins.int:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        return value

    def float(
        self, name: builtins.str, default: builtins.float, minimum: builtins.float | None = None
    ) -> builtins.float:
        raw = self._environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be >= {minimum}, got {value}")
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        raw = self._environ.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def data_dir(self) -> Path:
        """The folder for SQLite files, dev keys and the embedded Redis (TRAVEL_DATA_DIR)."""
        path = Path(self.str("TRAVEL_DATA_DIR", "./.data")).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
