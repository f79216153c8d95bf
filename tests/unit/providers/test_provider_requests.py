"""Request parsing: every refusal names its field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from simulated_world.providers.domain import requests
from simulated_world.providers.domain.errors import InvalidField

TODAY = date(2030, 5, 1)
STAY = {
    "hotelId": "HTL-LIS-01",
    "checkIn": "2030-05-10",
    "checkOut": "2030-05-12",
    "guests": 2,
    "reference": "r",
}


def test_a_good_stay_parses() -> None:
    parsed = requests.hotel_hold(STAY, TODAY)
    assert (parsed.check_in, parsed.check_out, parsed.guests) == (date(2030, 5, 10), date(2030, 5, 12), 2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"checkOut": "2030-05-10"}, "checkOut"),
        ({"checkOut": "2030-07-10"}, "checkOut"),
        ({"checkIn": "2030-04-30"}, "checkIn"),
        ({"checkIn": "2031-05-10", "checkOut": "2031-05-11"}, "checkIn"),
        ({"guests": 0}, "guests"),
        ({"guests": 10}, "guests"),
        ({"guests": True}, "guests"),
        ({"hotelId": 5}, "hotelId"),
        ({"reference": "x" * 201}, "reference"),
    ],
)
def test_bad_stays_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        requests.hotel_hold(STAY | changes, TODAY)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": -1}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"webhookUrl": "/relative"}, "webhookUrl"),
    ],
)
def test_bad_payments_name_the_field(changes: dict[str, Any], field: str) -> None:
    body = {"amount": 100, "currency": "EUR", "reference": "r", "webhookUrl": "http://h/x"} | changes
    with pytest.raises(InvalidField) as refused:
        requests.payment(body)
    assert refused.value.field == field


def test_pages_take_a_token_or_an_offset() -> None:
    assert requests.page({}) == requests.Page(0, 50)
    assert requests.page({"pageToken": "20", "pageSize": "10"}) == requests.Page(20, 10)
    assert requests.page({"offset": "5"}) == requests.Page(5, 50)
    with pytest.raises(InvalidField):
        requests.page({"pageSize": "501"})
