"""How many logins and registrations are allowed per email and per client address, per window. Pure."""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kit.error_reasons import ErrorReason
from kit.errors import ResourceExhausted

# One customer gets a whole IPv6 /64: counting single addresses would let it rotate freely.
IPV6_PREFIX = 64


class Action(StrEnum):
    LOGIN = "login"
    REGISTER = "register"


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` attempts in a fixed window of `window_seconds`."""

    limit: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_seconds < 1:
            raise ValueError("a rate limit needs a limit and a window of at least 1")


@dataclass(frozen=True)
class AttemptLimits:
    login_per_email: RateLimit = RateLimit(10, 60)
    login_per_address: RateLimit = RateLimit(30, 60)
    register_per_email: RateLimit = RateLimit(5, 60)
    register_per_address: RateLimit = RateLimit(30, 60)


@dataclass(frozen=True)
class Counter:
    """One thing an attempt is counted against: `login:email` of one email, for example."""

    name: str
    subject: str  # a digest, so keys carry no email address and have a bounded length
    limit: RateLimit


@dataclass(frozen=True)
class Count:
    """A counter after this attempt: how many attempts its window holds and when it resets."""

    counter: Counter
    attempts: int
    resets_in_ms: int


def address_group(address: str) -> str:
    """The unit an address is counted as: the IPv4 address, or the IPv6 /64 it belongs to."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a unix socket peer, say): counted as given
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def counters(action: Action, email_key: str, address: str, limits: AttemptLimits) -> list[Counter]:
    """What one attempt counts against: its email (normalized) and its client address."""
    per_email, per_address = {
        Action.LOGIN: (limits.login_per_email, limits.login_per_address),
        Action.REGISTER: (limits.register_per_email, limits.register_per_address),
    }[action]
    return [
        Counter(f"{action}:email", _digest(email_key), per_email),
        Counter(f"{action}:address", _digest(address_group(address)), per_address),
    ]


def refusal(action: Action, counts: Sequence[Count]) -> ResourceExhausted | None:
    """The refusal when any counter went over its limit, retrying once every such window reset."""
    over = [count for count in counts if count.attempts > count.counter.limit.limit]
    if not over:
        return None
    retry_after = max(max(1, math.ceil(count.resets_in_ms / 1000)) for count in over)
    worst = over[0].counter
    what = "this email" if worst.name.endswith(":email") else "this client address"
    return ResourceExhausted(
        f"too many {action} attempts for {what}: at most {worst.limit.limit} per "
        f"{worst.limit.window_seconds} s; retry in {retry_after} s",
        retry_after_seconds=retry_after,
        subject=worst.name,
        reason=ErrorReason.RATE_LIMITED,
    )
