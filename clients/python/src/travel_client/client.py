"""One object holding a stub per public service, the customer's token and the channels they share."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType

import grpc
from travel.customers.v1 import customers_pb2, customers_pb2_grpc
from travel.flights.v1 import flights_pb2_grpc
from travel.hotel.v1 import hotel_pb2_grpc
from travel.payments.v1 import payments_pb2_grpc
from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc

from travel_client.channels import BearerToken, TlsSettings, open_channel


@dataclass(frozen=True)
class Endpoints:
    """Where each service listens; the same `<SERVICE>_GRPC_ADDR` settings the processes read."""

    customers: str = "localhost:50051"
    sessions: str = "localhost:50052"
    hotel: str = "localhost:50053"
    flights: str = "localhost:50054"
    payments: str = "localhost:50055"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Endpoints:
        # A replica list (a,b,c) is the servers' notation; a client dials the first.
        found = {
            f.name: environ[key].split(",")[0].strip()
            for f in fields(cls)
            if (key := f"{f.name.upper()}_GRPC_ADDR") in environ
        }
        return cls(**found)


def tls_from_env(environ: Mapping[str, str] = os.environ) -> TlsSettings | None:
    """TLS from GRPC_TLS_CA_FILE (and _CERT_FILE, _KEY_FILE, _SERVER_NAME), as the processes read it."""
    ca = environ.get("GRPC_TLS_CA_FILE")
    if not ca:
        return None

    def path(key: str) -> Path | None:
        return Path(environ[key]) if environ.get(key) else None

    return TlsSettings(
        Path(ca),
        path("GRPC_TLS_CERT_FILE"),
        path("GRPC_TLS_KEY_FILE"),
        environ.get("GRPC_TLS_SERVER_NAME") or None,
    )


class TravelClient:
    """A stub per public service (customers, sessions, hotel, flights, payments) and the customer's token."""

    def __init__(
        self, endpoints: Endpoints | None = None, tls: TlsSettings | None = None, token: str | None = None
    ) -> None:
        self.endpoints = endpoints or Endpoints()
        self.bearer = BearerToken(token)
        self._channels: dict[str, grpc.Channel] = {}
        self.customers = customers_pb2_grpc.CustomersServiceStub(self._channel(self.endpoints.customers, tls))
        self.sessions = sessions_pb2_grpc.SessionsServiceStub(self._channel(self.endpoints.sessions, tls))
        self.hotel = hotel_pb2_grpc.HotelServiceStub(self._channel(self.endpoints.hotel, tls))
        self.flights = flights_pb2_grpc.FlightsServiceStub(self._channel(self.endpoints.flights, tls))
        self.payments = payments_pb2_grpc.PaymentsServiceStub(self._channel(self.endpoints.payments, tls))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TravelClient:
        return cls(Endpoints.from_env(environ), tls_from_env(environ), environ.get("TRAVEL_TOKEN") or None)

    def _channel(self, target: str, tls: TlsSettings | None) -> grpc.Channel:
        # Services behind one address (a balancer) share one channel.
        if target not in self._channels:
            self._channels[target] = open_channel(target, self.bearer, tls)
        return self._channels[target]

    def register(self, email: str, name: str, password: str) -> customers_pb2.Customer:
        request = customers_pb2.RegisterRequest(email=email, name=name, password=password)
        return self.customers.Register(request).customer

    def login(self, email: str, password: str) -> str:
        """Log in and send the token on every later call; returns it."""
        answer = self.customers.Login(customers_pb2.LoginRequest(email=email, password=password))
        self.bearer.token = answer.access_token
        return answer.access_token

    def watch_session(
        self, session_id: str, after_sequence: int = 0, reconnects: int = 5
    ) -> Iterator[sessions_pb2.WatchSessionResponse]:
        """Each change of one of the caller's sessions as it commits, until it settles: the response
        with `end_state` set is the last. A call that breaks (a server restarting) is made again from
        the last `sequence` received, up to `reconnects` times in a row."""
        failures = 0
        while True:
            request = sessions_pb2.WatchSessionRequest(id=session_id, after_sequence=after_sequence)
            try:
                for response in self.sessions.WatchSession(request):
                    failures = 0
                    after_sequence = max(after_sequence, response.sequence)
                    yield response
                    if response.end_state:
                        return
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or failures >= reconnects:
                    raise
            failures += 1
            time.sleep(min(2.0, 0.1 * 2**failures))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def __enter__(self) -> TravelClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
