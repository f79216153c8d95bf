"""Deliveries of one provider event, on SQLite and PostgreSQL: the arbiter acts on it exactly once.

The payments tables, the arbiter's tables and the payment provider (over HTTP) are real. A
delivery claims the event and stores the payment's status in one short transaction, reports the
payment to the arbiter with no transaction open, and marks the event reported in a second one.
Every report here first proves, from another connection, that the payments database is free and
the claim committed. A delivery that meets an event claimed and not reported reports it again:
two at once, one after a failed report, and one after a delivery that died on the way.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select
from travel.sessions.v1 import sessions_pb2 as pb

from bus.outbox import metadata as outbox_metadata
from bus.outbox import outbox_table
from kit.database import Database
from kit.db import open_database
from kit.errors import DependencyUnavailable
from kit.migrations import open_migrated_database
from kit.settings import Env
from kit.statements import Statement
from services.payments.checkout import Checkout
from services.payments.provider_events import ProviderEvents
from services.payments.repository import PaymentRepository
from services.provider_client.client import ProviderClient, provider_session
from services.sagas import definitions as saga_plans
from services.sessions.arbiter import Arbiter
from services.sessions.domain import HotelStay, Money
from services.sessions.events import SessionTimeline
from services.sessions.repository import SessionRepository
from services.sessions.repository import metadata as sessions_metadata
from services.sessions.saga_writes import OutboxSagaStarter
from services.sessions.servicer import SessionsServicer
from simulated_world.providers.app import build_app
from simulated_world.providers.config import ProviderConfig
from tests.support.databases import migrated, sqlite_path
from tests.support.polling import eventually
from tests.support.providers import ServerThread, WebhookReceiver

pytestmark = pytest.mark.integration

TOTAL = 24_000
OUTBOX_SAGAS = Statement(select(outbox_table.c.saga_id).order_by(outbox_table.c.id))

Hook = Callable[[str], Awaitable[None]]


class Deadlines:
    async def schedule(self, session_id: str, deadline_ms: int) -> None:
        return None


async def _no_saga_history(_session_id: str) -> dict[str, Sequence[Any]]:
    return {}


class CountingArbiter:
    """The real arbiter, called in process as its gRPC servicer is; counts the payments reported.

    `before_report` hooks run, with the payment's id, before a report reaches the arbiter, and
    `after_report` ones once the arbiter took it: they check, hold or stop a delivery there.
    """

    def __init__(self, arbiter: Arbiter, repository: SessionRepository) -> None:
        self.arbiter = arbiter
        self._servicer = SessionsServicer(arbiter, SessionTimeline(repository, _no_saga_history))
        self.reports: list[str] = []
        self.answers: list[pb.RecordPaymentResponse] = []
        self.before_report: list[Hook] = []
        self.after_report: list[Hook] = []
        self.fail_next_report: Exception | None = None

    async def authorize_item_change(self, session_id: str, customer_id: str) -> pb.Session:
        request = pb.AuthorizeItemChangeRequest(session_id=session_id, customer_id=customer_id)
        return (await self._servicer.AuthorizeItemChange(request, None)).session

    async def attach(self, session_id: str, customer_id: str, item: pb.Item) -> pb.AttachItemResponse:
        request = pb.AttachItemRequest(session_id=session_id, customer_id=customer_id, item=item)
        return await self._servicer.AttachItem(request, None)

    async def begin_checkout(self, session_id: str, customer_id: str) -> pb.Session:
        request = pb.BeginCheckoutRequest(session_id=session_id, customer_id=customer_id)
        return (await self._servicer.BeginCheckout(request, None)).session

    async def reopen_checkout(self, session_id: str) -> pb.Session:
        request = pb.ReopenCheckoutRequest(session_id=session_id)
        return (await self._servicer.ReopenCheckout(request, None)).session

    async def record_payment(self, request: pb.RecordPaymentRequest) -> pb.RecordPaymentResponse:
        for hook in self.before_report:
            await hook(request.payment_id)
        if self.fail_next_report is not None:
            failure, self.fail_next_report = self.fail_next_report, None
            raise failure
        self.reports.append(request.payment_id)
        answer = await self._servicer.RecordPayment(request, None)
        self.answers.append(answer)
        for hook in self.after_report:
            await hook(request.payment_id)
        return answer

    async def expire_many(self, session_ids: Sequence[str]) -> list[str]:
        request = pb.ExpireSessionsRequest(session_ids=list(session_ids))
        return list((await self._servicer.ExpireSessions(request, None)).expired_session_ids)


class RecordingStore(PaymentRepository):
    """The payments tables, counting the claims committed."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.claims = 0

    async def claim_event(
        self,
        event_id: str,
        event_type: str,
        payment_id: str,
        status: str,
        replaces: Collection[str],
        now: datetime,
        *,
        to_report: bool,
    ) -> bool:
        claimed = await super().claim_event(
            event_id, event_type, payment_id, status, replaces, now, to_report=to_report
        )
        self.claims += 1
        return claimed


