"""Which methods an internal channel lets gRPC retry, read from the services' descriptors."""

from __future__ import annotations

import json

import pytest
from travel.hotel.v1 import hotel_pb2
from travel.sessions.v1 import sessions_pb2

from gateway.backends import retried_reads
from kit.retry_policy import RETRY_POLICY, idempotent_methods, service_config
from services.sessions.client import RETRIED

SESSIONS = sessions_pb2.DESCRIPTOR.services_by_name["SessionsService"]
HOTEL = hotel_pb2.DESCRIPTOR.services_by_name["HotelService"]


def test_the_arbiters_reads_and_its_two_idempotent_calls_are_retried_and_nothing_else() -> None:
    assert RETRIED == {
        "travel.sessions.v1.SessionsService": [
            "ExpireSessions",
            "GetSession",
            "ListSessionEvents",
            "ListSessions",
            "RecordPayment",
        ]
    }


def test_a_method_the_service_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="no method Reserve"):
        idempotent_methods(SESSIONS, also=("Reserve",))


def test_the_service_config_names_each_method_with_the_policy() -> None:
    config = json.loads(service_config(idempotent_methods(HOTEL)))
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    (method_config,) = config["methodConfig"]
    assert method_config["name"] == [{"service": "travel.hotel.v1.HotelService", "method": "SearchHotels"}]
    assert method_config["retryPolicy"] == dict(RETRY_POLICY)
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]


def test_an_empty_scope_retries_nothing() -> None:
    assert "methodConfig" not in json.loads(service_config({}))


def test_the_gateway_retries_the_reads_of_each_package_it_routes() -> None:
    scopes = retried_reads([("travel.sessions.v1", SESSIONS), ("travel.hotel.v1", HOTEL)])
    assert scopes["travel.hotel.v1"] == {"travel.hotel.v1.HotelService": ["SearchHotels"]}
    assert "CreateSession" not in scopes["travel.sessions.v1"]["travel.sessions.v1.SessionsService"]
