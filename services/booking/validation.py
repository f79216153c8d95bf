"""Request checks shared by hotel and flight reservations: dates, party sizes, ids. Pure."""

from __future__ import annotations

from datetime import date

from services.kit.errors import FieldViolation

MAX_PARTY = 9


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
    if not value.strip():
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > 64:
        violations.append(FieldViolation(field, "must be at most 64 characters"))
