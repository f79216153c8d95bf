"""Stream entries carry the slip as binary protobuf and still read entries written as protobuf JSON."""

from __future__ import annotations

import pytest
from test_bus_slip_json import full_slip

from bus import slip_json
from bus.entries import JSON_SLIP_FIELD, SLIP_FIELD, decode_entry, decode_slip, encode_slip, entry_fields
from bus.errors import UndecodableEntry


def as_dict(fields: list[str]) -> dict[str, str]:
    return dict(zip(fields[::2], fields[1::2], strict=True))


def test_an_entry_carries_plain_fields_and_the_binary_slip() -> None:
    slip = full_slip()
    fields = as_dict(entry_fields(slip, 1_900_000_000.25))
    assert {k: fields[k] for k in ("saga_id", "session_id", "step", "phase", "attempt")} == {
        "saga_id": "g1", "session_id": "s1", "step": "hotel.cancel", "phase": "compensating", "attempt": "3"
    }  # fmt: skip
    assert JSON_SLIP_FIELD not in fields
    assert fields[SLIP_FIELD].isascii()
    delivery = decode_entry("5-0", fields)
    assert delivery.slip == slip and delivery.sent_at == 1_900_000_000.25


def test_an_entry_written_with_the_slip_as_protobuf_json_still_decodes() -> None:
    slip = full_slip()
    fields = as_dict(entry_fields(slip, 1.0))
    del fields[SLIP_FIELD]
    fields[JSON_SLIP_FIELD] = slip_json.dumps(slip)
    assert decode_entry("5-0", fields).slip == slip


def test_the_binary_slip_round_trips() -> None:
    assert decode_slip(encode_slip(full_slip())) == full_slip()


@pytest.mark.parametrize("bad", ["@@not base64@@", "AAAA", "x"])
def test_a_damaged_binary_slip_is_undecodable(bad: str) -> None:
    fields = {"saga_id": "g1", SLIP_FIELD: bad}
    with pytest.raises(UndecodableEntry):
        decode_entry("5-0", fields)


def test_an_entry_without_a_slip_is_undecodable() -> None:
    with pytest.raises(UndecodableEntry, match="no slip"):
        decode_entry("5-0", {"saga_id": "g1"})
