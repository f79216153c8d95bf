"""Hotel use cases: search the provider's catalog; hold a stay and attach it to a session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as sessions_pb

from kit.error_reasons import ErrorReason
from kit.errors import DomainError, FieldViolation, InvalidArgument, NotFound, TransientError
from services.hotel.domain import validate_search, validate_stay
from services.provider_client.client import provider_path
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog
from services.reservations.recent_catalog import RecentCatalog
from services.sagas.vocabulary import HOTEL_CONFIRM
from services.sessions.client import SessionArbiter

SEARCH_PAGE = 50


class HotelReservations:
    def __init__(
        self,
        provider: ProviderApi,
        arbiter: SessionArbiter,
        attempts: AttemptLog,
        today: Callable[[], date],
        catalog: RecentCatalog | None = None,
    ) -> None:
        self._provider = provider
        self._arbiter = arbiter
        self._attempts = attempts
        self._today = today
        self._catalog = catalog or RecentCatalog()

    async def search(self, city: str, check_in: str, check_out: str, guests: int) -> list[dict[str, Any]]:
        validate_search(city, check_in, check_out, guests)
        params: dict[str, Any] = {"pageSize": SEARCH_PAGE}
        for name, value in (("city", city.upper()), ("checkIn", check_in), ("checkOut", check_out)):
            if value:
                params[name] = value
        if guests:
            params["guests"] = guests
        page = await self._provider.get("/hotels", params)
        found = list(page.get("items", []))
        self._catalog.remember(found)
        return found

    async def _hotel(self, hotel_id: str) -> dict[str, Any]:
        known = self._catalog.get(hotel_id)
        if known is not None:
            return known
        try:
            found: dict[str, Any] = await self._provider.get(provider_path("hotels", hotel_id))
        except NotFound:
            raise InvalidArgument(
                FieldViolation("hotelId", f"no hotel {hotel_id!r}"), reason=ErrorReason.UNKNOWN_CATALOG_ITEM
            ) from None
        return found

    async def reserve(
        self, customer_id: str, session_id: str, hotel_id: str, check_in: str, check_out: str, guests: int
    ) -> sessions_pb.Session:
        # The session is judged once, by AttachItem in its own transaction: a session the caller
        # cannot change gets the hold released at once and the arbiter's refusal as the answer.
        stay = validate_stay(hotel_id, check_in, check_out, guests, self._today())
        hotel = await self._hotel(stay.hotel_id)
        # Recorded before the hold exists: if this request is cut off before it attaches or
        # releases the hold, whoever settles the session finds the record and frees the hold.
        attempt = await self._attempts.record(session_id, HOTEL_CONFIRM.participant)
        # The key names the attempt: the confirm step accounts for it by the confirmed hold.
        key = attempt.hold_key()
        try:
            hold = await self._provider.post(
                "/holds",
                {
                    "hotelId": stay.hotel_id,
                    "checkIn": stay.check_in.isoformat(),
                    "checkOut": stay.check_out.isoformat(),
                    "guests": stay.guests,
                    "reference": session_id,
                },
                idempotency_key=key,
            )
        except DomainError:
            # Refused under this key: a retry with the same key would be refused too, so no hold exists.
            await self._attempts.settle(attempt)
            raise
        item = sessions_pb.Item(
            hotel=sessions_pb.HotelStay(
                hold_id=hold["id"],
                hotel_id=stay.hotel_id,
                hotel_name=hotel.get("name", ""),
                city=hotel.get("city", ""),
                check_in=stay.check_in.isoformat(),
                check_out=stay.check_out.isoformat(),
                guests=stay.guests,
                price=money_pb2.Money(amount=int(hold["amount"]), currency=hold["currency"]),
                status=hold["status"],
            )
        )
        try:
            attached = await self._arbiter.attach(session_id, customer_id, item)
        except (DomainError, TransientError):
            # Not the caller's, or the session moved on: the hold must not outlive the refusal.
            if await self._provider.release_hold(hold["id"], key):
                await self._attempts.settle(attempt)
            raise
        # Attached: the record stays until the confirm step, which matches it to the hold it confirms.
        return attached.session
