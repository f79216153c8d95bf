"""Opaque page tokens for listing sessions: base64url of a version byte and a 32-bit offset. Pure."""

from __future__ import annotations

import base64
import binascii
import struct

from kit.error_reasons import ErrorReason
from kit.errors import FieldViolation, InvalidArgument

_LAYOUT = struct.Struct(">BI")
_VERSION = 1
MAX_OFFSET = 2**32 - 1


def encode_page_token(offset: int) -> str:
    """The token that resumes a listing at `offset`."""
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset {offset} does not fit a page token")
    return base64.urlsafe_b64encode(_LAYOUT.pack(_VERSION, offset)).rstrip(b"=").decode("ascii")


def decode_page_token(token: str, field: str = "pageToken") -> int:
    """The offset a token stands for; InvalidArgument naming `field` for anything not issued here."""
    refusal = InvalidArgument(
        FieldViolation(field, "is not a page token this service issued"),
        reason=ErrorReason.PAGE_TOKEN_INVALID,
    )
    if not token.isascii() or len(token) != 7:
        raise refusal
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        raise refusal from None
    if len(raw) != _LAYOUT.size:
        raise refusal
    version, offset = _LAYOUT.unpack(raw)
    # Only the canonical spelling: a token has exactly one form, so none can be forged by padding bits.
    if version != _VERSION or encode_page_token(offset) != token:
        raise refusal
    return int(offset)
