"""Ids on their way into provider URLs: checked against the catalog id pattern, encoded whole."""

from __future__ import annotations

import pytest

from kit.errors import FieldViolation
from services.provider_client.client import provider_path
from services.reservations.validation import check_id


@pytest.mark.parametrize("value", ["HTL-LIS-01", "FL-LIS-MAD-20300201-1", "a.b_c-9"])
def test_catalog_ids_pass(value: str) -> None:
    violations: list[FieldViolation] = []
    check_id(value, "hotelId", violations)
    assert violations == []


@pytest.mark.parametrize(
    "value", ["", "../holds", "..", ".hidden", "HTL\tLIS", "HTL-LIS-01\n", "a/b", "a b", "é", "x" * 65]
)
def test_anything_else_is_refused_naming_the_field(value: str) -> None:
    violations: list[FieldViolation] = []
    check_id(value, "outboundFlightId", violations)
    assert [v.field for v in violations] == ["outboundFlightId"]


def test_each_segment_is_encoded_whole() -> None:
    assert provider_path("hotels", "HTL-LIS-01") == "/hotels/HTL-LIS-01"
    assert provider_path("holds", "a/b?c#d", "cancel") == "/holds/a%2Fb%3Fc%23d/cancel"
    assert provider_path("flights", "x\ty") == "/flights/x%09y"


@pytest.mark.parametrize("segment", ["", ".", ".."])
def test_a_segment_that_would_climb_or_vanish_is_never_built(segment: str) -> None:
    with pytest.raises(ValueError):
        provider_path("holds", segment)
