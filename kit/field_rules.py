"""Request field rules declared in the protos (`travel.options.v1.rules`): checked here, published
by the gateway's OpenAPI document from the same declaration."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from travel.options.v1 import field_rules_pb2

from kit.error_reasons import LEGACY_FIELD_RULES_DOMAIN, ErrorReason
from kit.errors import FieldViolation

FieldRules = field_rules_pb2.FieldRules
# The google.rpc.ErrorInfo reason that marks a refusal as a broken field rule, i.e. a breach of the
# contract; its domain is the refusing process's (older servers sent VIOLATION_DOMAIN).
VIOLATION_REASON = ErrorReason.FIELD_RULES.value
VIOLATION_DOMAIN = LEGACY_FIELD_RULES_DOMAIN
# C0 controls, DEL and C1 controls: refused in every string field of every request.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UUID = re.compile(UUID_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_MAX_DEPTH = 32  # request messages nest a few levels; deeper is refused rather than walked
_INTEGERS = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_FORMATS = {
    field_rules_pb2.STRING_FORMAT_EMAIL: "email",
    field_rules_pb2.STRING_FORMAT_DATE: "date",
    field_rules_pb2.STRING_FORMAT_UUID: "uuid",
}


def rules_of(field: FieldDescriptor) -> FieldRules | None:
    """The field's declared rules, or None when it has none."""
    options = field.GetOptions()
    if not options.HasExtension(field_rules_pb2.rules):
        return None
    rules: FieldRules = options.Extensions[field_rules_pb2.rules]
    return rules


def is_public(method: Any) -> bool:
    """True when the RPC is declared callable without a bearer token."""
    return bool(method.GetOptions().Extensions[field_rules_pb2.public])


def violations_of(message: Message) -> list[FieldViolation]:
    """Every rule the message breaks, each naming the field by its JSON path (e.g. `item.hotel.hotelId`)."""
    return list(_walk(message, "", 0))


def json_schema_keywords(field: FieldDescriptor) -> dict[str, Any]:
    """The JSON Schema keywords that state the field's rules (for one value of a repeated field)."""
    rules = rules_of(field) or FieldRules()
    keywords: dict[str, Any] = {}
    if field.type == FieldDescriptor.TYPE_STRING:
        keywords["pattern"] = rules.pattern or _format_pattern(rules.format) or NO_CONTROL_CHARACTERS
        if rules.format in _FORMATS:
            keywords["format"] = _FORMATS[rules.format]
        if rules.min_len or rules.required:
            keywords["minLength"] = max(1, rules.min_len)
        if rules.max_len:
            keywords["maxLength"] = rules.max_len
        if not rules.required and (rules.pattern or rules.format or rules.min_len):
            # An empty string is proto3's unset, which an optional field accepts whatever its rules.
            return {"anyOf": [{"const": ""}, keywords]}
    elif field.cpp_type in _INTEGERS:
        if rules.HasField("minimum"):
            keywords["minimum"] = rules.minimum
        if rules.HasField("maximum"):
            keywords["maximum"] = rules.maximum
        if rules.required and not (rules.HasField("minimum") and rules.minimum > 0):
            keywords["not"] = {"const": 0}
        elif not rules.required and rules.HasField("minimum") and rules.minimum > 0:
            return {"anyOf": [{"const": 0}, keywords]}
    return keywords


def _format_pattern(kind: int) -> str:
    if kind == field_rules_pb2.STRING_FORMAT_UUID:
        return UUID_PATTERN
    if kind == field_rules_pb2.STRING_FORMAT_DATE:
        return DATE_PATTERN
    return ""


@dataclass(frozen=True)
class _FieldCheck:
    field: FieldDescriptor
    name: str
    check: Callable[[Any, str], str | None] | None
    rules: FieldRules


def _walk(message: Message, prefix: str, depth: int) -> Iterator[FieldViolation]:
    if depth > _MAX_DEPTH:
        yield FieldViolation(prefix.rstrip(".") or "request", "is nested too deeply")
        return
    for spec in _checks(message.DESCRIPTOR):
        name = prefix + spec.name
        field = spec.field
        value = getattr(message, field.name)
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                yield from _walk_map(field, value, name, depth)
                continue
            if spec.rules.max_items and len(value) > spec.rules.max_items:
                yield FieldViolation(name, f"must have at most {spec.rules.max_items} items")
            for index, item in enumerate(value):
                yield from _one(spec, item, f"{name}[{index}]", depth)
        elif field.message_type is not None:
            if message.HasField(field.name):
                yield from _walk(value, name + ".", depth + 1)
        else:
            yield from _one(spec, value, name, depth)