class PaymentsDatabaseIsFree:
    """From another connection: no transaction of the payments service is open, the payment's row
    takes a write at once, and its event's claim is committed with its report pending."""

    def __init__(self, url: str, schema: str | None, app_name: str) -> None:
        self._url = url
        self._schema = schema
        self._app_name = app_name
        self.checked = 0
        # One check at a time: two would take each other's row locks.
        self._one_at_a_time = asyncio.Lock()

    async def __call__(self, payment_id: str) -> None:
        async with self._one_at_a_time:
            pending = self._sqlite(payment_id) if self._schema is None else await self._postgresql(payment_id)
        assert pending == 1, f"payment {payment_id}'s event is not claimed, pending, for another connection"
        self.checked += 1

    def _sqlite(self, payment_id: str) -> int:
        # timeout=0: a write transaction still open anywhere fails BEGIN IMMEDIATE at once.
        conn = sqlite3.connect(sqlite_path(self._url), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            touched = conn.execute("UPDATE payments SET updated_at = updated_at WHERE id = ?", [payment_id])
            assert touched.rowcount == 1
            found = conn.execute(
                "SELECT count(*) FROM provider_events"
                " WHERE payment_id = ? AND report_pending_since IS NOT NULL",
                [payment_id],
            ).fetchone()
            conn.execute("ROLLBACK")
            return int(found[0])
        finally:
            conn.close()

    async def _postgresql(self, payment_id: str) -> int:
        base = self._url.split("?", 1)[0]
        async with await psycopg.AsyncConnection.connect(
            base, options=f"-csearch_path={self._schema}"
        ) as conn:
            busy = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = %s AND xact_start IS NOT NULL",
                [self._app_name],
            )
            assert (await busy.fetchone()) == (0,), "a payments connection is inside a transaction"
            # NOWAIT: a lock still held by the payments service fails at once instead of waiting.
            await conn.execute("SELECT id FROM payments WHERE id = %s FOR UPDATE NOWAIT", [payment_id])
            found = await conn.execute(
                "SELECT event_id FROM provider_events"
                " WHERE payment_id = %s AND report_pending_since IS NOT NULL FOR UPDATE NOWAIT",
                [payment_id],
            )
            rows = await found.fetchall()
            await conn.rollback()
            return len(rows)


