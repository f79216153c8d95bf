"""Read every session back from the arbiter and the providers, after the run, to judge it on records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.http_calls import TimedHttp
from tools.invariants import TERMINAL, SessionRecords, repeated_steps, violations_of
from tools.report import AuditedSession

READ_ATTEMPTS = 40


class RecordsUnavailable(Exception):
    """A provider or the gateway kept failing a read: the audit cannot vouch for this session."""


@dataclass(frozen=True)
class Owner:
    """A customer's token: only the owner can read a session."""

    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Auditor:
    def __init__(
        self, http: TimedHttp, gateway_url: str, hotel_url: str, flight_url: str, payment_url: str
    ) -> None:
        self.http = http
        self.gateway = gateway_url
        self.providers = {"hotel": hotel_url, "flight": flight_url, "payment": payment_url}
        self._limit = asyncio.Semaphore(16)

    async def _read(self, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        # Provider reads are subject to chaos like everything else: retry until a real answer.
        answer = await self.http.call_until_answered(
            "audit read", "GET", url, READ_ATTEMPTS, pause=0.05, headers=headers, params=params
        )
        if not answer.ok:
            raise RecordsUnavailable(f"GET {url} {params}: {answer.status} {answer.body}")
        return answer.body

    async def states(self, owners: Sequence[Owner]) -> dict[str, tuple[Owner, str]]:
        """Every session of every owner with its state, from the arbiter's list."""
        found: dict[str, tuple[Owner, str]] = {}
        for owner in owners:
            token = ""
            while True:
                params: dict[str, Any] = {"pageSize": 100}
                if token:
                    params["pageToken"] = token
                async with self._limit:
                    page = await self._read(f"{self.gateway}/v1/sessions", owner.headers, **params)
                for session in page.get("sessions", []):
                    found[str(session["id"])] = (owner, str(session["state"]))
                token = page.get("nextPageToken") or ""
                if not token:
                    break
        return found

    async def _provider_items(self, kind: str, path: str, session_id: str) -> list[dict[str, Any]]:
        body = await self._read(f"{self.providers[kind]}{path}", reference=session_id, pageSize=500)
        return list(body.get("items", []))

    async def audit(self, owner: Owner, session_id: str) -> AuditedSession:
        async with self._limit:
            session = await self._read(f"{self.gateway}/v1/sessions/{session_id}", owner.headers)
            events = await self._read(f"{self.gateway}/v1/sessions/{session_id}/events", owner.headers)
            holds = await self._provider_items("hotel", "/holds", session_id)
            holds += await self._provider_items("flight", "/holds", session_id)
            payments = await self._provider_items("payment", "/payments", session_id)
        records = SessionRecords(session=session["session"], holds=holds, payments=payments)
        return AuditedSession(records=records, events=list(events.get("events", [])))

    async def audit_settled(self, sessions: dict[str, Owner], settle_seconds: float) -> list[AuditedSession]:
        """Audit every session; re-read those that look broken until they hold or `settle_seconds` pass.

        A refund of a late payment or the release of a replaced hold follows the terminal state by
        design, so a violation only counts if it is still there after the settling window.
        """
        ids = sorted(sessions)
        audited = dict(
            zip(ids, await asyncio.gather(*(self.audit(sessions[i], i) for i in ids)), strict=True)
        )
        deadline = time.monotonic() + settle_seconds
        while True:
            broken = [i for i in ids if _looks_broken(audited[i])]
            if not broken or time.monotonic() > deadline:
                return [audited[i] for i in ids]
            await asyncio.sleep(1.0)
            again = await asyncio.gather(*(self.audit(sessions[i], i) for i in broken))
            audited.update(zip(broken, again, strict=True))


def _looks_broken(audited: AuditedSession) -> bool:
    if audited.records.session["state"] not in TERMINAL:
        return True
    return bool(violations_of(audited.records) or repeated_steps(audited.records.session_id, audited.events))
