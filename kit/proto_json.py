"""Protobuf messages to the dict `json_format.MessageToDict(m, always_print_fields_with_no_presence=True)`
gives, key for key and in the same order, from a plan made once per message type.

json_format looks every field's kind up on every call; a gateway answer or event-stream frame paid
a sixth of the gateway's CPU for it. Well-known types other than Timestamp, and any message type
with a field kind the plan does not cover (floats, closed enums, extensions), go to json_format.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kit.timestamps import timestamp_text

Convert = Callable[[Any], Any]

_TIMESTAMP = "google.protobuf.Timestamp"
_INT64 = frozenset({FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64})
_PLAIN = frozenset({FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_UINT32})


class _Unplanned(Exception):
    """A field kind the plan leaves to json_format."""


# How a field is printed: set or not by its presence, by its value against the default, or by
# being non-empty (repeated and map fields).
_PRESENCE, _SINGLE, _REPEATED, _MAP = range(4)


@dataclass(frozen=True)
class _PrintedField:
    name: str
    key: str
    mode: int
    convert: Convert
    default: Any


@dataclass(frozen=True)
class _PrintPlan:
    # (name, key, mode, convert, default) by field number: json_format prints set fields first.
    by_number: tuple[tuple[str, str, int, Convert, Any], ...]
    # (key, mode, what an unset field prints) of fields without presence, in declaration order.
    unset: tuple[tuple[str, int, Any], ...]


def message_to_dict(message: Message) -> dict[str, Any]:
    """What `json_format.MessageToDict(message, always_print_fields_with_no_presence=True)` returns."""
    plan = _plan(message.DESCRIPTOR)
    if plan is None:
        return _printed(message)
    out: dict[str, Any] = {}
    for name, key, mode, convert, default in plan.by_number:
        if mode == _PRESENCE:
            if message.HasField(name):
                out[key] = convert(getattr(message, name))
            continue
        value = getattr(message, name)
        if value != default if mode == _SINGLE else value:
            out[key] = convert(value)
    for key, mode, shown in plan.unset:
        if key not in out:
            out[key] = [] if mode == _REPEATED else {} if mode == _MAP else shown
    return out


def _printed(message: Message) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


@cache
def _plan(descriptor: Descriptor) -> _PrintPlan | None:
    if descriptor.full_name.startswith("google.protobuf."):
        return None
    try:
        fields = [_field(f) for f in descriptor.fields]
    except _Unplanned:
        return None
    numbers = {f.name: f.number for f in descriptor.fields}
    by_number = tuple(
        (f.name, f.key, f.mode, f.convert, f.default) for f in sorted(fields, key=lambda f: numbers[f.name])
    )
    unset = tuple(
        (f.key, f.mode, f.convert(f.default) if f.mode == _SINGLE else None)
        for f in fields
        if f.mode != _PRESENCE
    )
    return _PrintPlan(by_number, unset)


def _field(field: FieldDescriptor) -> _PrintedField:
    if field.is_extension:
        raise _Unplanned(field.full_name)
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        key_field = message_type.fields_by_name["key"]
        value = _value(message_type.fields_by_name["value"])
        key: Convert = _bool_key if key_field.cpp_type == FieldDescriptor.CPPTYPE_BOOL else str
        return _PrintedField(field.name, field.json_name, _MAP, _map(key, value), None)
    value = _value(field)
    if field.is_repeated:
        return _PrintedField(field.name, field.json_name, _REPEATED, _each(value), None)
    mode = _PRESENCE if field.has_presence else _SINGLE
    return _PrintedField(field.name, field.json_name, mode, value, field.default_value)


def _value(field: FieldDescriptor) -> Convert:
    kind = field.cpp_type
    if field.message_type is not None:
        if field.message_type.full_name == _TIMESTAMP:
            return _timestamp
        return message_to_dict
    enum = field.enum_type
    if enum is not None:
        if enum.is_closed or enum.full_name == "google.protobuf.NullValue":
            raise _Unplanned(field.full_name)
        names = {value.number: value.name for value in enum.values}
        return lambda number: names.get(number, number)
    if kind == FieldDescriptor.CPPTYPE_STRING:
        return _base64 if field.type == FieldDescriptor.TYPE_BYTES else str
    if kind in _INT64:
        return str
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return bool
    if kind in _PLAIN:
        return _same
    raise _Unplanned(field.full_name)  # float and double: json_format's own rules


def _timestamp(stamp: Any) -> str:
    return timestamp_text(stamp.seconds, stamp.nanos)


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _bool_key(key: bool) -> str:
    return "true" if key else "false"


def _same(value: Any) -> Any:
    return value


def _each(convert: Convert) -> Convert:
    return lambda values: [convert(value) for value in values]


def _map(key: Convert, convert: Convert) -> Convert:
    return lambda mapping: {key(k): convert(mapping[k]) for k in mapping}