class ReadTogether:
    """The provider API, whose payment reads all return at once when `together` reads are made."""

    def __init__(self, provider: ProviderClient, together: int) -> None:
        self._provider = provider
        self._barrier = asyncio.Barrier(together)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        found = await self._provider.get(path, params)
        async with asyncio.timeout(15):
            await self._barrier.wait()
        return found

    async def post(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        return await self._provider.post(path, body, idempotency_key)

    async def post_unambiguous(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        return await self._provider.post_unambiguous(path, body, idempotency_key)

    async def release_hold(self, hold_id: str, key: str) -> bool:
        return await self._provider.release_hold(hold_id, key)


@dataclass
class World:
    store: RecordingStore
    arbiter: CountingArbiter
    provider: ProviderClient
    provider_url: str
    webhooks: WebhookReceiver
    sessions_db: Database
    free: PaymentsDatabaseIsFree
    payments_url: str
    schema: str | None

    def events(self, together: int = 1, store: PaymentRepository | None = None) -> ProviderEvents:
        provider = ReadTogether(self.provider, together) if together > 1 else self.provider
        return ProviderEvents(store or self.store, provider, self.arbiter, lambda: datetime.now(UTC))

    async def paid_session(self) -> tuple[str, str, str]:
        """A session checked out and paid at the provider: its id, the payment's and the event's."""
        customer = uuid.uuid4().hex
        session = await self.arbiter.arbiter.open(customer)
        stay = HotelStay(
            "h1", "HTL-LIS-01", "Hotel", "LIS", "2031-01-01", "2031-01-03", 2, Money(TOTAL, "EUR")
        )
        await self.arbiter.arbiter.attach(session.id, customer, stay)
        payments = Checkout(
            self.store, self.provider, self.arbiter, self.webhooks.url, lambda: datetime.now(UTC)
        )
        _, payment = await payments.checkout(customer, session.id, "")
        async with httpx.AsyncClient(base_url=self.provider_url) as http:
            paid = await http.post(f"/payments/{payment.id}/pay", json={"outcome": "succeed"})
            assert paid.status_code == 200, paid.text

        def succeeded() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in self.webhooks.events()
                    if e["data"]["paymentId"] == payment.id and e["type"] == "payment.succeeded"
                ),
                None,
            )

        event = await eventually(succeeded, what=f"the provider's payment.succeeded for {payment.id}")
        return session.id, payment.id, str(event["id"])

    async def state(self, session_id: str) -> str:
        return (await self.arbiter.arbiter.get(session_id)).state.value

    async def sagas(self) -> list[str]:
        rows = await self.sessions_db.read(lambda conn: conn.rows(OUTBOX_SAGAS))
        return [row.saga_id for row in rows]


@pytest.fixture
def payment_provider(tmp_path: Path) -> Iterator[str]:
    config = ProviderConfig.from_env(
        Env({"PROVIDER_KIND": "payment", "TRAVEL_DATA_DIR": str(tmp_path / "pp")})
    )
    server = ServerThread(build_app(config))
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
async def world(
    database: tuple[str, str | None], tmp_path: Path, payment_provider: str
) -> AsyncIterator[World]:
    url, schema = database
    # The payments service's PostgreSQL connections carry a name of their own, so a test can find
    # their transactions.
    app_name = f"payments_{uuid.uuid4().hex[:12]}"
    payments_url = url if schema is None else f"{url}?application_name={app_name}"
    # Migrated first, as the service expects: on PostgreSQL the arbiter's tables join the schema after.
    await migrated(payments_url, schema, "payments")
    payments_db = await open_database(payments_url, schema, "payments")
    # The arbiter's tables beside them on PostgreSQL (other names, same schema); a file of their own
    # on SQLite, so the check that the payments file has no writer sees the payments service alone.
    sessions_url = f"sqlite:///{tmp_path / 'sessions.sqlite3'}" if schema is None else url
    sessions_db = await open_database(sessions_url, schema, "sessions", sessions_metadata, outbox_metadata)
    sessions = SessionRepository(sessions_db)
    arbiter = Arbiter(
        repository=sessions,
        sagas=OutboxSagaStarter(lambda: datetime.now(UTC), saga_plans),
        deadlines=Deadlines(),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        ttl=timedelta(minutes=10),
    )
    counting = CountingArbiter(arbiter, sessions)
    free = PaymentsDatabaseIsFree(payments_url, schema, app_name)
    counting.before_report.append(free)
    webhooks = WebhookReceiver()
    async with provider_session(timeout_seconds=10) as http:
        yield World(
            store=RecordingStore(payments_db),
            arbiter=counting,
            provider=ProviderClient(http, payment_provider, name="payment"),
            provider_url=payment_provider,
            webhooks=webhooks,
            sessions_db=sessions_db,
            free=free,
            payments_url=payments_url,
            schema=schema,
        )
    webhooks.close()
    await sessions_db.close()
    await payments_db.close()


