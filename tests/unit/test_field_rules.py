"""Field rules declared in the protos: what the services refuse, and that the published JSON Schema
refuses exactly the same values."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from travel.customers.v1 import customers_pb2
from travel.hotel.v1 import hotel_pb2
from travel.sessions.v1 import sessions_pb2

from kit.field_rules import json_schema_keywords, violations_of
from kit.grpc_status import rules_status
from services.customers.domain import email_problem

SESSION = "4c9d3f0e-58b5-4d7e-9a51-0f1f2a3b4c5d"


def fields_of(message: Message) -> dict[str, str]:
    return {v.field: v.description for v in violations_of(message)}


def test_a_well_formed_request_breaks_no_rule() -> None:
    stay = hotel_pb2.ReserveHotelRequest(
        session_id=SESSION, hotel_id="HTL-LIS-01", check_in="2030-02-01", check_out="2030-02-03", guests=2
    )
    assert violations_of(stay) == []
    assert violations_of(hotel_pb2.SearchHotelsRequest()) == [], "optional fields may stay unset"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hotel_id": "HTL-LIS\t01"}, "hotelId"),
        ({"hotel_id": "../holds"}, "hotelId"),
        ({"hotel_id": "HTL-LIS-01\n"}, "hotelId"),
        ({"hotel_id": "H" * 65}, "hotelId"),
        ({"hotel_id": ""}, "hotelId"),
        ({"session_id": "not-a-session"}, "sessionId"),
        ({"session_id": SESSION.upper().replace("-", "")}, "sessionId"),
        ({"check_in": "2030-02-30"}, "checkIn"),
        ({"check_in": "20300201"}, "checkIn"),
        ({"guests": 0}, "guests"),
        ({"guests": 10}, "guests"),
    ],
)
def test_each_broken_rule_names_its_field(changes: dict[str, Any], field: str) -> None:
    stay = hotel_pb2.ReserveHotelRequest(
        session_id=SESSION, hotel_id="HTL-LIS-01", check_in="2030-02-01", check_out="2030-02-03", guests=2
    )
    for name, value in changes.items():
        setattr(stay, name, value)
    assert list(fields_of(stay)) == [field]


def test_control_characters_are_refused_in_every_string_even_without_rules() -> None:
    report = sessions_pb2.AttachItemRequest(session_id=SESSION, customer_id="c\x1b[31m")
    report.item.hotel.hotel_name = "Grand\u0085Hotel"
    assert fields_of(report) == {
        "customerId": "must not contain control characters",
        "item.hotel.hotelName": "must not contain control characters",
    }
    expire = sessions_pb2.ExpireSessionsRequest(session_ids=[SESSION, "x\x00"])
    assert list(fields_of(expire)) == ["sessionIds[1]"]


@pytest.mark.parametrize(
    "email", ["\x00@x.com", "ana@example", "ana example.com", "@example.com", "ana@@x.com"]
)
def test_emails_are_checked_for_syntax(email: str) -> None:
    request = customers_pb2.RegisterRequest(email=email, name="Ana", password="correct horse")
    assert list(fields_of(request)) == ["email"]


@pytest.mark.parametrize("email", ["ana@b.local", "ana@x.invalid", "ana@mail.example.test"])
def test_an_address_at_a_reserved_name_is_well_formed_and_left_to_the_service(email: str) -> None:
    request = customers_pb2.RegisterRequest(email=email, name="Ana", password="correct horse")
    assert list(fields_of(request)) == []
    assert email_problem(email) is not None, "the customers service still refuses it (a 422)"


@pytest.mark.parametrize("email", ["ana..x@b.local", "ana@-b.local", "ana@@x.invalid"])
def test_a_malformed_address_at_a_reserved_name_breaks_the_rule(email: str) -> None:
    request = customers_pb2.RegisterRequest(email=email, name="Ana", password="correct horse")
    assert list(fields_of(request)) == ["email"]


def test_names_need_a_visible_character_and_passwords_a_length() -> None:
    request = customers_pb2.RegisterRequest(email="ana@example.com", name=" \u3000 ", password="short")
    assert set(fields_of(request)) == {"name", "password"}


def test_a_refusal_carries_the_field_violations_and_the_field_rules_marker() -> None:
    status = rules_status(violations_of(customers_pb2.LoginRequest()))
    assert status.code.name == "INVALID_ARGUMENT"
    assert "email: is required" in status.details


_REGISTER = customers_pb2.RegisterRequest.DESCRIPTOR.fields_by_name
_STAY = hotel_pb2.ReserveHotelRequest.DESCRIPTOR.fields_by_name
FIELDS: dict[str, tuple[type[Message], FieldDescriptor]] = {
    "email": (customers_pb2.RegisterRequest, _REGISTER["email"]),
    "name": (customers_pb2.RegisterRequest, _REGISTER["name"]),
    "password": (customers_pb2.RegisterRequest, _REGISTER["password"]),
    "hotelId": (hotel_pb2.ReserveHotelRequest, _STAY["hotel_id"]),
    "checkIn": (hotel_pb2.ReserveHotelRequest, _STAY["check_in"]),
    "city": (hotel_pb2.SearchHotelsRequest, hotel_pb2.SearchHotelsRequest.DESCRIPTOR.fields_by_name["city"]),
    "pageToken": (
        sessions_pb2.ListSessionsRequest,
        sessions_pb2.ListSessionsRequest.DESCRIPTOR.fields_by_name["page_token"],
    ),
}
CANDIDATES = [
    "",
    " ",
    "Ana",
    "  Ana  ",
    "\u00a0",
    "Ana\u00a0Lima",
    "ana@example.com",
    "ana@example",
    "ana@exa mple.com",
    "HTL-LIS-01",
    "HTL-LIS-01\n",
    "../holds",
    "2030-02-01",
    "2030-02-30",
    "LIS",
    "LI5",
    "AQAAABQ",
    "AQAAABR",
    "correct horse battery",
    "correct\thorse battery",
    "x" * 129,
    "\u2028",
]


@pytest.mark.parametrize("name", FIELDS)
def test_the_json_schema_and_the_services_agree(name: str) -> None:
    """Checked with an ECMA-262 regex engine, as OpenAPI reads patterns (Python's `$` would also
    match before a trailing newline, which the services refuse as a control character)."""
    message_class, field = FIELDS[name]
    schema = {"type": "string", **json_schema_keywords(field)}
    checker = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    for value in CANDIDATES:
        refused_here = any(v.field == name for v in violations_of(message_class(**{field.name: value})))
        refused_by_schema = not checker.is_valid(value)
        assert refused_here == refused_by_schema, (name, value)
