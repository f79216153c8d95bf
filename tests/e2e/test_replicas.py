"""Two replicas of every saga participant on PostgreSQL, one consumer killed mid-run: each saga once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.test_chaos import judge
from tools.invariants import repeated_steps
from tools.load import run_load
from tools.options import ChaosRequest, KillerSettings, LoadOptions
from tools.supervised_system import SupervisedSystem, SystemSettings

pytestmark = pytest.mark.e2e


def test_every_saga_completes_once_across_replicas(tmp_path: Path, redis_url: str, postgres_url: str) -> None:
    options = LoadOptions(
        customers=8,
        # Booking for a fixed window, not a count, so the kill always lands mid-run however fast trips go.
        bookings=0,
        duration_seconds=20,
        replicas=2,
        database_url=postgres_url,
        chaos=ChaosRequest(failure_rate=0.1, seed=99),
        # The first hotel consumer dies mid-run; its pending entries go to the other one.
        killer=KillerSettings(every_seconds=6, pause_seconds=4, targets=("hotel-1",), each_once=True),
        session_ttl_seconds=30,
        stuck_after_seconds=120,
        seed=11,
    )
    settings = SystemSettings(
        replicas=2,
        redis_url=redis_url,
        database_url=postgres_url,
        data_dir=tmp_path / "data",
        env=options.system_env(),
    )
    with SupervisedSystem(settings) as system:
        assert len(system.topology.of_role("hotel")) == 2
        assert system.topology.shared_env["HOTEL_GRPC_ADDR"].count(",") == 1
        result = asyncio.run(run_load(options, system))

    assert [kill.name for kill in result.kills] == ["hotel-1"]
    confirmed = [s for s in result.sessions if s.state == "CONFIRMED"]
    assert confirmed, "no booking confirmed: the check would prove nothing"
    for audited in result.sessions:
        # Each step of each saga finished exactly once in the session's history.
        assert repeated_steps(audited.records.session_id, audited.events) == []
    for audited in confirmed:
        steps = Counter(
            e["step"] for e in audited.events if e.get("outcome") == "COMPLETED" and e.get("sagaId")
        )
        for step in ("hotel.confirm", "flights.confirm", "sessions.complete"):
            assert steps[step] == 1, (audited.records.session_id, steps)
        # The provider confirmed exactly the attached hotel stay and both legs, and took one payment.
        held = audited.records.session["items"]
        attached = {i["hotel"]["holdId"] for i in held if "hotel" in i}
        attached |= {
            i["flights"][leg]["holdId"] for i in held if "flights" in i for leg in ("outbound", "returnLeg")
        }
        confirmed_holds = {h["id"] for h in audited.records.holds if h["status"] == "CONFIRMED"}
        # The stay's hold and the round trip's one hold, which both legs name.
        assert confirmed_holds == attached and len(attached) == 2
        assert [p["status"] for p in audited.records.payments if p["status"] != "PENDING"] == ["SUCCEEDED"]
    judge(result)
