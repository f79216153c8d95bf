"""Resolve dotted field paths and set fields from URL strings (path variables, query params); pure."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

_INT_RANGES: dict[int, tuple[int, int]] = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_STRING_CODED_MESSAGES = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
}
_WRAPPERS = {
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}


class FieldValueError(ValueError):
    """A URL value cannot set the named field; `field` is the dotted path the client used."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


def field_named(message: Descriptor, name: str) -> FieldDescriptor | None:
    """A field by its proto name or its lowerCamelCase JSON name."""
    return message.fields_by_name.get(name) or message.fields_by_camelcase_name.get(name)


def resolve_field_path(message: Descriptor, dotted: str) -> tuple[FieldDescriptor, ...]:
    """The chain of fields for `a.b.c`; every step but the last must be a singular message."""
    chain: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for part in dotted.split("."):
        if current is None:
            raise FieldValueError(dotted, f"{chain[-1].name} is not a message")
        field = field_named(current, part)
        if field is None:
            raise FieldValueError(dotted, "no such field")
        chain.append(field)
        if field.message_type is not None and not is_repeated(field):
            current = None if _is_leaf_message(field) else field.message_type
        else:
            current = None
    leaf = chain[-1]
    if leaf.message_type is not None and not _is_leaf_message(leaf):
        raise FieldValueError(dotted, "a message field cannot be set from a URL; set its fields")
    if is_repeated(leaf) and leaf.message_type is not None:
        raise FieldValueError(dotted, "repeated messages cannot be set from a URL")
    return tuple(chain)


def set_from_strings(
    message: Message, chain: Sequence[FieldDescriptor], values: Sequence[str], name: str
) -> None:
    """Set the field at `chain` from URL strings, converting to the field's type."""
    target = message
    for field in chain[:-1]:
        target = getattr(target, field.name)
    leaf = chain[-1]
    if is_repeated(leaf):
        getattr(target, leaf.name).extend(convert_scalar(leaf, raw, name) for raw in values)
        return
    if len(values) != 1:
        raise FieldValueError(name, "given more than once but the field is not repeated")
    if leaf.message_type is not None:
        _set_leaf_message(getattr(target, leaf.name), values[0], name)
        return
    setattr(target, leaf.name, convert_scalar(leaf, values[0], name))


def convert_scalar(field: FieldDescriptor, raw: str, name: str) -> Any:
    """A URL string as a Python value for a scalar or enum field; FieldValueError when it is not."""
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return raw
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        try:
            number = int(raw, 10)
        except ValueError:
            raise FieldValueError(name, f"expected an integer, got {raw!r}") from None
        if not low <= number <= high:
            raise FieldValueError(name, f"{raw} is out of range")
        return number
    if kind in _FLOATS:
        if raw in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[raw]
        try:
            value = float(raw)
        except ValueError:
            raise FieldValueError(name, f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise FieldValueError(name, f"expected a number, got {raw!r}")
        return value
    if kind == FieldDescriptor.TYPE_BOOL:
        if raw in ("true", "1"):
            return True
        if raw in ("false", "0"):
            return False
        raise FieldValueError(name, f"expected true or false, got {raw!r}")
    if kind == FieldDescriptor.TYPE_ENUM:
        return _enum_number(field, raw, name)
    if kind == FieldDescriptor.TYPE_BYTES:
        return _decode_bytes(raw, name)
    raise FieldValueError(name, "this field type cannot be set from a URL")


def _enum_number(field: FieldDescriptor, raw: str, name: str) -> int:
    enum = field.enum_type
    assert enum is not None  # only called for enum fields
    by_name = enum.values_by_name.get(raw)
    if by_name is not None:
        return int(by_name.number)
    if raw.lstrip("-").isdigit() and int(raw) in enum.values_by_number:
        return int(raw)
    allowed = ", ".join(enum.values_by_name)
    raise FieldValueError(name, f"expected one of {allowed}, got {raw!r}")


def _decode_bytes(raw: str, name: str) -> bytes:
    # The JSON mapping allows standard and URL-safe base64, with or without padding.
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raise FieldValueError(name, "expected base64") from None


def _set_leaf_message(target: Message, raw: str, name: str) -> None:
    full_name = target.DESCRIPTOR.full_name
    try:
        if full_name in _STRING_CODED_MESSAGES:
            target.FromJsonString(raw)  # type: ignore[attr-defined]
            return
    except ValueError as error:
        raise FieldValueError(name, str(error)) from None
    value_field = target.DESCRIPTOR.fields_by_name["value"]
    target.value = convert_scalar(value_field, raw, name)  # type: ignore[attr-defined,arg-type]


def is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _is_leaf_message(field: FieldDescriptor) -> bool:
    """Well-known messages whose JSON form is a single string or scalar."""
    if field.message_type is None:
        return False
    full_name = field.message_type.full_name
    return full_name in _STRING_CODED_MESSAGES or full_name in _WRAPPERS
