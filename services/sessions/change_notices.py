"""After a session transition commits: tell its watchers what changed and publish its sagas, at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError
from travel.sessions.v1 import sessions_pb2 as pb

from bus.keys import BusKeys
from bus.outbox import OutboxRelay, PendingSlip
from bus.publisher import DEFAULT_RETENTION_MS
from bus.scripts import NOTICE_SCRIPT
from bus.session_notices import notice_body
from kit.redis_scripts import ScriptRun, run_scripts
from services.sessions.domain import Session
from services.sessions.events import change_entries
from services.sessions.messages import session_message
from services.sessions.ports import Change
from services.sessions.saga_writes import leased_slips, queued_unleased

log = logging.getLogger(__name__)


@dataclass
class PendingNotice:
    """What one session's next notice says: every entry its commits added, and its latest state."""

    events: list[pb.SessionEvent] = field(default_factory=list)
    session: Session | None = None

    def add(self, change: Change) -> None:
        self.events.extend(change_entries(change))
        if self.session is None or change.session.version > self.session.version:
            self.session = change.session

    def body(self) -> bytes:
        return notice_body(self.events, None if self.session is None else session_message(self.session))


@dataclass(frozen=True)
class Beside:
    """Other script calls a burst's commits owe Redis (the stuck checks' bookings), sent in the
    notices' pipeline: `take` gives them, `answered` hears their answers, errors in place."""

    take: Callable[[], list[ScriptRun]]
    answered: Callable[[Sequence[object]], None]


class ChangeNotices:
    """Publishes each changed session's notice on its channel, a burst of commits in one pipeline,
    with the sagas those commits leased to `relay` in the same pipeline, after the notices."""

    def __init__(
        self,
        redis: Redis,
        keys: BusKeys,
        relay: OutboxRelay,
        retention_ms: int = DEFAULT_RETENTION_MS,
        beside: Beside | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._relay = relay
        self._beside = beside
        self._leased: list[PendingSlip] = []
        self._retention_ms = retention_ms
        self._changed: dict[str, PendingNotice] = {}
        self._ready = asyncio.Event()
        self._stopping = False

    def committed(self, changes: Sequence[Change]) -> None:
        """Called after the commit, so the relay and the watchers see what was written."""
        if any(change.writes for change in changes):
            # Rows leased to the relay in the transaction go out with the notice, without a claim.
            self._leased.extend(leased_slips(changes))
            if queued_unleased(changes):
                self._relay.wake()
        for change in changes:
            self._changed.setdefault(change.session.id, PendingNotice()).add(change)
        self._ready.set()

    def stop(self) -> None:
        self._stopping = True
        self._ready.set()

    async def run(self) -> None:
        while not self._stopping:
            await self._ready.wait()
            self._ready.clear()
            await self.publish_pending()

    async def publish_pending(self) -> int:
        """Publish what changed since the last call; returns how many sessions."""
        changed, self._changed = self._changed, {}
        leased, self._leased = self._leased, []
        if not changed:
            return 0
        # First in the pipeline: a watcher hears of the commit before the saga it started.
        calls: list[ScriptRun] = [
            (
                NOTICE_SCRIPT.source,
                [self._keys.session_notices(session_id)],
                [self._keys.session_changes(session_id), pending.body(), self._retention_ms],
            )
            for session_id, pending in changed.items()
        ]
        extra = self._beside.take() if self._beside is not None else []
        try:
            if leased:
                answers = await self._relay.publish_beside(leased, [*calls, *extra])
            else:
                answers = await run_scripts(self._redis, [*calls, *extra])
        except (RedisError, OSError) as error:
            answers = [error] * (len(calls) + len(extra))
        if self._beside is not None and extra:
            self._beside.answered(answers[len(calls) :])
        failed = [answer for answer in answers[: len(calls)] if isinstance(answer, Exception)]
        if failed:
            # A watcher that missed a notice reads again at its next notice (the count jumps) or heartbeat.
            log.warning("could not tell watchers of %d sessions: %s", len(changed), failed[0])
        return len(changed)
