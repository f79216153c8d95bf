"""The console's reads and writes on the saga bus in Redis: histories, dead letters, lag, replay, actions."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bus.dead_letters import DeadLetter, get_dead_letter, list_dead_letters, replay_dead_letter
from bus.history import HistoryRecord, read_sessions_history
from bus.keys import BusKeys
from bus.monitoring import GroupFigures, group_figures
from bus.operator_actions import Audit, OperatorAction, list_operator_actions
from bus.session_notices import READ_AGAIN
from kit.errors import DependencyUnavailable

# What a notice on a session's change channel says: an operator acted on one of its sagas.
# Not counted: a replay is off a booking's path, and its watchers read the session again.
REPLAYED_NOTICE = READ_AGAIN
# How the console's replays are recorded among the operator actions.
VIA = "console"


class RedisBusReads:
    def __init__(
        self, redis: Redis, keys: BusKeys, stuck_after_ms: int = 60_000, dead_letter_count: int = 500
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._stuck_after_ms = stuck_after_ms
        self._dead_letter_count = dead_letter_count

    async def histories(self, session_ids: Sequence[str]) -> dict[str, dict[str, list[HistoryRecord]]]:
        try:
            return await read_sessions_history(self._redis, self._keys, session_ids)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"saga histories cannot be read: {error}") from None

    async def dead_letters(self) -> list[DeadLetter]:
        try:
            return await list_dead_letters(self._redis, self._keys, count=self._dead_letter_count)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"dead letters cannot be read: {error}") from None

    async def dead_letter(self, entry_id: str) -> DeadLetter | None:
        try:
            return await get_dead_letter(self._redis, self._keys, entry_id)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"the dead letter cannot be read: {error}") from None

    async def replay(self, entry_id: str, operator: str) -> str | None:
        audit = Audit(operator=operator, via=VIA)
        try:
            return await replay_dead_letter(self._redis, self._keys, entry_id, audit=audit)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"the dead letter cannot be replayed: {error}") from None

    async def actions(self, count: int) -> list[OperatorAction]:
        try:
            return await list_operator_actions(self._redis, self._keys, count=count)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"operator actions cannot be read: {error}") from None

    async def lag(self) -> list[GroupFigures]:
        try:
            return await group_figures(self._redis, self._keys, stuck_after_ms=self._stuck_after_ms)
        except (RedisError, OSError) as error:
            raise DependencyUnavailable(f"bus figures cannot be read: {error}") from None

    async def announce(self, session_id: str) -> None:
        """Wake whoever watches the session (its event stream, the console); a lost notice only delays."""
        with contextlib.suppress(RedisError, OSError):
            await self._redis.publish(self._keys.session_changes(session_id), REPLAYED_NOTICE)
