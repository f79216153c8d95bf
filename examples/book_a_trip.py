"""Book a trip over gRPC with the travel-agency-client wheel: sign up, search, hold, pay, follow it."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.request
import uuid
from datetime import date, timedelta

from travel.flights.v1 import flights_pb2
from travel.hotel.v1 import hotel_pb2
from travel.payments.v1 import payments_pb2
from travel.sessions.v1 import sessions_pb2
from travel_client import AlreadyExists, Endpoints, TravelClient, tls_from_env

SETTLED = {sessions_pb2.STATE_CONFIRMED, sessions_pb2.STATE_CANCELLED, sessions_pb2.STATE_EXPIRED}
# How often the session is read again while its sagas run (gRPC has no push of session changes).
FOLLOW_INTERVAL_SECONDS = 0.5


def options() -> argparse.Namespace:
    found = Endpoints.from_env()
    parser = argparse.ArgumentParser(description=__doc__)
    for service in ("customers", "sessions", "hotel", "flights", "payments"):
        parser.add_argument(f"--{service}", default=getattr(found, service), help=f"{service} host:port")
    parser.add_argument(
        "--payment-provider",
        default=os.environ.get("PAYMENT_PROVIDER_URL", "http://localhost:8083"),
        help="the payment provider's base URL, where the payment is paid",
    )
    parser.add_argument("--email", default=f"traveller.{uuid.uuid4().hex[:10]}@example.com")
    parser.add_argument("--password", default="correct horse battery staple")
    parser.add_argument("--city", default="LIS", help="where the trip goes")
    parser.add_argument("--home", default="MAD", help="where the flights leave from")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the end")
    return parser.parse_args()


def pay(provider_url: str, payment_id: str) -> None:
    """Pay by the provider's API, as the customer's bank would; the provider then sends its webhook."""
    request = urllib.request.Request(
        f"{provider_url}/payments/{payment_id}/pay",
        data=json.dumps({"outcome": "succeed"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        print(f"paid at the provider: {json.load(answer)['status']}")


def follow(client: TravelClient, session_id: str, timeout: float) -> int:
    """Print each state and saga step as it happens; the final state's number."""
    deadline = time.monotonic() + timeout
    seen = 0
    state = sessions_pb2.STATE_UNSPECIFIED
    while time.monotonic() < deadline:
        answer = client.sessions.ListSessionEvents(sessions_pb2.ListSessionEventsRequest(id=session_id))
        for event in answer.events[seen:]:
            print(f"  {event.step} {event.outcome} {event.detail}".rstrip())
        seen = len(answer.events)
        if answer.session.state != state:
            state = answer.session.state
            print(f"session {sessions_pb2.State.Name(state)} {answer.session.reason}".rstrip())
        if state in SETTLED:
            return state
        time.sleep(FOLLOW_INTERVAL_SECONDS)
    raise TimeoutError(f"session {session_id} still {sessions_pb2.State.Name(state)} after {timeout}s")


def main() -> int:
    args = options()
    endpoints = Endpoints(args.customers, args.sessions, args.hotel, args.flights, args.payments)
    check_in = date.today() + timedelta(days=10)
    check_out = check_in + timedelta(days=3)
    with TravelClient(endpoints, tls_from_env()) as client:
        with contextlib.suppress(AlreadyExists):  # a returning customer: logging in is enough
            client.register(args.email, "Traveller", args.password)
        client.login(args.email, args.password)
        print(f"logged in as {args.email}")

        hotels = client.hotel.SearchHotels(
            hotel_pb2.SearchHotelsRequest(
                city=args.city, check_in=check_in.isoformat(), check_out=check_out.isoformat(), guests=2
            )
        ).hotels
        hotel = next(h for h in hotels if h.available > 0)
        outbound = client.flights.SearchFlights(
            flights_pb2.SearchFlightsRequest(
                origin=args.home, destination=args.city, date=check_in.isoformat()
            )
        ).flights[0]
        back = client.flights.SearchFlights(
            flights_pb2.SearchFlightsRequest(
                origin=args.city, destination=args.home, date=check_out.isoformat()
            )
        ).flights[0]
        print(f"found {hotel.name} and flights {outbound.number} / {back.number}")

        session = client.sessions.CreateSession(sessions_pb2.CreateSessionRequest()).session
        print(f"session {session.id} {sessions_pb2.State.Name(session.state)}")
        client.hotel.ReserveHotel(
            hotel_pb2.ReserveHotelRequest(
                session_id=session.id,
                hotel_id=hotel.id,
                check_in=check_in.isoformat(),
                check_out=check_out.isoformat(),
                guests=2,
            )
        )
        held = client.flights.ReserveFlights(
            flights_pb2.ReserveFlightsRequest(
                session_id=session.id, outbound_flight_id=outbound.id, return_flight_id=back.id, passengers=2
            )
        ).session
        print(f"held a hotel and a round trip: {held.total.amount} {held.total.currency} in minor units")

        checkout = client.payments.Checkout(payments_pb2.CheckoutRequest(session_id=session.id))
        print(f"checked out: payment {checkout.payment.id}, pay at {checkout.payment.pay_url}")
        pay(args.payment_provider, checkout.payment.id)
        final = follow(client, session.id, args.timeout)
    return 0 if final == sessions_pb2.STATE_CONFIRMED else 1


if __name__ == "__main__":
    sys.exit(main())
