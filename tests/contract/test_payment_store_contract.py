"""The payment store's contract, held by the in-memory fake and the tables on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.db import open_database
from services.payments.ports import PaymentRecord, PaymentStore
from services.payments.repository import PaymentRepository, metadata
from tests.fakes.payment_store import FakePaymentStore
from tests.support.databases import RUN_ID

NOW = datetime(2031, 1, 1, tzinfo=UTC)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(params=["fake", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PaymentStore]:
    if request.param == "fake":
        yield FakePaymentStore()
        return
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'payments.sqlite3'}", None
    else:
        url, schema = request.getfixturevalue("postgres_url"), f"t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    database = await open_database(url, schema, "payments", metadata)
    yield PaymentRepository(database)
    await database.close()
    if schema is not None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def record(session_id: str = "", payment_id: str = "", status: str = "PENDING") -> PaymentRecord:
    return PaymentRecord(
        id=payment_id or f"pay_{uuid.uuid4().hex[:24]}",
        session_id=session_id or str(uuid.uuid4()),
        customer_id="c1",
        amount=24_000,
        currency="EUR",
        status=status,
        pay_url="http://provider.test/pay",
    )


async def test_a_payment_is_found_by_its_session(store: PaymentStore) -> None:
    added = record()
    assert await store.add(added, NOW) == added
    assert await store.for_session(added.session_id) == added
    assert await store.for_session(str(uuid.uuid4())) is None


async def test_a_second_checkout_of_a_session_gets_the_first_payment(store: PaymentStore) -> None:
    first = record()
    await store.add(first, NOW)
    assert await store.add(record(first.session_id), NOW) == first
    with pytest.raises(ValueError):
        await store.add(record(payment_id=first.id), NOW)  # the id, for another session


async def test_an_event_is_handled_once_and_a_status_only_moves_forward(store: PaymentStore) -> None:
    added = record()
    await store.add(added, NOW)
    assert await store.lookup("evt-1", added.id) == (False, added)
    assert await store.claim_event(
        "evt-1", "payment.succeeded", added.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
    )
    # Claimed, with the status stored beside the claim; not handled until its report is made.
    assert await store.lookup("evt-1", added.id) == (False, record_with(added, "SUCCEEDED"))
    await store.mark_reported("evt-1")
    assert await store.lookup("evt-1", added.id) == (True, None)
    assert not await store.claim_event(
        "evt-1", "payment.succeeded", added.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
    )
    assert await store.lookup("evt-1", added.id) == (True, None)
    # A late read of an older status replaces nothing; with nothing to report it is handled at once.
    assert await store.claim_event(
        "evt-2", "payment.created", added.id, "PENDING", set(), NOW, to_report=False
    )
    assert await store.lookup("evt-2", added.id) == (True, None)
    found = await store.for_session(added.session_id)
    assert found is not None and found.status == "SUCCEEDED"
    assert await store.claim_event(
        "evt-3", "refund.succeeded", added.id, "REFUNDED", {"PENDING", "SUCCEEDED"}, NOW, to_report=False
    )
    assert (await store.lookup("evt-4", added.id))[1] == record_with(added, "REFUNDED")


async def test_an_event_claimed_and_not_reported_is_claimed_again(store: PaymentStore) -> None:
    added = record()
    await store.add(added, NOW)
    for _ in range(2):  # the first delivery's report failed, or it died before reporting
        assert await store.claim_event(
            "evt-1", "payment.succeeded", added.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
        )
        assert await store.lookup("evt-1", added.id) == (False, record_with(added, "SUCCEEDED"))
    await store.mark_reported("evt-1")
    await store.mark_reported("evt-1")  # two deliveries that both reported both mark it
    assert await store.lookup("evt-1", added.id) == (True, None)
    assert not await store.claim_event(
        "evt-1", "payment.succeeded", added.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
    )


async def test_a_pending_event_claimed_with_nothing_to_report_is_handled(store: PaymentStore) -> None:
    added = record()
    await store.add(added, NOW)
    assert await store.claim_event(
        "evt-1", "payment.succeeded", added.id, "SUCCEEDED", {"PENDING"}, NOW, to_report=True
    )
    # Read again, the provider's record moved on to a refund, which reports nothing.
    assert await store.claim_event(
        "evt-1", "payment.succeeded", added.id, "REFUNDED", {"PENDING", "SUCCEEDED"}, NOW, to_report=False
    )
    assert await store.lookup("evt-1", added.id) == (True, None)
    assert (await store.lookup("evt-2", added.id))[1] == record_with(added, "REFUNDED")


async def test_an_event_for_an_unknown_payment_is_still_remembered(store: PaymentStore) -> None:
    assert await store.lookup("evt-x", "pay_unknown") == (False, None)
    assert await store.claim_event(
        "evt-x", "payment.succeeded", "pay_unknown", "SUCCEEDED", {"PENDING"}, NOW, to_report=False
    )
    assert await store.lookup("evt-x", "pay_unknown") == (True, None)


async def test_a_payment_keeps_the_trace_of_its_checkout(store: PaymentStore) -> None:
    traced = PaymentRecord(**{**record().__dict__, "checkout_traceparent": TRACEPARENT})
    await store.add(traced, NOW)
    assert await store.for_session(traced.session_id) == traced
    untraced = record()
    await store.add(untraced, NOW)
    found = await store.lookup("evt-1", untraced.id)
    assert found == (False, untraced) and untraced.checkout_traceparent is None


def record_with(found: PaymentRecord, status: str) -> PaymentRecord:
    return PaymentRecord(**{**found.__dict__, "status": status})
