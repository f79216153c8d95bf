"""Registration and login validation rules."""

import pytest

from kit.errors import InvalidArgument
from services.customers.domain import normalize_email, validate_login, validate_registration


def fields(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}


def test_valid_registration_is_trimmed() -> None:
    registration = validate_registration("  Ana@Example.com ", " Ana ", "correct horse battery")
    assert registration.email == "Ana@Example.com"
    assert registration.name == "Ana"
    assert registration.email_key == "ana@example.com"


@pytest.mark.parametrize(
    ("email", "name", "password", "bad"),
    [
        ("", "Ana", "long enough pw", {"email"}),
        ("not-an-email", "Ana", "long enough pw", {"email"}),
        ("a@b", "Ana", "long enough pw", {"email"}),
        ("a" * 250 + "@x.com", "Ana", "long enough pw", {"email"}),
        ("a@b.com", "", "long enough pw", {"name"}),
        ("a@b.com", "N" * 101, "long enough pw", {"name"}),
        ("a@b.com", "Ana", "short", {"password"}),
        ("a@b.com", "Ana", "p" * 129, {"password"}),
        ("", "", "", {"email", "name", "password"}),
    ],
)
def test_invalid_registration_names_every_field(email: str, name: str, password: str, bad: set[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_registration(email, name, password)
    assert fields(caught.value) == bad


def test_email_comparison_ignores_case() -> None:
    assert normalize_email("ANA@Example.COM") == normalize_email("ana@example.com")


def test_login_requires_both_fields() -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_login("", "")
    assert fields(caught.value) == {"email", "password"}
