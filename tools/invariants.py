"""The system's promises checked against the providers' own records. Pure: records in, violations out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TERMINAL = frozenset({"STATE_CONFIRMED", "STATE_CANCELLED", "STATE_EXPIRED"})


@dataclass(frozen=True)
class SessionRecords:
    """One session as the arbiter reports it, with everything the providers keep for it."""

    session: Mapping[str, Any]
    holds: Sequence[Mapping[str, Any]]
    payments: Sequence[Mapping[str, Any]]

    @property
    def session_id(self) -> str:
        return str(self.session["id"])


def _held_ids(session: Mapping[str, Any]) -> set[str]:
    ids: set[str] = set()
    for item in session.get("items", []):
        if "hotel" in item:
            ids.add(item["hotel"]["holdId"])
        if "flights" in item:
            ids.add(item["flights"]["outbound"]["holdId"])
            ids.add(item["flights"]["returnLeg"]["holdId"])
    return ids


def violations_of(records: SessionRecords) -> list[str]:
    """Every broken promise for one session; empty when it holds."""
    state = records.session["state"]
    sid = records.session_id
    found: list[str] = []
    captured = [p for p in records.payments if p["status"] in {"SUCCEEDED", "REFUNDED"}]
    if len(captured) > 1:
        found.append(f"{sid}: charged {len(captured)} times")
    if state == "STATE_CONFIRMED":
        wanted = _held_ids(records.session)
        by_id = {h["id"]: h for h in records.holds}
        for hold_id in sorted(wanted):
            status = by_id.get(hold_id, {}).get("status", "MISSING")
            if status != "CONFIRMED":
                found.append(f"{sid}: CONFIRMED but hold {hold_id} is {status}")
        for hold in records.holds:
            if hold["id"] not in wanted and hold["status"] != "CANCELLED":
                found.append(f"{sid}: CONFIRMED but replaced hold {hold['id']} is {hold['status']}")
        if [p["status"] for p in records.payments if p["status"] != "PENDING"] != ["SUCCEEDED"]:
            statuses = [p["status"] for p in records.payments]
            found.append(f"{sid}: CONFIRMED but payments are {statuses}, not one capture")
    elif state in {"STATE_CANCELLED", "STATE_EXPIRED"}:
        for hold in records.holds:
            if hold["status"] != "CANCELLED":
                found.append(f"{sid}: {state} but hold {hold['id']} is {hold['status']}")
        for payment in records.payments:
            if payment["status"] == "SUCCEEDED":
                found.append(f"{sid}: {state} but payment {payment['id']} is captured and not refunded")
    return found


def is_stuck(session: Mapping[str, Any]) -> bool:
    return session["state"] not in TERMINAL


def repeated_steps(session_id: str, events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Saga steps (and whole sagas) that the session's history shows finishing more than once."""
    finished: dict[tuple[str, str, str], int] = {}
    for event in events:
        finishing = event.get("outcome") in {"COMPLETED", "SAGA_COMPLETED", "SAGA_COMPENSATED"}
        if finishing and event.get("sagaId"):
            key = (str(event["sagaId"]), str(event.get("step", "")), str(event["outcome"]))
            finished[key] = finished.get(key, 0) + 1
    return [
        f"{session_id}: saga {saga} {step} {outcome} {count} times"
        for (saga, step, outcome), count in sorted(finished.items())
        if count > 1
    ]


def unattached_live_holds(records: SessionRecords) -> list[str]:
    """Holds still live at a provider that the session never attached: a pre-reserve nobody released."""
    attached = _held_ids(records.session)
    return sorted(h["id"] for h in records.holds if h["status"] == "HELD" and h["id"] not in attached)
