"""Login and registration limits: what an attempt counts against, and when it is refused."""

import pytest

from services.customers.attempt_limits import (
    Action,
    AttemptLimits,
    Count,
    RateLimit,
    address_group,
    counters,
    refusal,
)

LIMITS = AttemptLimits(
    login_per_email=RateLimit(3, 60),
    login_per_address=RateLimit(5, 60),
    register_per_email=RateLimit(2, 30),
    register_per_address=RateLimit(4, 30),
)


def test_an_attempt_counts_against_its_email_and_its_address() -> None:
    email, address = counters(Action.LOGIN, "ana@example.com", "203.0.113.7", LIMITS)
    assert (email.name, email.limit) == ("login:email", RateLimit(3, 60))
    assert (address.name, address.limit) == ("login:address", RateLimit(5, 60))
    assert "ana" not in email.subject and "203" not in address.subject
    other = counters(Action.LOGIN, "bo@example.com", "203.0.113.8", LIMITS)
    assert other[0].subject != email.subject and other[1].subject != address.subject


def test_registration_has_its_own_counters() -> None:
    email, address = counters(Action.REGISTER, "ana@example.com", "203.0.113.7", LIMITS)
    assert (email.name, email.limit) == ("register:email", RateLimit(2, 30))
    assert (address.name, address.limit) == ("register:address", RateLimit(4, 30))


def test_ipv6_clients_are_counted_by_their_64_prefix() -> None:
    assert address_group("2001:db8:1:2::1") == address_group("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_group("192.0.2.1") == "192.0.2.1"
    assert address_group("unix:/tmp/socket") == "unix:/tmp/socket"


def test_at_the_limit_is_allowed_and_over_it_is_refused_until_the_window_resets() -> None:
    email, address = counters(Action.LOGIN, "ana@example.com", "203.0.113.7", LIMITS)
    assert refusal(Action.LOGIN, [Count(email, 3, 10_000), Count(address, 5, 10_000)]) is None
    refused = refusal(Action.LOGIN, [Count(email, 4, 12_001), Count(address, 4, 50_000)])
    assert refused is not None
    assert refused.retry_after_seconds == 13
    assert refused.subject == "login:email"
    assert "at most 3 per 60 s" in refused.message and "this email" in refused.message


def test_over_both_limits_waits_for_the_later_reset() -> None:
    email, address = counters(Action.REGISTER, "ana@example.com", "203.0.113.7", LIMITS)
    refused = refusal(Action.REGISTER, [Count(email, 9, 2_000), Count(address, 9, 25_500)])
    assert refused is not None and refused.retry_after_seconds == 26


def test_a_window_about_to_reset_still_asks_for_one_second() -> None:
    email, address = counters(Action.LOGIN, "ana@example.com", "203.0.113.7", LIMITS)
    refused = refusal(Action.LOGIN, [Count(email, 1, 0), Count(address, 6, 0)])
    assert refused is not None
    assert refused.retry_after_seconds == 1 and refused.subject == "login:address"


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (5, 0)])
def test_a_limit_needs_a_positive_count_and_window(limit: int, window: int) -> None:
    with pytest.raises(ValueError):
        RateLimit(limit, window)
