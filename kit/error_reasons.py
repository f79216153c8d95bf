"""Why a call was refused: the ErrorReason enum of protos/travel/common/v1/errors.proto, pure.

Each member's value is the proto value's name without its `ERROR_REASON_` prefix, the string a
google.rpc.ErrorInfo carries as `reason`; a unit test keeps the two sets of names equal.
"""

from __future__ import annotations

from enum import StrEnum

# The domain of an ErrorInfo is `<service>.travel.example`: one DNS-like name per process; the
# bare product name where no process is named (tests, tools).
PRODUCT_DOMAIN = "travel.example"
# What servers before the per-process domains sent with FIELD_RULES; still understood.
LEGACY_FIELD_RULES_DOMAIN = "travel.options.v1"


def error_domain(service: str) -> str:
    """The ErrorInfo domain of a service, e.g. `sessions.travel.example`."""
    return f"{service}.{PRODUCT_DOMAIN}"


def is_product_domain(domain: str) -> bool:
    """True for a domain this product's processes send."""
    return domain in (PRODUCT_DOMAIN, LEGACY_FIELD_RULES_DOMAIN) or domain.endswith(f".{PRODUCT_DOMAIN}")


class ErrorReason(StrEnum):
    FIELD_RULES = "FIELD_RULES"
    INVALID_FIELD = "INVALID_FIELD"
    UNKNOWN_CATALOG_ITEM = "UNKNOWN_CATALOG_ITEM"
    PAGE_TOKEN_INVALID = "PAGE_TOKEN_INVALID"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    HTTP_METHOD_NOT_ALLOWED = "HTTP_METHOD_NOT_ALLOWED"

    TOKEN_MISSING = "TOKEN_MISSING"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    CREDENTIALS_INVALID = "CREDENTIALS_INVALID"
    METHOD_UNKNOWN = "METHOD_UNKNOWN"
    CALLER_NOT_ALLOWED = "CALLER_NOT_ALLOWED"
    ADMIN_REQUIRED = "ADMIN_REQUIRED"

    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
    DEAD_LETTER_NOT_FOUND = "DEAD_LETTER_NOT_FOUND"
    PROVIDER_NOT_FOUND = "PROVIDER_NOT_FOUND"
    EMAIL_TAKEN = "EMAIL_TAKEN"

    SESSION_NOT_OPEN = "SESSION_NOT_OPEN"
    SESSION_EXPIRED = "SESSION_EXPIRED"
    NOTHING_TO_PAY = "NOTHING_TO_PAY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    CHECKOUT_NOT_REOPENABLE = "CHECKOUT_NOT_REOPENABLE"
    SESSION_NOT_CANCELLABLE = "SESSION_NOT_CANCELLABLE"
    DEAD_LETTER_UNREADABLE = "DEAD_LETTER_UNREADABLE"
    PROVIDER_REFUSED = "PROVIDER_REFUSED"
    CONCURRENT_CHANGE = "CONCURRENT_CHANGE"

    RATE_LIMITED = "RATE_LIMITED"
    OPEN_SESSION_LIMIT = "OPEN_SESSION_LIMIT"
    OVERLOADED = "OVERLOADED"

    DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"
    INTERNAL = "INTERNAL"
    REFUSED = "REFUSED"
