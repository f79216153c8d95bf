"""How many sessions a customer may have open at once, and the refusal beyond that. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from kit.error_reasons import ErrorReason
from kit.errors import ResourceExhausted
from services.sessions.domain import State

# Sessions that still hold, or may still take, provider capacity and the customer's attention.
# NEEDS_ATTENTION waits on an operator, not on the customer, so it does not lock them out.
COUNTED_AS_OPEN = frozenset({State.OPEN, State.PAYMENT_PENDING, State.CONFIRMING, State.CANCELLING})


@dataclass(frozen=True)
class OpenSessions:
    """A customer's sessions counted as open, and the earliest deadline among them."""

    count: int
    earliest_deadline: datetime | None


def open_limit_refusal(current: OpenSessions, limit: int, now: datetime) -> ResourceExhausted | None:
    """None while another session fits; else a refusal to retry when the earliest deadline passes."""
    if current.count < limit:
        return None
    wait = 1
    if current.earliest_deadline is not None:
        wait = max(1, math.ceil((current.earliest_deadline - now).total_seconds()))
    return ResourceExhausted(
        f"a customer can have at most {limit} open sessions at once; "
        "finish or cancel one, or wait until one expires",
        retry_after_seconds=wait,
        subject="sessions:open",
        reason=ErrorReason.OPEN_SESSION_LIMIT,
    )
