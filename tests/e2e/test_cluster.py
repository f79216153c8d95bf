"""The whole system on a Redis Cluster: bookings, expiries and compensations, then a master's failover
under load, with every session ending and every provider record keeping its promises."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.keys import BusKeys
from tests.e2e.booking import (
    TERMINAL,
    Customer,
    assert_released,
    pay,
    records_of,
    set_chaos,
    set_provider_clock,
)
from tests.e2e.system import RunningSystem, running_system
from tests.support.polling import wait_for
from tests.support.redis_cluster import LocalRedisCluster, RedisNode, redis_cluster, start_cluster
from tools.invariants import violations_of

__all__ = ["redis_cluster"]

pytestmark = pytest.mark.e2e

TTL_SECONDS = 15
CALM = {"failureRate": 0.0, "ambiguousRate": 0.0, "latencyMs": 0, "webhookDuplicateRate": 0.0}
CLUSTER_ENV = {
    "REDIS_MODE": "cluster",
    "SESSION_TTL_SECONDS": str(TTL_SECONDS),
    "BUS_RETRY_BASE_DELAY_SECONDS": "0.05",
    "RECONCILE_INTERVAL_SECONDS": "1",
    "RECONCILE_SAGA_AFTER_SECONDS": "3",
    "OPEN_SESSIONS_PER_CUSTOMER": "20",
}


@pytest.fixture
def cluster_with_replicas() -> Iterator[LocalRedisCluster]:
    cluster = start_cluster(masters=3, replicas_per_master=1)
    try:
        yield cluster
    finally:
        cluster.close()


def no_violations(owner: dict[str, Customer]) -> None:
    violations = [v for s, customer in owner.items() for v in violations_of(records_of(customer, s))]
    assert violations == [], "\n".join(violations)


def all_terminal(owner: dict[str, Customer], timeout: float) -> dict[str, str]:
    def finished() -> bool:
        return all(customer.session(s)["state"] in TERMINAL for s, customer in owner.items())

    wait_for(finished, timeout=timeout, what="every session to reach a terminal state")
    return {s: customer.session(s)["state"] for s, customer in owner.items()}


def test_bookings_expiries_and_compensations_on_a_three_master_cluster(
    tmp_path: Path, redis_cluster: LocalRedisCluster
) -> None:
    with running_system(tmp_path, redis_cluster.url, CLUSTER_ENV) as system:
        set_chaos(system, CALM)
        customer = Customer.signed_up(system)
        sessions = [customer.full_session() for _ in range(6)]
        paid, declined, cancelled, idle = sessions[:3], sessions[3:4], sessions[4:5], sessions[5:]
        for session_id in paid + declined:
            payment = customer.checkout(session_id)["payment"]["id"]
            pay(system, payment, "succeed" if session_id in paid else "decline")
        for session_id in cancelled:
            customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})

        states = all_terminal({s: customer for s in sessions}, timeout=TTL_SECONDS + 45)
        assert {states[s] for s in paid} == {"STATE_CONFIRMED"}, states
        assert {states[s] for s in cancelled} == {"STATE_CANCELLED"}, states
        assert {states[s] for s in idle} == {"STATE_EXPIRED"}, states
        assert states[declined[0]] == "STATE_CANCELLED", states
        for session_id in cancelled + idle:
            assert_released(system, session_id)

        # A compensation with a refund: the hotel refuses the confirm once its hold window passed.
        late = customer.full_session()
        payment = customer.checkout(late)["payment"]["id"]
        set_provider_clock(system, "hotel", 901)
        pay(system, payment)
        final = customer.wait_state(late, TERMINAL)
        assert (final["state"], final["reason"]) == ("STATE_CANCELLED", "HOTEL_REJECTED")
        assert [p["status"] for p in records_of(customer, late).payments] == ["REFUNDED"]
        no_violations({s: customer for s in [*sessions, late]})


def busiest_master(cluster: LocalRedisCluster, system: RunningSystem, sessions: list[str]) -> RedisNode:
    """The master serving the partitions of most of these sessions: stopping it hits them hardest."""
    keys = BusKeys(system.env["TRAVEL_NAMESPACE"], int(system.env.get("BUS_PARTITIONS", "8")))
    masters = Counter(
        cluster.master_of(keys.saga_steps(keys.partition_of(s), f"confirm-{s}")).address for s in sessions
    )
    address = masters.most_common(1)[0][0]
    return next(node for node in cluster.live_nodes() if node.address == address)


def test_a_master_fails_over_under_load_and_every_session_still_ends(
    tmp_path: Path, cluster_with_replicas: LocalRedisCluster
) -> None:
    cluster = cluster_with_replicas
    with running_system(tmp_path, cluster.url, CLUSTER_ENV) as system:
        set_chaos(system, CALM)
        customers = [Customer.signed_up(system) for _ in range(3)]
        owner: dict[str, Customer] = {}
        for n in range(12):
            customer = customers[n % len(customers)]
            owner[customer.full_session()] = customer
        sessions = list(owner)
        paid, cancelled, idle = sessions[:8], sessions[8:10], sessions[10:]
        payments = {s: owner[s].checkout(s)["payment"]["id"] for s in paid}

        # Slow providers keep the confirmations on the bus while the master goes.
        set_chaos(system, CALM | {"latencyMs": 800}, kinds=("hotel", "flight"))
        for session_id in paid:
            pay(system, payments[session_id])
        for session_id in cancelled:
            owner[session_id].ok("POST", f"/v1/sessions/{session_id}:cancel", {})
        victim = busiest_master(cluster, system, paid)
        cluster.stop(victim)
        cluster.wait_for_failover(victim)

        states = all_terminal(owner, timeout=TTL_SECONDS + 90)
        set_chaos(system, CALM, kinds=("hotel", "flight"))
        assert {states[s] for s in paid} == {"STATE_CONFIRMED"}, states
        assert {states[s] for s in cancelled} == {"STATE_CANCELLED"}, states
        assert {states[s] for s in idle} == {"STATE_EXPIRED"}, states
        no_violations(owner)
