"""The webhook dispatcher on SQLite and a real HTTP receiver: signed, retried until 2xx, sent once."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kit.database import Database
from kit.db import open_database
from kit.statements import Statement
from kit.webhook_signature import verify
from simulated_world.providers.domain.payments import Payment, PaymentStatus
from simulated_world.providers.store.payments import enqueue_webhook
from simulated_world.providers.store.tables import metadata, webhook_deliveries
from simulated_world.providers.webhooks import WebhookDispatcher
from tests.support.polling import eventually
from tests.support.providers import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "whsec-test-secret"
_DELIVERIES = Statement(select(webhook_deliveries).order_by(webhook_deliveries.c.id))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await open_database(f"sqlite:///{tmp_path / 'payment.sqlite3'}", None, "payment", metadata)
    yield opened
    await opened.close()


@pytest.fixture
async def dispatcher(database: Database) -> AsyncIterator[WebhookDispatcher]:
    running = WebhookDispatcher(
        database, SECRET, retry_base_seconds=0.01, retry_max_seconds=0.05, timeout_seconds=5
    )
    await running.start()
    yield running
    await running.stop()


async def enqueue(database: Database, url: str, due_at: float | None = None) -> str:
    now = datetime.now(UTC)
    payment = Payment(
        f"pay_{uuid.uuid4().hex[:24]}", PaymentStatus.SUCCEEDED, "session-1", 100, "EUR", url, now
    )
    event_id = f"evt_{uuid.uuid4().hex[:24]}"
    body = f'{{"id":"{event_id}","type":"payment.succeeded"}}'
    at = time.time() if due_at is None else due_at
    await database.transaction(
        lambda conn: enqueue_webhook(conn, payment, event_id, "payment.succeeded", body, at, now)
    )
    return event_id


async def deliveries(database: Database) -> list[Any]:
    return await database.read(lambda conn: conn.rows(_DELIVERIES))


async def test_a_failing_receiver_gets_the_same_signed_event_until_it_answers_2xx(
    database: Database, dispatcher: WebhookDispatcher
) -> None:
    receiver = WebhookReceiver(statuses=[500, 503])
    try:
        event_id = await enqueue(database, receiver.url)
        dispatcher.wake()

        async def delivered() -> bool:
            return all(row.delivered_at is not None for row in await deliveries(database))

        await eventually(delivered)
        [row] = await deliveries(database)
        assert (row.attempts, row.last_error) == (3, "receiver answered 503")
        assert [event["id"] for event in receiver.events()] == [event_id] * 3
        for call in receiver.received:
            assert verify(SECRET, call.signature, call.body, now=time.time()) > 0
    finally:
        receiver.close()


async def test_a_delivered_event_is_not_sent_again_when_others_arrive(
    database: Database, dispatcher: WebhookDispatcher
) -> None:
    receiver = WebhookReceiver()
    try:
        first = await enqueue(database, receiver.url)
        dispatcher.wake()
        await eventually(lambda: len(receiver.received) == 1)
        second = await enqueue(database, receiver.url)
        dispatcher.wake()

        async def both_delivered() -> bool:
            rows = await deliveries(database)
            return len(rows) == 2 and all(row.delivered_at is not None for row in rows)

        await eventually(both_delivered)
        assert [event["id"] for event in receiver.events()] == [first, second]
        assert [row.attempts for row in await deliveries(database)] == [1, 1]
    finally:
        receiver.close()


async def test_an_event_left_undelivered_by_a_stopped_dispatcher_is_delivered_by_the_next(
    database: Database,
) -> None:
    receiver = WebhookReceiver()
    try:
        # Queued before any dispatcher runs, as after a crash: the next one finds it in the table.
        event_id = await enqueue(database, receiver.url)
        restarted = WebhookDispatcher(database, SECRET, 0.01, 0.05, 5)
        await restarted.start()
        try:
            await eventually(lambda: len(receiver.received) == 1)
        finally:
            await restarted.stop()
        assert [event["id"] for event in receiver.events()] == [event_id]
    finally:
        receiver.close()