def _walk_map(field: FieldDescriptor, entries: Any, name: str, depth: int) -> Iterator[FieldViolation]:
    entry_type = field.message_type
    assert entry_type is not None  # only called for map fields
    value_field = entry_type.fields_by_name["value"]
    for key, value in entries.items():
        if isinstance(key, str) and _CONTROL.search(key):
            yield FieldViolation(name, "keys must not contain control characters")
        entry = f"{name}[{key!r}]"
        if value_field.message_type is not None:
            yield from _walk(value, entry + ".", depth + 1)
        elif isinstance(value, str) and _CONTROL.search(value):
            yield FieldViolation(entry, "must not contain control characters")


def _one(spec: _FieldCheck, value: Any, name: str, depth: int) -> Iterator[FieldViolation]:
    if isinstance(value, Message):
        yield from _walk(value, name + ".", depth + 1)
        return
    if spec.check is not None:
        problem = spec.check(value, name)
        if problem is not None:
            yield FieldViolation(name, problem)


@cache
def _checks(message: Descriptor) -> tuple[_FieldCheck, ...]:
    found = []
    for field in message.fields:
        rules = rules_of(field) or FieldRules()
        check: Callable[[Any, str], str | None] | None = None
        if field.type == FieldDescriptor.TYPE_STRING:
            check = _string_check(rules)
        elif field.cpp_type in _INTEGERS:
            check = _integer_check(rules)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            check = _enum_check(field, rules)
        found.append(_FieldCheck(field, field.json_name, check, rules))
    return tuple(found)


def _string_check(rules: FieldRules) -> Callable[[Any, str], str | None]:
    pattern = re.compile(rules.pattern) if rules.pattern else None

    def check(value: str, _: str) -> str | None:
        if not value:
            return "is required" if rules.required else None
        if _CONTROL.search(value):
            return "must not contain control characters"
        if rules.min_len and len(value) < rules.min_len:
            return f"must be at least {rules.min_len} characters"
        if rules.max_len and len(value) > rules.max_len:
            return f"must be at most {rules.max_len} characters"
        if pattern is not None and not pattern.search(value):
            return f"must match {rules.pattern}"
        return _format_problem(rules.format, value)

    return check


def _at_reserved_name(address: str) -> bool:
    """The address is at a special-use or reserved domain name (RFC 6761), and well formed otherwise:
    the same address with the reserved suffix swapped for `example.com` passes the syntax check."""
    local, at, domain = address.rpartition("@")
    domain = domain.lower().rstrip(".")
    reserved = next((d for d in SPECIAL_USE_DOMAIN_NAMES if domain == d or domain.endswith("." + d)), None)
    if not at or reserved is None:
        return False
    stand_in = domain.removesuffix(reserved) + "example.com"
    try:
        validate_email(f"{local}@{stand_in}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _format_problem(kind: int, value: str) -> str | None:
    if kind == field_rules_pb2.STRING_FORMAT_EMAIL:
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError as error:
            if _at_reserved_name(value):
                # Well formed, as the published `format: email` says; whether a service takes an
                # address at a special-use name (`.invalid`, `.local`) is its own rule (a 422).
                return None
            return f"is not a valid email address: {error}"
    elif kind == field_rules_pb2.STRING_FORMAT_UUID:
        if not _UUID.fullmatch(value):
            return "must be a UUID (8-4-4-4-12 hexadecimal digits)"
    elif kind == field_rules_pb2.STRING_FORMAT_DATE:
        if not _DATE.fullmatch(value):
            return "must be a date (YYYY-MM-DD)"
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{value!r} is not a calendar date"
    return None


def _integer_check(rules: FieldRules) -> Callable[[Any, str], str | None]:
    def check(value: int, _: str) -> str | None:
        if value == 0 and not rules.required:
            return None  # proto3's unset: the handler's default applies
        if value == 0:
            return "is required"
        if rules.HasField("minimum") and value < rules.minimum:
            return _range(rules)
        if rules.HasField("maximum") and value > rules.maximum:
            return _range(rules)
        return None

    return check


def _range(rules: FieldRules) -> str:
    if rules.HasField("minimum") and rules.HasField("maximum"):
        return f"must be between {rules.minimum} and {rules.maximum}"
    if rules.HasField("minimum"):
        return f"must be at least {rules.minimum}"
    return f"must be at most {rules.maximum}"


def _enum_check(field: FieldDescriptor, rules: FieldRules) -> Callable[[Any, str], str | None]:
    assert field.enum_type is not None  # only called for enum fields
    known = set(field.enum_type.values_by_number)

    def check(value: int, _: str) -> str | None:
        if value == 0 and rules.required:
            return "is required"
        if value not in known:
            return f"{value} is not a known value"
        return None

    return check
