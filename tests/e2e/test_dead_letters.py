"""A refund that keeps failing dead-letters, the session shows NEEDS_ATTENTION, an operator replays it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis

from bus.keys import BusKeys, entry_name
from tests.e2e.booking import Customer, pay_on_page, records_of, set_chaos, set_provider_clock
from tests.e2e.system import ROOT, RunningSystem, running_system, wait_for
from tools.invariants import violations_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    # Short budgets, so a confirm and a compensation that keep failing are dead-lettered in seconds.
    env = {
        "BUS_RETRY_ATTEMPTS": "8",
        "BUS_COMPENSATION_ATTEMPTS": "3",
        "BUS_RETRY_BASE_DELAY_SECONDS": "0.05",
    }
    with running_system(tmp_path_factory.mktemp("dead-letters"), redis_url, env) as running:
        yield running


def dead_letter_of(system: RunningSystem, session_id: str) -> str | None:
    """What an operator finds with `redis-cli XRANGE '<namespace>:{p<partition>}:dead-letters' - +`,
    named as the tooling names it: p<partition>-<entry id>."""
    client = redis.Redis.from_url(system.env["REDIS_URL"], decode_responses=True)
    try:
        keys = BusKeys(system.env["TRAVEL_NAMESPACE"])
        partition = keys.partition_of(session_id)
        for entry_id, fields in client.xrange(keys.dead_letters(partition)):
            if fields.get("session_id") == session_id:
                return entry_name(partition, str(entry_id))
    finally:
        client.close()
    return None


def bus_cli(system: RunningSystem, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tools.bus_cli", *args],
        cwd=ROOT,
        env=system.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_failing_refund_dead_letters_then_replays_to_completion(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    set_provider_clock(system, "hotel", 901)  # the hotel confirm will be refused: compensation
    # The hotel answers slowly, so the payment provider can start failing every refund once the
    # payment has been verified there (the verification reads the provider too) and before the
    # compensation reaches the refund.
    set_chaos(system, {"latencyMs": 3000}, kinds=("hotel",))
    try:
        pay_on_page(system, payment["id"])
        customer.wait_state(session_id, {"STATE_CONFIRMING"}, timeout=60)
        set_chaos(system, {"failureRate": 1.0}, kinds=("payment",))
        stuck = customer.wait_state(session_id, {"STATE_NEEDS_ATTENTION", "STATE_CANCELLED"}, timeout=90)
        assert stuck["state"] == "STATE_NEEDS_ATTENTION"
        entry_id = wait_for(lambda: dead_letter_of(system, session_id), 30, "the dead letter")
        shown = bus_cli(system, "dead-letters", "show", entry_id)
        assert "payments.refund" in shown
    finally:
        set_chaos(system, {"failureRate": 0.0}, kinds=("payment",))
        set_chaos(system, {"latencyMs": 0}, kinds=("hotel",))
        set_provider_clock(system, "hotel", 0)
    bus_cli(system, "dead-letters", "replay", entry_id)
    final = customer.wait_state(session_id, {"STATE_CANCELLED"}, timeout=60)
    assert final["reason"] == "HOTEL_REJECTED"
    records = records_of(customer, session_id)
    assert violations_of(records) == []
    assert [p["status"] for p in records.payments] == ["REFUNDED"]
    assert dead_letter_of(system, session_id) is None  # replay took it off the dead-letter stream


def test_confirm_step_out_of_retries_dead_letters_then_replays_to_confirmed(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    payment = customer.checkout(session_id)["payment"]
    set_chaos(system, {"failureRate": 1.0}, kinds=("hotel",))  # the hotel provider is down for a while
    try:
        pay_on_page(system, payment["id"])
        stuck = customer.wait_state(session_id, {"STATE_NEEDS_ATTENTION", "STATE_CONFIRMED"}, timeout=90)
        assert stuck["state"] == "STATE_NEEDS_ATTENTION"
        entry_id = wait_for(lambda: dead_letter_of(system, session_id), 30, "the dead letter")
    finally:
        set_chaos(system, {"failureRate": 0.0}, kinds=("hotel",))
    bus_cli(system, "dead-letters", "replay", entry_id)
    final = customer.wait_state(session_id, {"STATE_CONFIRMED", "STATE_CANCELLED"}, timeout=60)
    assert final["state"] == "STATE_CONFIRMED"
    assert violations_of(records_of(customer, session_id)) == []
