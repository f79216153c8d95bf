"""Page tokens: opaque, one spelling per offset, and nothing else decodes."""

from __future__ import annotations

import re

import pytest
from travel.sessions.v1 import sessions_pb2

from kit.errors import InvalidArgument
from kit.field_rules import rules_of
from services.sessions.page_tokens import MAX_OFFSET, decode_page_token, encode_page_token

RULES = rules_of(sessions_pb2.ListSessionsRequest.DESCRIPTOR.fields_by_name["page_token"])
assert RULES is not None
PATTERN = re.compile(RULES.pattern)


@pytest.mark.parametrize("offset", [0, 1, 20, 65_535, MAX_OFFSET])
def test_a_token_decodes_to_its_offset_and_fits_the_published_pattern(offset: int) -> None:
    token = encode_page_token(offset)
    assert decode_page_token(token) == offset
    assert PATTERN.fullmatch(token)


def test_every_string_the_pattern_admits_decodes() -> None:
    """The contract's pattern is exact: a schema-valid token is never refused."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for second in "QRSTUVWXYZabcdef":
        for last in "AEIMQUYcgkosw048":
            for middle in ("AAAA", "____", "zZ09", "-a_B"):
                token = f"A{second}{middle}{last}"
                assert PATTERN.fullmatch(token)
                assert encode_page_token(decode_page_token(token)) == token
    assert all(c in alphabet for c in encode_page_token(123456))


@pytest.mark.parametrize(
    "token",
    ["²", "99999999999999999999999", "20", "AQAAABR", "AQAAABQ=", "BQAAABQ", "AQAAAB", "AQAAABQA", "AQ AABQ"],
)
def test_anything_not_issued_here_is_refused_naming_the_field(token: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        decode_page_token(token)
    assert [v.field for v in refused.value.violations] == ["pageToken"]


def test_an_offset_beyond_32_bits_has_no_token() -> None:
    with pytest.raises(ValueError):
        encode_page_token(MAX_OFFSET + 1)
