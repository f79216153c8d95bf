"""The operator console on real Redis: its replays recorded with the admin's id, read back with the CLI's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from travel.operations.v1 import operations_pb2 as pb

from bus.dead_letters import discard_dead_letter
from bus.keys import BusKeys
from bus.operator_actions import Audit
from kit.auth import bind_caller, unbind_caller
from kit.db import open_database
from kit.tokens import ROLE_ADMIN, SCOPE_CUSTOMER, Caller
from services.sessions.operations.bus_reads import RedisBusReads
from services.sessions.operations.console import OperationsConsole
from services.sessions.operations.servicer import OperationsServicer
from services.sessions.repository import SessionRepository, metadata
from tests.support.dead_letters import dead_letter

pytestmark = pytest.mark.integration
ADMIN = Caller(subject="admin-7", scope=SCOPE_CUSTOMER, roles=frozenset({ROLE_ADMIN}))


@pytest.fixture
async def keys(redis: Redis) -> AsyncIterator[BusKeys]:
    keys = BusKeys(f"opsactions{uuid.uuid4().hex[:10]}", partitions=2)
    yield keys
    found = [key async for key in redis.scan_iter(match=f"{keys.namespace}:*", count=1000)]
    if found:
        await redis.delete(*found)


@pytest.fixture
async def servicer(tmp_path: Path, redis: Redis, keys: BusKeys) -> AsyncIterator[OperationsServicer]:
    database = await open_database(f"sqlite:///{tmp_path / 'sessions.sqlite3'}", None, "sessions", metadata)
    console = OperationsConsole(
        SessionRepository(database), RedisBusReads(redis, keys), lambda: datetime.now(UTC)
    )
    token = bind_caller(ADMIN)
    yield OperationsServicer(console)
    unbind_caller(token)
    await database.close()


async def test_a_console_replay_is_recorded_with_the_admin_and_listed_with_the_cli_discards(
    redis: Redis, keys: BusKeys, servicer: OperationsServicer
) -> None:
    replayed = await dead_letter(redis, keys, "g1", "s1")
    discarded = await dead_letter(redis, keys, "g2", "s2")
    reply = await servicer.ReplayDeadLetter(pb.ReplayDeadLetterRequest(entry_id=replayed.entry_id), None)
    audit = Audit(operator="ann", via="cli", reason="hotel confirmed by phone")
    assert await discard_dead_letter(redis, keys, discarded.entry_id, audit) is not None

    listed = await servicer.ListOperatorActions(pb.ListOperatorActionsRequest(), None)
    # Newest first; the two may share a millisecond, so found by kind.
    by_kind = {action.action: action for action in listed.actions}
    discard, replay = by_kind["discard"], by_kind["replay"]
    assert (replay.action, replay.operator, replay.via) == ("replay", "admin-7", "console")
    assert (replay.entry_id, replay.session_id, replay.step) == (replayed.entry_id, "s1", "hotel.confirm")
    assert replay.replayed_entry_id == reply.replayed_entry_id
    assert (discard.action, discard.operator, discard.via, discard.reason) == (
        "discard", "ann", "cli", "hotel confirmed by phone",
    )  # fmt: skip
    overview = await servicer.GetOverview(pb.GetOverviewRequest(), None)
    assert [a.action_id for a in overview.recent_actions] == [a.action_id for a in listed.actions]
