"""A customer driving the system through the gateway, and checks against the providers' own records."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from kit.webhook_signature import sign
from tests.e2e.system import RunningSystem, wait_for
from tools.invariants import SessionRecords

TERMINAL = {"STATE_CONFIRMED", "STATE_CANCELLED", "STATE_EXPIRED"}


def trip_dates(offset_days: int = 10, nights: int = 3) -> tuple[str, str]:
    start = date.today() + timedelta(days=offset_days)
    return start.isoformat(), (start + timedelta(days=nights)).isoformat()


def flight_id(origin: str, destination: str, day: str, slot: int = 1) -> str:
    return f"FL-{origin}-{destination}-{day.replace('-', '')}-{slot}"


@dataclass
class Customer:
    system: RunningSystem
    token: str

    @classmethod
    def signed_up(cls, system: RunningSystem) -> Customer:
        email = f"c.{uuid.uuid4().hex[:12]}@example.com"
        password = "correct horse battery"
        created = system.http.post(
            "/v1/customers", json={"email": email, "name": "Test", "password": password}
        )
        assert created.status_code == 200, created.text
        login = system.http.post("/v1/auth/token", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        return cls(system, login.json()["accessToken"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.system.http.request(method, path, json=body, headers=self.headers)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.call(method, path, body)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        result: dict[str, Any] = response.json()
        return result

    def open_session(self) -> str:
        return str(self.ok("POST", "/v1/sessions", {})["session"]["id"])

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self.ok("GET", f"/v1/sessions/{session_id}")["session"])

    def hold_hotel(self, session_id: str, hotel: str = "HTL-LIS-01", guests: int = 2) -> dict[str, Any]:
        check_in, check_out = trip_dates()
        body = {"hotelId": hotel, "checkIn": check_in, "checkOut": check_out, "guests": guests}
        return dict(self.ok("POST", f"/v1/sessions/{session_id}/hotel", body)["session"])

    def hold_flights(self, session_id: str, origin: str = "LIS", destination: str = "MAD") -> dict[str, Any]:
        out_day, back_day = trip_dates()
        body = {
            "outboundFlightId": flight_id(origin, destination, out_day),
            "returnFlightId": flight_id(destination, origin, back_day),
            "passengers": 2,
        }
        return dict(self.ok("POST", f"/v1/sessions/{session_id}/flights", body)["session"])

    def checkout(self, session_id: str) -> dict[str, Any]:
        return self.ok("POST", f"/v1/sessions/{session_id}/checkout", {})

    def full_session(self) -> str:
        session_id = self.open_session()
        self.hold_hotel(session_id)
        self.hold_flights(session_id)
        return session_id

    def wait_state(self, session_id: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            session = self.session(session_id)
            return session if session["state"] in states else None

        found: dict[str, Any] = wait_for(reached, timeout, f"session {session_id} to reach {states}")
        return found

    def events(self, session_id: str) -> list[dict[str, Any]]:
        return list(self.ok("GET", f"/v1/sessions/{session_id}/events").get("events", []))


@retry(
    retry=retry_if_exception_type(httpx.HTTPError),
    stop=stop_after_attempt(30),
    wait=wait_fixed(0.05),
    reraise=True,
)
def provider_get(system: RunningSystem, kind: str, path: str) -> Any:
    """Read the provider's own records; reads are subject to chaos too, so a failed read is retried."""
    response = httpx.get(f"{system.provider_url(kind)}{path}", timeout=10)
    response.raise_for_status()
    return response.json()


def holds_of(system: RunningSystem, session_id: str) -> list[dict[str, Any]]:
    """Every hotel and flight hold the providers keep for a session."""
    holds: list[dict[str, Any]] = []
    for kind in ("hotel", "flight"):
        holds += provider_get(system, kind, f"/holds?reference={session_id}&pageSize=100")["items"]
    return holds


def payments_of(system: RunningSystem, session_id: str) -> list[dict[str, Any]]:
    return list(provider_get(system, "payment", f"/payments?reference={session_id}&pageSize=100")["items"])


def pay(system: RunningSystem, payment_id: str, outcome: str = "succeed") -> None:
    response = httpx.post(
        f"{system.provider_url('payment')}/payments/{payment_id}/pay", json={"outcome": outcome}, timeout=10
    )
    assert response.status_code == 200, response.text


def set_chaos(
    system: RunningSystem, settings: dict[str, Any], kinds: tuple[str, ...] = ("hotel", "flight", "payment")
) -> None:
    for kind in kinds:
        response = httpx.put(f"{system.provider_url(kind)}/admin/chaos", json=settings, timeout=10)
        assert response.status_code == 200, response.text


def set_provider_clock(system: RunningSystem, kind: str, offset_seconds: int) -> None:
    response = httpx.put(
        f"{system.provider_url(kind)}/admin/clock", json={"offsetSeconds": offset_seconds}, timeout=10
    )
    assert response.status_code == 200, response.text


def assert_released(system: RunningSystem, session_id: str) -> None:
    """Nothing stays held or confirmed at any provider."""
    holds = holds_of(system, session_id)
    assert holds, "the session held nothing: the check would prove nothing"
    assert {h["status"] for h in holds} == {"CANCELLED"}, holds


def pay_on_page(system: RunningSystem, payment_id: str, outcome: str = "succeed") -> None:
    """Pay through the hosted checkout form, as a browser does (never subject to provider chaos)."""
    response = httpx.post(
        f"{system.provider_url('payment')}/payments/{payment_id}/checkout",
        content=f"outcome={outcome}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def records_of(customer: Customer, session_id: str) -> SessionRecords:
    return SessionRecords(
        session=customer.session(session_id),
        holds=holds_of(customer.system, session_id),
        payments=payments_of(customer.system, session_id),
    )


def send_webhook(system: RunningSystem, event: dict[str, Any], secret: str | None = None) -> httpx.Response:
    """Post `event` signed with `secret`, by default the system's own webhook secret."""
    secret = system.webhook_secret if secret is None else secret
    body = json.dumps(event).encode()
    headers = {"Travel-Signature": sign(secret, int(time.time()), body), "Content-Type": "application/json"}
    return system.http.post("/v1/webhooks/payments", content=body, headers=headers)
