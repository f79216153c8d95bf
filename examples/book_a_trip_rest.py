"""Book a trip over REST with a client generated from the gateway's /openapi.json (make rest-client).

The generated package is travel_agency_api_client (openapi-python-client); the session is then
followed on the gateway's pushed event stream, which is Server-Sent Events and not in the document.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
from travel_agency_api_client import AuthenticatedClient, Client
from travel_agency_api_client.api.travel_customers_v_1_customers_service import (
    customers_service_login,
    customers_service_register,
)
from travel_agency_api_client.api.travel_flights_v_1_flights_service import (
    flights_service_reserve_flights,
    flights_service_search_flights,
)
from travel_agency_api_client.api.travel_hotel_v_1_hotel_service import (
    hotel_service_reserve_hotel,
    hotel_service_search_hotels,
)
from travel_agency_api_client.api.travel_payments_v_1_payments_service import payments_service_checkout
from travel_agency_api_client.api.travel_sessions_v_1_sessions_service import sessions_service_create_session
from travel_agency_api_client.models import (
    FlightsServiceReserveFlightsBody,
    HotelServiceReserveHotelBody,
    PaymentsServiceCheckoutBody,
    TravelCustomersV1LoginRequest,
    TravelCustomersV1LoginResponse,
    TravelCustomersV1RegisterRequest,
    TravelFlightsV1ReserveFlightsResponse,
    TravelFlightsV1SearchFlightsResponse,
    TravelHotelV1ReserveHotelResponse,
    TravelHotelV1SearchHotelsResponse,
    TravelPaymentsV1CheckoutResponse,
    TravelSessionsV1CreateSessionRequest,
    TravelSessionsV1CreateSessionResponse,
)

Answer = TypeVar("Answer")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://localhost:8080"))
    parser.add_argument(
        "--payment-provider", default=os.environ.get("PAYMENT_PROVIDER_URL", "http://localhost:8083")
    )
    parser.add_argument("--email", default=f"traveller.{uuid.uuid4().hex[:10]}@example.com")
    parser.add_argument("--password", default="correct horse battery staple")
    parser.add_argument("--city", default="LIS")
    parser.add_argument("--home", default="MAD")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the end")
    return parser.parse_args()


def expect(answer: object, kind: type[Answer]) -> Answer:
    """The answer when it is the success type; the gateway's error body (code, message, details) otherwise."""
    if not isinstance(answer, kind):
        raise RuntimeError(f"expected {kind.__name__}, got {answer!r}")
    return answer


def follow(client: AuthenticatedClient, session_id: str, timeout: float) -> str:
    """Print the session's states and saga steps as the gateway pushes them, until it ends; the end state."""
    path = f"/v1/sessions/{session_id}/events:stream"
    event = "message"
    with client.get_httpx_client().stream("GET", path, timeout=httpx.Timeout(10, read=timeout)) as stream:
        stream.raise_for_status()
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data: dict[str, Any] = json.loads(line.removeprefix("data:"))
                if event == "saga":
                    print(f"  {data.get('step')} {data.get('outcome')} {data.get('detail', '')}".rstrip())
                elif event == "session":
                    print(f"session {data['state']} {data.get('reason', '')}".rstrip())
                elif event in {"end", "problem"}:
                    return str(data.get("state", "UNKNOWN"))
    raise RuntimeError(f"the event stream of {session_id} broke off before the end")


def main() -> int:
    args = options()
    check_in = date.today() + timedelta(days=10)
    check_out = check_in + timedelta(days=3)
    public = Client(base_url=args.gateway)
    registered = customers_service_register.sync_detailed(
        client=public,
        body=TravelCustomersV1RegisterRequest(email=args.email, name="Traveller", password=args.password),
    )
    if registered.status_code not in (200, 409):  # 409: a returning customer
        raise RuntimeError(f"register: {registered.status_code} {registered.content!r}")
    login = expect(
        customers_service_login.sync(
            client=public, body=TravelCustomersV1LoginRequest(email=args.email, password=args.password)
        ),
        TravelCustomersV1LoginResponse,
    )
    client = AuthenticatedClient(base_url=args.gateway, token=str(login.access_token))
    print(f"logged in as {args.email}")

    hotels = expect(
        hotel_service_search_hotels.sync(
            client=client,
            city=args.city,
            check_in=check_in.isoformat(),
            check_out=check_out.isoformat(),
            guests=2,
        ),
        TravelHotelV1SearchHotelsResponse,
    ).hotels
    hotel = next(h for h in hotels or [] if int(h.available or 0) > 0)
    outbound = expect(
        flights_service_search_flights.sync(
            client=client, origin=args.home, destination=args.city, date=check_in.isoformat()
        ),
        TravelFlightsV1SearchFlightsResponse,
    ).flights[0]
    back = expect(
        flights_service_search_flights.sync(
            client=client, origin=args.city, destination=args.home, date=check_out.isoformat()
        ),
        TravelFlightsV1SearchFlightsResponse,
    ).flights[0]
    print(f"found {hotel.name} and flights {outbound.number} / {back.number}")

    session = expect(
        sessions_service_create_session.sync(client=client, body=TravelSessionsV1CreateSessionRequest()),
        TravelSessionsV1CreateSessionResponse,
    ).session
    session_id = str(session.id)
    print(f"session {session_id} {session.state}")
    expect(
        hotel_service_reserve_hotel.sync(
            session_id,
            client=client,
            body=HotelServiceReserveHotelBody(
                hotel_id=str(hotel.id), check_in=check_in, check_out=check_out, guests=2
            ),
        ),
        TravelHotelV1ReserveHotelResponse,
    )
    held = expect(
        flights_service_reserve_flights.sync(
            session_id,
            client=client,
            body=FlightsServiceReserveFlightsBody(
                outbound_flight_id=str(outbound.id), return_flight_id=str(back.id), passengers=2
            ),
        ),
        TravelFlightsV1ReserveFlightsResponse,
    ).session
    print(f"held a hotel and a round trip: {held.total.amount} {held.total.currency} in minor units")

    payment = expect(
        payments_service_checkout.sync(session_id, client=client, body=PaymentsServiceCheckoutBody()),
        TravelPaymentsV1CheckoutResponse,
    ).payment
    print(f"checked out: payment {payment.id}, pay at {payment.pay_url}")
    paid = httpx.post(
        f"{args.payment_provider}/payments/{payment.id}/pay", json={"outcome": "succeed"}, timeout=10
    )
    paid.raise_for_status()
    print(f"paid at the provider: {paid.json()['status']}")
    final = follow(client, session_id, args.timeout)
    return 0 if final == "STATE_CONFIRMED" else 1


if __name__ == "__main__":
    sys.exit(main())
