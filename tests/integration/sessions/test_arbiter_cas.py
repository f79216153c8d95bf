"""The arbiter's compare-and-set under concurrent writers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bus.outbox import metadata as outbox_metadata
from bus.outbox import outbox_table
from kit.db import open_database
from kit.errors import Conflict
from kit.statements import Statement
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.domain import HotelStay, Money, PaymentOutcome, PaymentReport, State
from services.sessions.repository import SessionRepository, metadata
from services.sessions.saga_writes import OutboxSagaStarter


class Deadlines:
    def __init__(self) -> None:
        self.scheduled: dict[str, int] = {}

    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        self.scheduled[session_id] = deadline_ms


@pytest.fixture
async def arbiter(database: tuple[str, str | None]) -> AsyncIterator[Arbiter]:
    url, schema = database
    db = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    yield Arbiter(
        repository=SessionRepository(db),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    await db.close()


def stay(n: int) -> HotelStay:
    return HotelStay(
        f"h{n}", "HTL-LIS-01", "Hotel", "LIS", "2031-01-01", "2031-01-03", 1, Money(1000 + n, "EUR")
    )


def captured(payment_id: str, session_id: str, amount: Money) -> PaymentReport:
    return PaymentReport(payment_id, PaymentOutcome.CAPTURED, amount, session_id)


OUTBOX_SAGAS = Statement(select(outbox_table.c.saga_id).order_by(outbox_table.c.id))


async def outbox_sagas(arbiter: Arbiter) -> list[str]:
    rows = await arbiter._repository.database.read(lambda conn: conn.rows(OUTBOX_SAGAS))
    return [row.saga_id for row in rows]


async def test_concurrent_writers_never_lose_an_update(
    arbiter: Arbiter, database: tuple[str, str | None]
) -> None:
    url, schema = database
    replica = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    other = Arbiter(
        repository=SessionRepository(replica),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    session = await arbiter.open("c1")
    results = await asyncio.gather(
        *((arbiter, other)[n % 2].attach(session.id, "c1", stay(n)) for n in range(8)), return_exceptions=True
    )
    await replica.close()
    attached = [r for r in results if not isinstance(r, Exception)]
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    final = await arbiter.get(session.id)
    # Every successful attach bumped the version exactly once, and each one replaced the one before.
    assert final.version == len(attached)
    replaced = [r[1].hold_id for r in attached if r[1] is not None]
    assert len(replaced) == len(attached) - 1
    assert final.hotel is not None and final.hotel.hold_id not in replaced
    assert len([s for s in await outbox_sagas(arbiter) if s.startswith("release-")]) == len(replaced)


async def test_payment_and_deadline_racing_have_one_winner(
    arbiter: Arbiter, database: tuple[str, str | None]
) -> None:
    # A second arbiter, as another replica would be: its own connection to the same database,
    # and a clock past every deadline (the expiry side).
    url, schema = database
    replica = await open_database(url, schema, "sessions", metadata, outbox_metadata)
    late = Arbiter(
        repository=SessionRepository(replica),
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC) + timedelta(minutes=11),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    winners: Counter[str] = Counter()
    for attempt in range(10):
        customer = f"c{attempt}"
        session = await arbiter.open(customer)
        await arbiter.attach(session.id, customer, stay(attempt))
        await arbiter.begin_checkout(session.id, customer)
        paid, _ = await asyncio.gather(
            arbiter.record_payment(session.id, captured(f"pay-{attempt}", session.id, stay(attempt).price)),
            late.expire(session.id),
        )
        final = await arbiter.get(session.id)
        sagas = set(await outbox_sagas(arbiter))
        confirmed = {f"confirm-{session.id}"} & sagas
        expired = {f"cancel-{session.id}", f"refund-pay-{attempt}"} & sagas
        if final.state is State.CONFIRMING:
            assert confirmed and not expired and not paid.refund_started
            winners["payment"] += 1
        else:
            assert final.state is State.CANCELLING and final.reason == "EXPIRED"
            assert not confirmed and len(expired) == 2 and paid.refund_started
            winners["deadline"] += 1
    await replica.close()
    assert sum(winners.values()) == 10


async def test_a_matching_and_a_mismatched_capture_racing_have_one_winner(arbiter: Arbiter) -> None:
    for attempt in range(6):
        customer = f"m{attempt}"
        session = await arbiter.open(customer)
        await arbiter.attach(session.id, customer, stay(attempt))
        await arbiter.begin_checkout(session.id, customer)
        short = Money(stay(attempt).price.amount - 1, "EUR")
        good, bad = await asyncio.gather(
            arbiter.record_payment(session.id, captured(f"good-{attempt}", session.id, stay(attempt).price)),
            arbiter.record_payment(session.id, captured(f"bad-{attempt}", session.id, short)),
        )
        assert (good.outcome, bad.outcome) == (PaymentOutcome.CAPTURED, PaymentOutcome.MISMATCHED)
        final = await arbiter.get(session.id)
        sagas = set(await outbox_sagas(arbiter))
        if final.state is State.CONFIRMING:
            # The matching capture won; the mismatched one is given back.
            assert final.payment_id == f"good-{attempt}" and bad.refund_started
            assert {f"confirm-{session.id}", f"refund-bad-{attempt}"} <= sagas
        else:
            assert (final.state, final.reason) == (State.CANCELLING, "PAYMENT_MISMATCH")
            assert final.payment_id == f"bad-{attempt}" and good.refund_started
            assert {f"cancel-{session.id}", f"refund-good-{attempt}"} <= sagas
            assert f"confirm-{session.id}" not in sagas


async def test_every_transition_is_written_once_under_concurrent_expiry(arbiter: Arbiter) -> None:
    session = await arbiter.open("c1")
    arbiter._clock = lambda: datetime.now(UTC) + timedelta(minutes=11)
    singles = [arbiter.expire(session.id) for _ in range(3)]
    batches = [arbiter.expire_many([session.id]) for _ in range(3)]
    outcomes = await asyncio.gather(*singles, *batches, return_exceptions=True)
    expired = [o for o in outcomes[:3] if not isinstance(o, Exception) and o[1]]
    expired += [o for o in outcomes[3:] if not isinstance(o, Exception) and o]
    assert len(expired) == 1
    sagas = await outbox_sagas(arbiter)
    assert sagas.count(f"cancel-{session.id}") == 1
    assert list(itertools.islice(sagas, 1)) == [f"cancel-{session.id}"]
