"""Customer rules: what a valid registration is, and how emails compare. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from kit.error_reasons import ErrorReason
from kit.errors import FieldViolation, InvalidArgument

EMAIL_MAX = 254
NAME_MAX = 100
PASSWORD_MIN = 10
PASSWORD_MAX = 128


@dataclass(frozen=True)
class Customer:
    id: str
    email: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Registration:
    """A validated request to create a customer."""

    email: str
    name: str
    password: str

    @property
    def email_key(self) -> str:
        return normalize_email(self.email)


def email_problem(email: str) -> str | None:
    """What is wrong with an address's syntax, or None; never asks DNS."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        return f"is not a valid email address: {error}"
    return None


def normalize_email(email: str) -> str:
    """Emails are unique case-insensitively."""
    return email.strip().casefold()


def validate_registration(email: str, name: str, password: str) -> Registration:
    violations: list[FieldViolation] = []
    email = email.strip()
    name = name.strip()
    if not email:
        violations.append(FieldViolation("email", "is required"))
    elif len(email) > EMAIL_MAX:
        violations.append(FieldViolation("email", f"must be at most {EMAIL_MAX} characters"))
    elif (problem := email_problem(email)) is not None:
        violations.append(FieldViolation("email", problem))
    if not name:
        violations.append(FieldViolation("name", "is required"))
    elif len(name) > NAME_MAX:
        violations.append(FieldViolation("name", f"must be at most {NAME_MAX} characters"))
    if len(password) < PASSWORD_MIN:
        violations.append(FieldViolation("password", f"must be at least {PASSWORD_MIN} characters"))
    elif len(password) > PASSWORD_MAX:
        violations.append(FieldViolation("password", f"must be at most {PASSWORD_MAX} characters"))
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)
    return Registration(email=email, name=name, password=password)


def validate_login(email: str, password: str) -> None:
    violations: list[FieldViolation] = []
    if not email.strip():
        violations.append(FieldViolation("email", "is required"))
    elif len(email) > EMAIL_MAX:
        violations.append(FieldViolation("email", f"must be at most {EMAIL_MAX} characters"))
    if not password:
        violations.append(FieldViolation("password", "is required"))
    elif len(password) > PASSWORD_MAX:
        violations.append(FieldViolation("password", f"must be at most {PASSWORD_MAX} characters"))
    if violations:
        raise InvalidArgument(violations, reason=ErrorReason.INVALID_FIELD)
