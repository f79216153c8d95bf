"""In-memory provider: holds, payments and idempotency keys as the simulated providers keep them.

It answers through the same error types and retry rules as the HTTP provider client, and can be
told to fail the next call to a path, before or after the effect (an answer lost on the way back).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import count
from typing import Any
from urllib.parse import unquote

from kit.errors import (
    DependencyUnavailable,
    DomainError,
    FieldViolation,
    InvalidArgument,
    NotFound,
    TransientError,
)
from services.provider_client.client import AmbiguousFailure, ProviderRefusal

log = logging.getLogger(__name__)

HOTEL: dict[str, Any] = {
    "id": "HTL-LIS-01",
    "name": "Grand Lisbon Hotel",
    "city": "LIS",
    "nightlyPrice": {"amount": 12_000, "currency": "EUR"},
    "roomsPerNight": 6,
}
Effect = Callable[[], Any]


@dataclass
class _Fault:
    method: str
    path: str
    error: Exception
    after_effect: bool


@dataclass
class FakeProvider:
    hotels: dict[str, dict[str, Any]] = field(default_factory=lambda: {HOTEL["id"]: dict(HOTEL)})
    flights: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: int = 6
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _keys: dict[str, tuple[str, str, Any]] = field(default_factory=dict)
    _taken: dict[tuple[str, date], int] = field(default_factory=dict)
    _faults: list[_Fault] = field(default_factory=list)
    _outages: set[tuple[str, str]] = field(default_factory=set)
    _ids: count[int] = field(default_factory=lambda: count(1))

    def fail_next(self, method: str, path: str, error: Exception, *, after_effect: bool = False) -> None:
        """The next `method path` raises `error`; `after_effect`: only once the effect took place."""
        self._faults.append(_Fault(method, path, error, after_effect))

    def go_down_for(self, method: str, path_suffix: str) -> None:
        """Every `method` to a path ending in `path_suffix` finds the provider unreachable from now on."""
        self._outages.add((method, path_suffix))

    def come_back_for(self, method: str, path_suffix: str) -> None:
        self._outages.discard((method, path_suffix))

    # The port

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._with_retries("GET", path, lambda: self._read(path, params or {}), True)

    async def post(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        return self._with_retries("POST", path, self._keyed(path, body or {}, idempotency_key), True)

    async def post_unambiguous(self, path: str, body: dict[str, Any] | None, idempotency_key: str) -> Any:
        return self._with_retries("POST", path, self._keyed(path, body or {}, idempotency_key), False)

    async def release_hold(self, hold_id: str, key: str) -> bool:
        try:
            await self.post(f"/holds/{hold_id}/cancel", None, idempotency_key=f"{key}:release")
        except (DomainError, TransientError):
            log.exception("could not release hold %s now; the session's settlement will", hold_id)
            return False
        return True

    # What the test arranges or inspects

    def pass_hold_window(self) -> None:
        """The confirmation window of every hold made so far has passed."""
        for hold in self.holds.values():
            hold["expired"] = True

    def settle_payment(self, payment_id: str, status: str) -> None:
        self.payments[payment_id]["status"] = status

    # Retries and faults, as the HTTP client has them

    def _with_retries(self, method: str, path: str, effect: Effect, retry_ambiguous: bool) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return self._attempt(method, path, effect)
            except AmbiguousFailure:
                if not retry_ambiguous or attempt == self.attempts:
                    raise
            except DependencyUnavailable:
                if attempt == self.attempts:
                    raise
        raise AssertionError("unreachable")

    def _attempt(self, method: str, path: str, effect: Effect) -> Any:
        self.calls.append((method, path))
        if any(method == down and path.endswith(suffix) for down, suffix in self._outages):
            raise DependencyUnavailable(f"provider unreachable for {method} {path}")
        fault = next((f for f in self._faults if (f.method, f.path) == (method, path)), None)
        if fault is not None:
            self._faults.remove(fault)
            if fault.after_effect:
                effect()
            raise fault.error
        return effect()

    def _keyed(self, path: str, body: dict[str, Any], key: str) -> Effect:
        """The provider keeps a key's first success and replays it; a failure leaves nothing behind."""
        fingerprint = json.dumps(body, sort_keys=True)

        def run() -> Any:
            if key in self._keys:
                stored_path, stored_fingerprint, answer = self._keys[key]
                if (stored_path, stored_fingerprint) != (path, fingerprint):
                    raise ProviderRefusal("IDEMPOTENCY_KEY_REUSED", f"key {key!r} used for another request")
                return json.loads(answer)
            answer = self._change(path, body)
            if _segments(path) == ["holds"]:
                # The provider keeps a hold's key on it and shows it back, as the simulated one does.
                self.holds[answer["id"]]["idempotencyKey"] = key
                answer = _public(self.holds[answer["id"]])
            self._keys[key] = (path, fingerprint, json.dumps(answer))
            return answer

        return run

    # Routes

    def _read(self, path: str, params: dict[str, Any]) -> Any:
        parts = _segments(path)
        match parts:
            case ["hotels"]:
                return _page([h for h in self.hotels.values() if h["city"] == params.get("city", h["city"])])
            case ["flights"]:
                wanted = {k: params[k] for k in ("origin", "destination", "date") if k in params}
                matching = [f for f in self.flights.values() if all(f.get(k) == v for k, v in wanted.items())]
                return _page(matching)
            case ["hotels", hotel_id]:
                return dict(self._existing(self.hotels, hotel_id, "hotel"))
            case ["flights", flight_id]:
                flight = self._existing(self.flights, flight_id, "flight")
                taken = self._taken.get((flight["id"], date.fromisoformat(flight["date"])), 0)
                return dict(flight) | {"seatsAvailable": int(flight["seats"]) - taken}
            case ["holds", hold_id]:
                return _public(self._existing(self.holds, hold_id, "hold"))
            case ["holds"]:
                return self._page_of_holds(params)
            case ["payments", payment_id]:
                return dict(self._existing(self.payments, payment_id, "payment"))
        raise NotFound(f"not found at the provider: {path}")

    def _change(self, path: str, body: dict[str, Any]) -> Any:
        match _segments(path):
            case ["holds"]:
                return self._create_hold(body)
            case ["holds", hold_id, "confirm"]:
                return self._confirm(hold_id)
            case ["holds", hold_id, "cancel"]:
                return self._cancel(hold_id)
            case ["payments"]:
                return self._create_payment(body)
            case ["payments", payment_id, "pay"]:
                return self._pay(payment_id, body.get("outcome", "succeed"))
            case ["payments", payment_id, "refund"]:
                return self._refund(payment_id)
        raise NotFound(f"not found at the provider: {path}")

    def _create_hold(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = _required(body, "reference")
        if "hotelId" not in body:
            return self._hold_seats(reference, body)
        hotel = self._existing(self.hotels, str(body["hotelId"]), "hotel")
        check_in = date.fromisoformat(_required(body, "checkIn"))
        check_out = date.fromisoformat(_required(body, "checkOut"))
        guests = int(body.get("guests", 0))
        if guests < 1 or check_out <= check_in:
            raise InvalidArgument(FieldViolation("guests", "a stay needs guests and at least a night"))
        rooms = -(-guests // 2)
        days = [check_in + timedelta(n) for n in range((check_out - check_in).days)]
        amount = hotel["nightlyPrice"]["amount"] * rooms * len(days)
        held = {"kind": "hotel", "hotelId": hotel["id"], "guests": guests, "rooms": rooms}
        held |= {"checkIn": check_in.isoformat(), "checkOut": check_out.isoformat()}
        item, limit, quantity = hotel["id"], int(hotel["roomsPerNight"]), rooms
        if any(self._taken.get((item, day), 0) + quantity > limit for day in days):
            raise ProviderRefusal("NO_AVAILABILITY", f"not enough capacity left on {item}")
        return self._insert_hold(reference, amount, held, [(item, day, quantity) for day in days])

    def _hold_seats(self, reference: str, body: dict[str, Any]) -> dict[str, Any]:
        """One flight (`flightId`) or several (`segments`), all held or none."""
        if "segments" in body:
            segments = body["segments"]
            if not isinstance(segments, list) or not segments or "flightId" in body:
                raise InvalidArgument(FieldViolation("segments", "a list of flights, without flightId"))
            wanted = [_required(segment, "flightId") for segment in segments]
            if len(set(wanted)) != len(wanted):
                raise InvalidArgument(FieldViolation("segments", "a flight may appear once"))
        else:
            wanted = [_required(body, "flightId")]
        flights = [self._existing(self.flights, flight_id, "flight") for flight_id in wanted]
        passengers = int(body.get("passengers", 0))
        if passengers < 1:
            raise InvalidArgument(FieldViolation("passengers", "at least one passenger"))
        taken = [(f["id"], date.fromisoformat(f["date"]), passengers) for f in flights]
        for flight, (item, day, _) in zip(flights, taken, strict=True):
            if self._taken.get((item, day), 0) + passengers > int(flight["seats"]):
                raise ProviderRefusal("NO_AVAILABILITY", f"not enough capacity left on {item}")
        segments = [
            {
                "flightId": f["id"],
                "date": f["date"],
                "passengers": passengers,
                "amount": f["price"]["amount"] * passengers,
                "currency": "EUR",
            }
            for f in flights
        ]
        held = {"kind": "flight", "flightId": flights[0]["id"], "date": flights[0]["date"]}
        held |= {"passengers": passengers, "segments": segments}
        amount = sum(int(segment["amount"]) for segment in segments)
        return self._insert_hold(reference, amount, held, taken)

    def _insert_hold(
        self, reference: str, amount: int, held: dict[str, Any], taken: list[tuple[str, date, int]]
    ) -> dict[str, Any]:
        for item, day, quantity in taken:
            self._taken[(item, day)] = self._taken.get((item, day), 0) + quantity
        hold_id = f"hold_{next(self._ids):024d}"
        hold = {"id": hold_id, "status": "HELD", "reference": reference, "amount": amount, "currency": "EUR"}
        self.holds[hold_id] = hold | held | {"_taken": taken}
        return _public(self.holds[hold_id])

    def _confirm(self, hold_id: str) -> dict[str, Any]:
        hold = self._existing(self.holds, hold_id, "hold")
        if hold["status"] == "CANCELLED":
            raise ProviderRefusal("HOLD_CANCELLED", f"hold {hold_id} was cancelled")
        if hold["status"] == "HELD" and hold.get("expired"):
            raise ProviderRefusal("HOLD_EXPIRED", f"hold {hold_id} expired")
        hold["status"] = "CONFIRMED"
        return _public(hold)

    def _cancel(self, hold_id: str) -> dict[str, Any]:
        hold = self._existing(self.holds, hold_id, "hold")
        if hold["status"] != "CANCELLED":
            hold["status"] = "CANCELLED"
            for item, day, quantity in hold["_taken"]:
                self._taken[(item, day)] -= quantity
        return _public(hold)

    def _page_of_holds(self, params: dict[str, Any]) -> dict[str, Any]:
        size, offset = int(params.get("pageSize", 50)), int(params.get("offset", 0))
        reference, status = params.get("reference"), params.get("status")
        found = [
            _public(h)
            for h in self.holds.values()
            if (not reference or h["reference"] == reference) and (not status or h["status"] == status)
        ]
        items = found[offset : offset + size]
        following = offset + len(items)
        token = str(following) if following < len(found) and items else None
        return {"items": items, "total": len(found), "nextPageToken": token}

    def _create_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise InvalidArgument(FieldViolation("amount", "a positive whole number of minor units"))
        payment_id = f"pay_{next(self._ids):024d}"
        payment = {
            "id": payment_id,
            "status": "PENDING",
            "reference": _required(body, "reference"),
            "amount": amount,
            "currency": _required(body, "currency"),
            "webhookUrl": _required(body, "webhookUrl"),
            "checkoutUrl": f"http://provider.test/payments/{payment_id}/checkout",
        }
        self.payments[payment_id] = payment
        return dict(payment)

    def _pay(self, payment_id: str, outcome: str) -> dict[str, Any]:
        payment = self._existing(self.payments, payment_id, "payment")
        if payment["status"] != "PENDING":
            raise ProviderRefusal("PAYMENT_NOT_PENDING", f"payment {payment_id} is {payment['status']}")
        payment["status"] = "SUCCEEDED" if outcome == "succeed" else "DECLINED"
        return dict(payment)

    def _refund(self, payment_id: str) -> dict[str, Any]:
        payment = self._existing(self.payments, payment_id, "payment")
        if payment["status"] not in ("SUCCEEDED", "REFUNDED"):
            raise ProviderRefusal("PAYMENT_NOT_REFUNDABLE", f"payment {payment_id} is {payment['status']}")
        payment["status"] = "REFUNDED"
        return dict(payment)

    @staticmethod
    def _existing(found: dict[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
        if key not in found:
            raise NotFound(f"no {what} {key!r}")
        return found[key]


def _page(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A catalog search's answer: every match on one page."""
    return {"items": [dict(entry) for entry in entries], "total": len(entries), "nextPageToken": None}


def _segments(path: str) -> list[str]:
    return [unquote(part) for part in path.strip("/").split("/")]


def _required(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidArgument(FieldViolation(name, f"{name} is required"))
    return value


def _public(hold: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in hold.items() if not name.startswith("_") and name != "expired"}
