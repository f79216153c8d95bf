"""The load run's report, computed only from the sessions' and providers' own records. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.invariants import (
    TERMINAL,
    SessionRecords,
    repeated_steps,
    unattached_live_holds,
    violations_of,
)
from tools.statistics import LatencySummary

TERMINAL_STATES = {state.removeprefix("STATE_") for state in TERMINAL}


@dataclass(frozen=True)
class AuditedSession:
    """One session as read back after the run: the arbiter's view, its events and the providers' records."""

    records: SessionRecords
    events: Sequence[Mapping[str, Any]]

    @property
    def state(self) -> str:
        return str(self.records.session["state"]).removeprefix("STATE_")

    @property
    def reason(self) -> str:
        return str(self.records.session.get("reason") or "-")


@dataclass(frozen=True)
class LoadReport:
    bookings: int
    states: Counter[str]
    outcomes: Counter[tuple[str, str]]
    violations: list[str]
    stuck: list[str]
    window_seconds: float
    webhook_to_terminal: LatencySummary | None
    calls: Mapping[str, LatencySummary] = field(default_factory=dict)
    call_failures: Mapping[str, Counter[str]] = field(default_factory=dict)
    # Holds still HELD at a provider that their session never attached (session id -> hold ids).
    leaked_holds: Mapping[str, list[str]] = field(default_factory=dict)

    def violations_beyond_leaked_holds(self) -> list[str]:
        """The violations that are not explained by a pre-reserved hold left unreleased."""
        leaked = {hold for holds in self.leaked_holds.values() for hold in holds}
        return [v for v in self.violations if not any(hold in v for hold in leaked)]

    @property
    def confirmed(self) -> int:
        return self.states["CONFIRMED"]

    @property
    def rate(self) -> float:
        """Confirmed bookings per second over the window the records span."""
        return self.confirmed / self.window_seconds if self.window_seconds > 0 else 0.0

    def summary_line(self) -> str:
        p99 = self.webhook_to_terminal.p99_ms if self.webhook_to_terminal else 0.0
        return (
            f"bookings={self.bookings} confirmed={self.confirmed} cancelled={self.states['CANCELLED']} "
            f"expired={self.states['EXPIRED']} violations={len(self.violations)} stuck={len(self.stuck)} "
            f"rate={self.rate:.2f}/s p99_ms={p99:.0f}"
        )


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def webhook_to_terminal_ms(events: Sequence[Mapping[str, Any]]) -> float | None:
    """From the arbiter recording the payment to the terminal state, as the session's events tell it."""
    paid = next((e for e in events if e.get("step") == "payment" and not e.get("sagaId")), None)
    ended = next(
        (e for e in events if e.get("step") == "state" and e.get("outcome") in TERMINAL_STATES), None
    )
    if paid is None or ended is None:
        return None
    elapsed = (parse_time(ended["time"]) - parse_time(paid["time"])).total_seconds() * 1000
    # A payment arriving after the session already ended is refunded, but did not end it.
    return elapsed if elapsed >= 0 else None


def _window_seconds(sessions: Sequence[AuditedSession]) -> float:
    starts = [
        parse_time(s.records.session["createTime"]) for s in sessions if s.records.session.get("createTime")
    ]
    ends = [
        parse_time(e["time"])
        for s in sessions
        for e in s.events
        if e.get("step") == "state" and e.get("outcome") in TERMINAL_STATES
    ]
    if not starts or not ends:
        return 0.0
    return max((max(ends) - min(starts)).total_seconds(), 0.0)


def build_report(
    sessions: Sequence[AuditedSession],
    calls: Mapping[str, Sequence[float]] | None = None,
    call_failures: Mapping[str, Counter[str]] | None = None,
    check_repeated_steps: bool = True,
) -> LoadReport:
    violations: list[str] = []
    stuck: list[str] = []
    latencies: list[float] = []
    leaked_holds: dict[str, list[str]] = {}
    for audited in sessions:
        violations += violations_of(audited.records)
        if check_repeated_steps:
            violations += repeated_steps(audited.records.session_id, audited.events)
        if audited.state not in TERMINAL_STATES:
            stuck.append(f"{audited.records.session_id}: {audited.state} {audited.reason}")
        leaked = unattached_live_holds(audited.records)
        if leaked:
            leaked_holds[audited.records.session_id] = leaked
        latency = webhook_to_terminal_ms(audited.events)
        if latency is not None:
            latencies.append(latency)
    summaries = {name: LatencySummary.of(values) for name, values in (calls or {}).items()}
    return LoadReport(
        bookings=len(sessions),
        states=Counter(s.state for s in sessions),
        outcomes=Counter((s.state, s.reason) for s in sessions),
        violations=violations,
        stuck=stuck,
        window_seconds=_window_seconds(sessions),
        webhook_to_terminal=LatencySummary.of(latencies),
        calls={name: summary for name, summary in sorted(summaries.items()) if summary is not None},
        call_failures=dict(call_failures or {}),
        leaked_holds=leaked_holds,
    )
