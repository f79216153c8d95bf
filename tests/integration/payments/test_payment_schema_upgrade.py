"""A payments database made by an earlier version gets the columns added since from the migrations, on both
dialects: one Alembic made at the baseline, and one create_all made before there were migrations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, Table

from kit.db import make_sync_engine, open_database
from kit.migrations import head, upgrade
from kit.statements import Statement
from services.payments.ports import PaymentRecord
from services.payments.repository import (
    PaymentRepository,
    metadata,
    payments,
    provider_events,
)
from tests.contract.test_migrations_contract import differences

pytestmark = pytest.mark.integration

NOW = datetime(2031, 1, 1, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
LATER = ("checkout_traceparent", "report_pending_since")


def earlier_tables(kept: tuple[str, ...] = ()) -> MetaData:
    """The payments tables as they shipped first (without the checkout's trace, or a pending report),
    with the later columns named in `kept`."""
    earlier = MetaData()
    later = set(LATER) - set(kept)

    def table(now: Table) -> Table:
        columns = [
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, unique=c.unique)
            for c in now.c
            if c.name not in later
        ]
        return Table(now.name, earlier, *columns)

    table(payments)
    table(provider_events)
    return earlier


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


async def write_earlier_rows(url: str, schema: str | None, earlier: MetaData) -> PaymentRecord:
    """A payment and a handled provider event, written in the tables of the earlier version."""
    old = await open_database(url, schema, "payments")
    stored = record()
    table, events = earlier.tables["payments"], earlier.tables["provider_events"]
    row = {k: v for k, v in stored.__dict__.items() if k in table.c} | {"created_at": NOW, "updated_at": NOW}
    await old.transaction(lambda conn: conn.execute(Statement(table.insert()), row))
    # An event handled then: its report was made in the transaction that marked it.
    event = {"event_id": "evt-old", "type": "payment.succeeded", "payment_id": stored.id, "received_at": NOW}
    await old.transaction(lambda conn: conn.execute(Statement(events.insert()), event))
    await old.close()
    return stored


async def assert_upgraded(url: str, schema: str | None, stored: PaymentRecord) -> None:
    """The rows of the earlier version survive, and the new columns are there and used."""
    assert differences(url, schema, [metadata]) == []
    upgraded = await open_database(url, schema, "payments")
    try:
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


def create_all(url: str, schema: str | None, earlier: MetaData) -> None:
    """The tables as an earlier version made them at start: create_all, no version table."""
    engine = make_sync_engine(url, schema)
    try:
        with engine.begin() as connection:
            if schema:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            earlier.create_all(connection)
    finally:
        engine.dispose()


async def test_a_database_at_the_baseline_gets_the_new_columns_and_keeps_its_rows(
    database: tuple[str, str | None],
) -> None:
    url, schema = database
    assert upgrade(url, schema, "payments", target="0001") == "0001"
    earlier = earlier_tables()
    stored = await write_earlier_rows(url, schema, earlier)
    missing = sorted(diff[3].name for diff in differences(url, schema, [metadata]) if diff[0] == "add_column")
    assert missing == sorted(LATER)

    assert upgrade(url, schema, "payments") == head("payments")
    await assert_upgraded(url, schema, stored)


@pytest.mark.parametrize("kept", [(), ("checkout_traceparent",)], ids=["first", "between"])
async def test_a_database_made_before_migrations_is_adopted_and_upgraded(
    database: tuple[str, str | None], kept: tuple[str, ...]
) -> None:
    url, schema = database
    earlier = earlier_tables(kept)
    create_all(url, schema, earlier)
    stored = await write_earlier_rows(url, schema, earlier)

    assert upgrade(url, schema, "payments") == head("payments")
    assert upgrade(url, schema, "payments") == head("payments")  # a second run finds nothing left to do
    await assert_upgraded(url, schema, stored)
