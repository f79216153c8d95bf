"""A payments database made by an earlier version gets the columns added since, on both dialects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, Table

from kit.db import open_database
from kit.statements import Statement
from services.payments.ports import PaymentRecord
from services.payments.repository import (
    PaymentRepository,
    add_missing_columns,
    metadata,
    payments,
    provider_events,
)

pytestmark = pytest.mark.integration

NOW = datetime(2031, 1, 1, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def earlier_tables() -> tuple[MetaData, Table, Table]:
    """The payments tables as they shipped first: without the checkout's trace, or a pending report."""
    earlier = MetaData()
    later = {"checkout_traceparent", "report_pending_since"}

    def table(now: Table) -> Table:
        columns = [
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, unique=c.unique)
            for c in now.c
            if c.name not in later
        ]
        return Table(now.name, earlier, *columns)

    return earlier, table(payments), table(provider_events)


def record(traceparent: str | None = None) -> PaymentRecord:
    return PaymentRecord(
        id=f"pay_{uuid.uuid4().hex[:24]}",
        session_id=str(uuid.uuid4()),
        customer_id="c1",
        amount=24_000,
        currency="EUR",
        status="PENDING",
        pay_url="http://provider.test/pay",
        checkout_traceparent=traceparent,
    )


async def test_earlier_payments_tables_get_the_new_columns_and_keep_their_rows(
    database: tuple[str, str | None],
) -> None:
    url, schema = database
    earlier, table, events = earlier_tables()
    old = await open_database(url, schema, "payments", earlier)
    stored = record()
    row = {k: v for k, v in stored.__dict__.items() if k != "checkout_traceparent"}
    insert = Statement(table.insert())
    await old.transaction(lambda conn: conn.execute(insert, row | {"created_at": NOW, "updated_at": NOW}))
    # An event handled then: its report was made in the transaction that marked it.
    event = {"event_id": "evt-old", "type": "payment.succeeded", "payment_id": stored.id, "received_at": NOW}
    await old.transaction(lambda conn: conn.execute(Statement(events.insert()), event))
    await old.close()

    upgraded = await open_database(url, schema, "payments", metadata)
    try:
        await add_missing_columns(upgraded)
        await add_missing_columns(upgraded)  # a restart finds nothing left to add
        repository = PaymentRepository(upgraded)
        assert await repository.for_session(stored.session_id) == stored
        assert await repository.lookup("evt-old", stored.id) == (True, None)
        assert await repository.claim_event(
            "evt-new", "payment.succeeded", stored.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
        )
        assert not (await repository.lookup("evt-new", stored.id))[0]
        await repository.mark_reported("evt-new")
        assert await repository.lookup("evt-new", stored.id) == (True, None)
        traced = record(TRACEPARENT)
        await repository.add(traced, NOW)
        found = await repository.for_session(traced.session_id)
        assert found is not None and found.checkout_traceparent == TRACEPARENT
    finally:
        await upgraded.close()
