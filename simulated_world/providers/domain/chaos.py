"""Chaos: the knobs and the per-request decision, drawn from an injected random so a seed replays it."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, fields, replace
from typing import Any

from simulated_world.providers.domain.errors import InvalidField


class Failure(enum.Enum):
    NONE = "none"
    UNAVAILABLE = "unavailable"  # 503 before doing anything
    AMBIGUOUS_500 = "ambiguous_500"  # the work commits, then a 500
    AMBIGUOUS_DROP = "ambiguous_drop"  # the work commits, then the connection is dropped


@dataclass(frozen=True)
class ChaosSettings:
    failure_rate: float = 0.0
    ambiguous_rate: float = 0.0
    latency_ms: int = 0
    latency_jitter_ms: int = 0
    seed: int | None = None
    webhook_duplicate_rate: float = 0.0
    webhook_delay_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("failure_rate", "ambiguous_rate", "webhook_duplicate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidField(_json_name(name), f"{_json_name(name)} must be within [0, 1]")
        if self.failure_rate + self.ambiguous_rate > 1.0:
            raise InvalidField("ambiguousRate", "failureRate + ambiguousRate must not exceed 1")
        for name in ("latency_ms", "latency_jitter_ms", "webhook_delay_ms"):
            if getattr(self, name) < 0:
                raise InvalidField(_json_name(name), f"{_json_name(name)} must be >= 0")

    def to_json(self) -> dict[str, Any]:
        return {_json_name(f.name): getattr(self, f.name) for f in fields(self)}

    def merged(self, changes: dict[str, Any]) -> ChaosSettings:
        """These settings with the JSON fields in `changes` replaced; unknown fields are refused."""
        known = {_json_name(f.name): f for f in fields(self)}
        updates: dict[str, Any] = {}
        for key, value in changes.items():
            spec = known.get(key)
            if spec is None:
                raise InvalidField(key, f"unknown chaos setting {key!r}")
            updates[spec.name] = _coerce(key, value, str(spec.type))
        return replace(self, **updates)


def _json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(key: str, value: Any, type_name: str) -> Any:
    if value is None and "None" in type_name:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(key, f"{key} must be a number")
    if type_name.startswith("int"):
        if not float(value).is_integer():
            raise InvalidField(key, f"{key} must be an integer")
        return int(value)
    return float(value)


@dataclass(frozen=True)
class ChaosDecision:
    failure: Failure
    latency_ms: float


def decide(settings: ChaosSettings, rng: random.Random) -> ChaosDecision:
    """One request's fate. Always draws the same number of values so a seed replays exactly."""
    roll, drop, jitter = rng.random(), rng.random(), rng.random()
    latency = max(0.0, settings.latency_ms + (2 * jitter - 1) * settings.latency_jitter_ms)
    if roll < settings.failure_rate:
        failure = Failure.UNAVAILABLE
    elif roll < settings.failure_rate + settings.ambiguous_rate:
        failure = Failure.AMBIGUOUS_DROP if drop < 0.5 else Failure.AMBIGUOUS_500
    else:
        failure = Failure.NONE
    return ChaosDecision(failure, latency)


def webhook_copies(settings: ChaosSettings, rng: random.Random) -> int:
    """How many times one webhook event is enqueued: 2 when the duplicate chaos fires."""
    return 2 if rng.random() < settings.webhook_duplicate_rate else 1
