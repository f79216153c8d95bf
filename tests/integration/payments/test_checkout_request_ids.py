"""Checkout request ids on SQLite and PostgreSQL: recorded with the payment, answered again, per customer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from kit.database import Database
from kit.db import open_database
from kit.errors import InvalidArgument
from kit.request_ids import RequestKey
from services.payments.ports import PaymentRecord
from services.payments.repository import PaymentRepository, metadata


@pytest.fixture
async def repository(database: tuple[str, str | None]) -> AsyncIterator[PaymentRepository]:
    url, schema = database
    opened: Database = await open_database(url, schema, "payments", metadata)
    yield PaymentRepository(opened)
    await opened.close()


def payment(customer: str) -> PaymentRecord:
    return PaymentRecord(uuid.uuid4().hex, str(uuid.uuid4()), customer, 100, "EUR", "PENDING", "https://pay")


async def test_the_answer_is_recorded_with_the_payment_and_scoped_by_customer(
    repository: PaymentRepository, unique_id: str
) -> None:
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    ana, bo = RequestKey(f"{unique_id}-ana", request_id, "p"), RequestKey(f"{unique_id}-bo", request_id, "p")
    stored = await repository.add(payment(ana.scope), now, ana, lambda p: p.id.encode())
    first = await repository.first_result(ana, now)
    assert first is not None and (first.resource_id, first.response) == (stored.id, stored.id.encode())
    assert await repository.first_result(bo, now) is None
    with pytest.raises(InvalidArgument):
        await repository.first_result(RequestKey(ana.scope, request_id, "another body"), now)


async def test_a_checkout_without_a_request_id_records_nothing(
    repository: PaymentRepository, unique_id: str
) -> None:
    now = datetime.now(UTC)
    await repository.add(payment(unique_id), now)
    assert await repository.first_result(RequestKey(unique_id, str(uuid.uuid4()), "p"), now) is None
