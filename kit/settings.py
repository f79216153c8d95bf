"""Settings: each environment variable declared once (name, default, meaning, readers), read typed."""

from __future__ import annotations

import builtins
import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar


class ConfigError(Exception):
    """A setting is missing or malformed; the process must not start."""


class Mode(enum.StrEnum):
    """How a process treats missing secrets: made up per data folder, or refused."""

    DEVELOPMENT = "development"
    PRODUCTION = "production"


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

    def mode(self) -> Mode:
        """TRAVEL_ENV: `development` (the default) or `production`."""
        raw = TRAVEL_ENV.read(self).lower()
        try:
            return Mode(raw)
        except ValueError:
            choices = " or ".join(m.value for m in Mode)
            raise ConfigError(f"TRAVEL_ENV must be {choices}, got {raw!r}") from None

    def data_dir(self) -> Path:
        """The folder for SQLite files, dev keys and the embedded Redis (TRAVEL_DATA_DIR)."""
        path = Path(TRAVEL_DATA_DIR.read(self)).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path


T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Setting(Generic[T]):
    """One environment variable, declared once: its name, default, meaning and the processes that read it."""

    name: builtins.str
    meaning: builtins.str
    readers: tuple[builtins.str, ...]
    # None: the setting has no default, so `read` requires it and `optional` answers None.
    default: T | None = None
    # How the table shows a default worked out at start (from another setting, the CPU count...).
    shown_default: builtins.str | None = None

    def optional(self, env: Env) -> T | None:
        """The value set in the environment, checked; None when unset (the default is not applied)."""
        raise NotImplementedError

    def read(self, env: Env) -> T:
        """The value set, else the default; a setting without a default is required."""
        value = self.optional(env)
        if value is not None:
            return value
        if self.default is None:
            raise ConfigError(f"{self.name} is required but not set")
        return self.default

    @property
    def default_value(self) -> T:
        """The default, for a config dataclass's field; only for a setting that has one."""
        if self.default is None:
            raise TypeError(f"{self.name} has no default")
        return self.default

    def is_set(self, env: Env) -> builtins.bool:
        return env.optional(self.name) is not None

    @property
    def default_text(self) -> builtins.str:
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return ""
        if isinstance(self.default, builtins.bool):
            return "true" if self.default else "false"
        return builtins.str(self.default)


@dataclass(frozen=True, kw_only=True)
class Text(Setting[builtins.str]):
    """A string; surrounding blanks are dropped and a blank value counts as unset."""

    def optional(self, env: Env) -> builtins.str | None:
        return env.optional(self.name)


@dataclass(frozen=True, kw_only=True)
class Whole(Setting[builtins.int]):
    """An integer, within `minimum` and `maximum` when given."""

    minimum: builtins.int | None = None
    maximum: builtins.int | None = None

    def optional(self, env: Env) -> builtins.int | None:
        if not self.is_set(env):
            return None
        value = env.int(self.name, 0, minimum=self.minimum)
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.name} must be <= {self.maximum}, got {value}")
        return value


@dataclass(frozen=True, kw_only=True)
class Number(Setting[builtins.float]):
    """A number, within `minimum` and `maximum` when given."""

    minimum: builtins.float | None = None
    maximum: builtins.float | None = None

    def optional(self, env: Env) -> builtins.float | None:
        if not self.is_set(env):
            return None
        value = env.float(self.name, 0.0, minimum=self.minimum)
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.name} must be <= {self.maximum}, got {value}")
        return value


@dataclass(frozen=True, kw_only=True)
class Flag(Setting[builtins.bool]):
    """true/false, yes/no, on/off or 1/0."""

    def optional(self, env: Env) -> builtins.bool | None:
        return env.bool(self.name, False) if self.is_set(env) else None


@dataclass(frozen=True, kw_only=True)
class Choice(Setting[builtins.str]):
    """One of a few words (`choices`), compared without case; anything else stops the process."""

    choices: tuple[builtins.str, ...]

    def optional(self, env: Env) -> builtins.str | None:
        raw = env.optional(self.name)
        if raw is None:
            return None
        value = raw.lower()
        if value not in self.choices:
            raise ConfigError(f"{self.name} must be {' or '.join(self.choices)}, got {raw!r}")
        return value


# Every process of the system; the providers' Procfile names are `provider-<kind>`.
EVERY_PROCESS = (
    "gateway",
    "customers",
    "sessions",
    "hotel",
    "flights",
    "payments",
    "expiry",
    "provider-hotel",
    "provider-flight",
    "provider-payment",
)

TRAVEL_ENV = Text(
    name="TRAVEL_ENV",
    default=Mode.DEVELOPMENT.value,
    meaning="`development` makes up missing secrets per data folder; `production` refuses to start "
    "without them",
    readers=EVERY_PROCESS,
)
TRAVEL_DATA_DIR = Text(
    name="TRAVEL_DATA_DIR",
    default="./.data",
    meaning="folder of the SQLite files, development keys and secrets, and the embedded Redis",
    readers=(*EVERY_PROCESS, "launcher"),
)

