"""100 bookings under 30% provider failures and 10% ambiguous ones, with every saga process SIGKILLed once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tools.load import LoadResult, run_load
from tools.options import ChaosRequest, KillerSettings, LoadOptions
from tools.supervised_system import SupervisedSystem, SystemSettings

pytestmark = pytest.mark.e2e

KILLED = ("sessions", "hotel", "flights", "payments", "expiry")


def judge(result: LoadResult) -> None:
    """Every session terminal, and every promise kept at the providers."""
    report = result.report
    assert report.stuck == [], "\n".join(report.stuck)
    assert report.violations == [], "\n".join(report.violations)


def test_bookings_survive_provider_chaos_and_process_kills(tmp_path: Path, redis_url: str) -> None:
    options = LoadOptions(
        customers=10,
        bookings=100,
        duration_seconds=600,
        chaos=ChaosRequest(failure_rate=0.3, ambiguous_rate=0.1, seed=2024),
        killer=KillerSettings(every_seconds=4, pause_seconds=2, targets=KILLED, each_once=True),
        session_ttl_seconds=30,
        stuck_after_seconds=120,
        seed=7,
    )
    settings = SystemSettings(redis_url=redis_url, data_dir=tmp_path / "data", env=options.system_env())
    with SupervisedSystem(settings) as system:
        result = asyncio.run(run_load(options, system))

    assert sorted(kill.name for kill in result.kills) == sorted(KILLED)
    assert result.report.bookings >= 100
    assert result.report.confirmed > 0
    judge(result)
