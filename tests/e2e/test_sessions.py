"""Purchase sessions end to end: holds, expiry, customer cancel, late attach, at 0% and 30% chaos."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.booking import Customer, assert_released, holds_of, set_chaos, trip_dates
from tests.e2e.system import RunningSystem, running_system

pytestmark = pytest.mark.e2e

TTL_SECONDS = 6
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def error_info(body: dict[str, Any]) -> dict[str, Any]:
    """The one google.rpc.ErrorInfo of an error body."""
    [info] = [detail for detail in body["details"] if detail["@type"] == ERROR_INFO]
    return info


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(
        tmp_path_factory.mktemp("sessions"), redis_url, {"SESSION_TTL_SECONDS": str(TTL_SECONDS)}
    ) as running:
        yield running


@pytest.fixture(params=[0.0, 0.3], ids=["no-chaos", "chaos-30"])
def chaos(request: pytest.FixtureRequest, system: RunningSystem) -> Iterator[float]:
    set_chaos(system, {"failureRate": request.param, "ambiguousRate": 0.0, "latencyMs": 0, "seed": 7})
    yield request.param
    set_chaos(system, {"failureRate": 0.0, "ambiguousRate": 0.0, "latencyMs": 0})


def test_session_with_hotel_and_round_trip(system: RunningSystem, chaos: float) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    session = customer.session(session_id)
    assert session["state"] == "STATE_OPEN"
    kinds = sorted(next(iter(item)) for item in session["items"])
    assert kinds == ["flights", "hotel"]
    prices = [session["items"][0], session["items"][1]]
    hotel = next(i["hotel"] for i in prices if "hotel" in i)
    trip = next(i["flights"] for i in prices if "flights" in i)
    expected = (
        int(hotel["price"]["amount"])
        + int(trip["outbound"]["price"]["amount"])
        + int(trip["returnLeg"]["price"]["amount"])
    )
    assert int(session["total"]["amount"]) == expected
    assert session["expiresAt"]
    assert {h["status"] for h in holds_of(system, session_id)} == {"HELD"}
    # The stay, and both legs of the round trip as one hold.
    assert len(holds_of(system, session_id)) == 2


def test_expiry_releases_every_hold(system: RunningSystem, chaos: float) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    expired = customer.wait_state(session_id, {"STATE_EXPIRED"}, timeout=TTL_SECONDS + 60)
    assert expired["reason"] == "EXPIRED"
    assert_released(system, session_id)


def test_customer_cancel_releases_every_hold(system: RunningSystem, chaos: float) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    cancelling = customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})["session"]
    assert cancelling["state"] in {"STATE_CANCELLING", "STATE_CANCELLED"}
    final = customer.wait_state(session_id, {"STATE_CANCELLED"})
    assert final["reason"] == "CUSTOMER_CANCELLED"
    assert_released(system, session_id)


def test_late_attach_after_expiry_releases_its_hold(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.open_session()
    # Two slow provider calls (look-up, hold) end after the deadline: the attach is refused and
    # the hold released. Each call stays under the services' provider timeout.
    set_chaos(system, {"failureRate": 0.0, "latencyMs": (TTL_SECONDS * 1000 * 2) // 3})
    try:
        check_in, check_out = trip_dates()
        response = customer.call(
            "POST",
            f"/v1/sessions/{session_id}/hotel",
            {"hotelId": "HTL-LIS-02", "checkIn": check_in, "checkOut": check_out, "guests": 1},
        )
    finally:
        set_chaos(system, {"latencyMs": 0})
    assert response.status_code == 409, response.text
    # Past its deadline the session is refused as expired, or as not open once expiry began.
    assert error_info(response.json())["reason"] in {"SESSION_EXPIRED", "SESSION_NOT_OPEN"}
    customer.wait_state(session_id, {"STATE_EXPIRED"})
    assert_released(system, session_id)


def test_replacing_the_hotel_releases_the_old_hold(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.open_session()
    customer.hold_hotel(session_id, "HTL-LIS-01")
    session = customer.hold_hotel(session_id, "HTL-LIS-03")
    assert [i["hotel"]["hotelId"] for i in session["items"]] == ["HTL-LIS-03"]

    def old_released() -> bool:
        statuses = sorted(h["status"] for h in holds_of(system, session_id))
        return statuses == ["CANCELLED", "HELD"]

    from tests.e2e.system import wait_for

    wait_for(old_released, 30, "the replaced hold to be released")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "hotel",
            {"hotelId": "HTL-LIS-01", "checkIn": "2031-01-05", "checkOut": "2031-01-05", "guests": 1},
            "checkOut",
        ),
        (
            "hotel",
            {"hotelId": "HTL-LIS-01", "checkIn": "2020-01-05", "checkOut": "2020-01-07", "guests": 1},
            "checkIn",
        ),
        (
            "hotel",
            {"hotelId": "HTL-LIS-01", "checkIn": "2031-01-05", "checkOut": "2031-01-07", "guests": 0},
            "guests",
        ),
        (
            "hotel",
            {"hotelId": "HTL-LIS-01", "checkIn": "2031-01-05", "checkOut": "2031-01-07", "guests": 10},
            "guests",
        ),
        ("hotel", {"hotelId": "HTL-NOPE-01", "checkIn": "DAY1", "checkOut": "DAY2", "guests": 1}, "hotelId"),
        (
            "flights",
            {"outboundFlightId": "FL-NOPE", "returnFlightId": "FL-NOPE2", "passengers": 1},
            "outboundFlightId",
        ),
        (
            "flights",
            {"outboundFlightId": "OUT:LIS-MAD", "returnFlightId": "BACK:MAD-OPO", "passengers": 1},
            "returnFlightId",
        ),
        (
            "flights",
            {"outboundFlightId": "OUT:LIS-MAD", "returnFlightId": "EARLY:MAD-LIS", "passengers": 1},
            "returnFlightId",
        ),
        (
            "flights",
            {"outboundFlightId": "OUT:LIS-MAD", "returnFlightId": "BACK:MAD-LIS", "passengers": 0},
            "passengers",
        ),
    ],
)
def test_bad_holds_name_the_field_and_hold_nothing(
    system: RunningSystem, path: str, body: dict, field: str
) -> None:
    from tests.e2e.booking import flight_id

    day1, day2 = trip_dates()
    early = trip_dates(offset_days=5)[0]
    replacements = {
        "DAY1": day1,
        "DAY2": day2,
        "OUT:LIS-MAD": flight_id("LIS", "MAD", day1),
        "BACK:MAD-OPO": flight_id("MAD", "OPO", day2),
        "BACK:MAD-LIS": flight_id("MAD", "LIS", day2),
        "EARLY:MAD-LIS": flight_id("MAD", "LIS", early),
    }
    body = {k: replacements.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    customer = Customer.signed_up(system)
    session_id = customer.open_session()
    response = customer.call("POST", f"/v1/sessions/{session_id}/{path}", body)
    # 400 when the body breaks the published field rules, 422 when a rule they cannot state refuses it.
    assert response.status_code in (400, 422), response.text
    assert field in response.text
    assert holds_of(system, session_id) == []
    assert customer.session(session_id)["items"] == []


def test_someone_elses_session_is_not_found(system: RunningSystem) -> None:
    owner, stranger = Customer.signed_up(system), Customer.signed_up(system)
    session_id = owner.open_session()
    assert stranger.call("GET", f"/v1/sessions/{session_id}").status_code == 404
    day1, day2 = trip_dates()
    body = {"hotelId": "HTL-LIS-01", "checkIn": day1, "checkOut": day2, "guests": 1}
    assert stranger.call("POST", f"/v1/sessions/{session_id}/hotel", body).status_code == 404
    assert stranger.call("POST", f"/v1/sessions/{session_id}:cancel", {}).status_code == 404
    # The arbiter judges the session when the hold is attached: the refused hold is released at once.
    assert {hold["status"] for hold in holds_of(system, session_id)} <= {"CANCELLED"}
    assert owner.session(session_id)["items"] == []


def test_malformed_session_id_is_invalid(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    response = customer.call("GET", "/v1/sessions/not-a-uuid")
    assert response.status_code == 400
    assert "id" in response.text


def test_adding_to_a_cancelled_session_is_refused(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.open_session()
    customer.ok("POST", f"/v1/sessions/{session_id}:cancel", {})
    customer.wait_state(session_id, {"STATE_CANCELLED"})
    day1, day2 = trip_dates()
    body = {"hotelId": "HTL-LIS-01", "checkIn": day1, "checkOut": day2, "guests": 1}
    refused = customer.call("POST", f"/v1/sessions/{session_id}/hotel", body)
    assert refused.status_code == 409
    # The hotel service relays the sessions service's refusal, reason and domain as they were.
    info = error_info(refused.json())
    assert (info["reason"], info["domain"]) == ("SESSION_NOT_OPEN", "sessions.travel.example")
    assert info["metadata"]["session_id"] == session_id
    assert {hold["status"] for hold in holds_of(system, session_id)} <= {"CANCELLED"}
