"""Request checks shared by hotel and flight reservations: dates, party sizes, catalog ids. Pure."""

from __future__ import annotations

import re
from datetime import date

from kit.errors import FieldViolation

MAX_PARTY = 9
MAX_ID = 64
# The same pattern as the catalog id rules of the hotel and flights protos (a test holds them equal).
CATALOG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_CATALOG_ID = re.compile(CATALOG_ID_PATTERN)


def parse_day(text: str, field: str, violations: list[FieldViolation]) -> date | None:
    if not text:
        violations.append(FieldViolation(field, "is required (YYYY-MM-DD)"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        violations.append(FieldViolation(field, f"{text!r} is not a date (YYYY-MM-DD)"))
        return None


def check_not_past(day: date | None, today: date, field: str, violations: list[FieldViolation]) -> None:
    if day is not None and day < today:
        violations.append(FieldViolation(field, "must not be in the past"))


def check_party(size: int, field: str, violations: list[FieldViolation]) -> None:
    if not 1 <= size <= MAX_PARTY:
        violations.append(FieldViolation(field, f"must be between 1 and {MAX_PARTY}"))


def check_id(value: str, field: str, violations: list[FieldViolation]) -> None:
    """A catalog id goes into a provider URL: only the characters of the id pattern may pass."""
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > MAX_ID:
        violations.append(FieldViolation(field, f"must be at most {MAX_ID} characters"))
    elif not _CATALOG_ID.fullmatch(value):
        violations.append(FieldViolation(field, f"must match {CATALOG_ID_PATTERN}"))