async def test_two_concurrent_deliveries_of_an_event_apply_it_once(world: World) -> None:
    session_id, payment_id, event_id = await world.paid_session()
    events = world.events(together=2)

    async def both_claimed(_payment_id: str) -> None:
        await eventually(lambda: world.store.claims >= 2, what="both deliveries claiming the event")

    async def both_checked(_payment_id: str) -> None:
        # Neither reports, nor marks its report, before both saw the database free.
        await eventually(lambda: world.free.checked >= 2, what="both deliveries checking the database")

    world.arbiter.before_report[:] = [both_claimed, world.free, both_checked]
    results = await asyncio.gather(
        events.handle(event_id, "payment.succeeded", payment_id),
        events.handle(event_id, "payment.succeeded", payment_id),
    )
    # Both claims met the event not yet reported, so both reported it: the arbiter acted once.
    assert results == ["APPLIED", "APPLIED"]
    assert world.arbiter.reports == [payment_id, payment_id]
    first, second = world.arbiter.answers
    assert second.session.version == first.session.version and not second.refund_started
    assert await world.state(session_id) == "CONFIRMING"
    assert await world.sagas() == [f"confirm-{session_id}"]
    stored = await world.store.for_session(session_id)
    assert stored is not None and stored.status == "SUCCEEDED"
    assert await world.store.lookup(event_id, payment_id) == (True, None)
    assert await events.handle(event_id, "payment.succeeded", payment_id) == "DUPLICATE"
    assert len(world.arbiter.reports) == 2


async def test_a_failed_report_is_reported_again_by_the_next_delivery(world: World) -> None:
    session_id, payment_id, event_id = await world.paid_session()
    events = world.events()
    world.arbiter.fail_next_report = DependencyUnavailable("the arbiter is restarting")
    with pytest.raises(DependencyUnavailable):
        await events.handle(event_id, "payment.succeeded", payment_id)
    # The claim and the status committed together; the event waits for its report.
    handled, stored = await world.store.lookup(event_id, payment_id)
    assert not handled and stored is not None and stored.status == "SUCCEEDED"
    assert await world.state(session_id) == "PAYMENT_PENDING" and world.arbiter.reports == []
    assert await events.handle(event_id, "payment.succeeded", payment_id) == "APPLIED"
    assert await events.handle(event_id, "payment.succeeded", payment_id) == "DUPLICATE"
    assert world.arbiter.reports == [payment_id] and await world.state(session_id) == "CONFIRMING"
    assert await world.sagas() == [f"confirm-{session_id}"]


@pytest.mark.parametrize("dies", ["before the arbiter hears", "after the arbiter acted"])
async def test_a_delivery_that_dies_after_its_claim_is_healed_by_the_next(world: World, dies: str) -> None:
    session_id, payment_id, event_id = await world.paid_session()
    reached = asyncio.Event()

    async def die_here(_payment_id: str) -> None:
        reached.set()
        await asyncio.Event().wait()  # until the delivery is cancelled, as its process ends

    hooks = world.arbiter.before_report if dies.startswith("before") else world.arbiter.after_report
    hooks.append(die_here)
    delivery = asyncio.create_task(world.events().handle(event_id, "payment.succeeded", payment_id))
    await eventually(reached.is_set, what="the first delivery reaching its report")
    delivery.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivery
    hooks.remove(die_here)

    # The service starts again on the same database and the provider delivers the event again.
    restarted = await open_migrated_database(world.payments_url, world.schema, "payments")
    try:
        store = PaymentRepository(restarted)
        handled, stored = await store.lookup(event_id, payment_id)
        assert not handled and stored is not None and stored.status == "SUCCEEDED"
        events = world.events(store=store)
        assert await events.handle(event_id, "payment.succeeded", payment_id) == "APPLIED"
        assert await events.handle(event_id, "payment.succeeded", payment_id) == "DUPLICATE"
    finally:
        await restarted.close()
    heard = 1 if dies.startswith("before") else 2
    assert world.arbiter.reports == [payment_id] * heard
    assert await world.state(session_id) == "CONFIRMING"
    assert await world.sagas() == [f"confirm-{session_id}"]
