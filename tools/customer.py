"""A simulated customer: signs up once, then books trip after trip through the gateway."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from tools.http_calls import Answer, TimedHttp
from tools.session_stream import follow_session
from tools.topology import Topology
from tools.trips import Trip, random_trip

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class CustomerOptions:
    decline_rate: float = 0.1
    hosted_form_share: float = 0.5
    call_attempts: int = 12
    terminal_timeout: float = 120.0


class GaveUp(Exception):
    """A call kept failing: the customer abandons the booking (and cancels the session if it has one)."""


class SimulatedCustomer:
    def __init__(
        self,
        http: TimedHttp,
        gateway_url: str,
        payment_provider_url: str,
        rng: random.Random,
        options: CustomerOptions,
    ) -> None:
        self.http = http
        self.gateway = gateway_url
        self.payments = payment_provider_url
        self.rng = rng
        self.options = options
        self.email = f"load.{uuid.uuid4().hex[:12]}@example.com"
        self.token = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _public(self, name: str, method: str, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.http.call_until_answered(
            name,
            method,
            f"{self.gateway}{path}",
            self.options.call_attempts,
            json=body,
            headers=self.headers if self.token else None,
            **kwargs,
        )

    async def sign_up(self) -> None:
        # A request id per create, as a real client sends: the retries of it create once.
        body = {
            "email": self.email,
            "name": "Load Customer",
            "password": PASSWORD,
            "requestId": _request_id(),
        }
        created = await self._public("register", "POST", "/v1/customers", body)
        # A register whose answer was lost may have worked: the login decides.
        if not created.ok and created.status != 409 and created.transient:
            raise GaveUp(f"register: {created.status} {created.body}")
        login = await self._public(
            "login", "POST", "/v1/auth/token", {"email": self.email, "password": PASSWORD}
        )
        if not login.ok:
            raise GaveUp(f"login: {login.status} {login.body}")
        self.token = str(login.body["accessToken"])

    async def book(self) -> str | None:
        """One trip from opening a session to its terminal state; returns the session id, if one opened."""
        trip = random_trip(self.rng, date.today())
        session_id = await self.open_session()
        if session_id is None:
            return None
        try:
            await self._hold_and_pay(session_id, trip)
        except GaveUp:
            await self._public("cancel", "POST", f"/v1/sessions/{session_id}:cancel", {})
        await self.wait_terminal(session_id)
        return session_id

    async def _hold_and_pay(self, session_id: str, trip: Trip) -> None:
        await self.hold_hotel(session_id, trip, await self.pick_hotel(trip))
        await self.search_flights(trip)
        await self.hold_flights(session_id, trip)
        await self.pay(await self.check_out(session_id))

    # -- the steps of a booking, each one call (tools.step_cost prices them one by one) -----------

    async def open_session(self) -> str | None:
        opened = await self._public("open session", "POST", "/v1/sessions", {"requestId": _request_id()})
        return str(opened.body["session"]["id"]) if opened.ok else None

    async def pick_hotel(self, trip: Trip) -> str:
        query = {
            "city": trip.city,
            "checkIn": trip.check_in,
            "checkOut": trip.check_out,
            "guests": trip.guests,
        }
        found = self._must(await self._public("search hotels", "GET", "/v1/hotels", params=query))
        available = [h["id"] for h in found.get("hotels", []) if int(h.get("available", 0)) > 0]
        if not available:
            raise GaveUp(f"no hotel free in {trip.city}")
        return trip.hotel_preference if trip.hotel_preference in available else self.rng.choice(available)

    async def hold_hotel(self, session_id: str, trip: Trip, hotel: str) -> None:
        body = {"hotelId": hotel, "checkIn": trip.check_in, "checkOut": trip.check_out, "guests": trip.guests}
        self._must(await self._public("hold hotel", "POST", f"/v1/sessions/{session_id}/hotel", body))

    async def search_flights(self, trip: Trip) -> None:
        query = {"origin": trip.home, "destination": trip.city, "date": trip.check_in}
        self._must(await self._public("search flights", "GET", "/v1/flights", params=query))

    async def hold_flights(self, session_id: str, trip: Trip) -> None:
        body = {
            "outboundFlightId": trip.outbound_flight,
            "returnFlightId": trip.return_flight,
            "passengers": trip.guests,
        }
        self._must(await self._public("hold flights", "POST", f"/v1/sessions/{session_id}/flights", body))

    async def check_out(self, session_id: str) -> str:
        """The payment's id."""
        body = {"requestId": _request_id()}
        checkout = self._must(
            await self._public("checkout", "POST", f"/v1/sessions/{session_id}/checkout", body)
        )
        return str(checkout["payment"]["id"])

    async def pay(self, payment_id: str) -> None:
        outcome = "decline" if self.rng.random() < self.options.decline_rate else "succeed"
        if self.rng.random() < self.options.hosted_form_share:
            # The hosted page is what a browser posts; it is never subject to provider chaos.
            answer = await self.http.call_until_answered(
                "pay (hosted form)",
                "POST",
                f"{self.payments}/payments/{payment_id}/checkout",
                self.options.call_attempts,
                data=f"outcome={outcome}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:
            answer = await self.http.call_until_answered(
                "pay (provider API)",
                "POST",
                f"{self.payments}/payments/{payment_id}/pay",
                self.options.call_attempts,
                json={"outcome": outcome},
            )
        # 409 PAYMENT_NOT_PENDING after an ambiguous failure: the first attempt did pay.
        if not answer.ok and answer.status != 409:
            raise GaveUp(f"pay: {answer.status} {answer.body}")

    async def wait_terminal(self, session_id: str) -> str:
        """The session's state when its event stream ends (its sagas done), or when time runs out."""
        started = time.perf_counter()
        end = await follow_session(
            self.http.client, self.gateway, session_id, self.headers, self.options.terminal_timeout
        )
        failure = None if end.ended else f"no end (last state {end.state or 'unknown'})"
        self.http.log.record("watch until terminal", (time.perf_counter() - started) * 1000, failure)
        return end.state or "UNKNOWN"

    @staticmethod
    def _must(answer: Answer) -> dict[str, Any]:
        if not answer.ok:
            raise GaveUp(f"{answer.status} {answer.body}")
        body: dict[str, Any] = answer.body
        return body


def customers_of(
    http: TimedHttp, topology: Topology, rng: random.Random, options: CustomerOptions, count: int
) -> list[SimulatedCustomer]:
    """`count` customers of the system's gateway and payment provider, each with its own seed."""
    gateway, payments = topology.gateway_url, topology.provider_url("payment")
    return [
        SimulatedCustomer(http, gateway, payments, random.Random(rng.random()), options) for _ in range(count)
    ]


def _request_id() -> str:
    return str(uuid.uuid4())
