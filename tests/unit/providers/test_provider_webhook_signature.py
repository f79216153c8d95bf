"""Stripe-style signatures: sign and verify with the shared secret, refuse anything else."""

from __future__ import annotations

import pytest

from kit.webhook_signature import SignatureError, sign, verify

SECRET = "s3cret"
BODY = b'{"id":"evt_1","type":"payment.succeeded"}'


def test_a_signed_body_verifies() -> None:
    header = sign(SECRET, 1_700_000_000, BODY)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, header, BODY, now=1_700_000_100) == 1_700_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [("other", BODY, 1_700_000_000), (SECRET, BODY + b" ", 1_700_000_000), (SECRET, BODY, 1_700_000_301)],
)
def test_wrong_secret_tampered_body_or_stale_timestamp_fail(secret: str, body: bytes, now: float) -> None:
    with pytest.raises(SignatureError):
        verify(secret, sign(SECRET, 1_700_000_000, BODY), body, now=now)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", "t=1700000000", "v1=00"])
def test_malformed_headers_fail(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(SECRET, header, BODY, now=1_700_000_000)


def test_any_of_several_signatures_may_match() -> None:
    good = sign(SECRET, 1_700_000_000, BODY).split(",")[1]
    assert verify(SECRET, f"t=1700000000,v1=deadbeef,{good}", BODY, now=1_700_000_000)
