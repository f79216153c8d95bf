"""kit.proto_json gives json_format's dict, key for key and in the same order, for every message type
the services define: empty, fully populated with random values, and with each field alone set."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    json_format,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from gateway.descriptors import load_generated_files
from kit.proto_json import message_to_dict

INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def message_types() -> Iterator[Descriptor]:
    seen: set[str] = set()

    def walk(descriptor: Descriptor) -> Iterator[Descriptor]:
        if descriptor.full_name in seen or descriptor.GetOptions().map_entry:
            return
        seen.add(descriptor.full_name)
        yield descriptor
        for nested in descriptor.nested_types:
            yield from walk(nested)

    for file in load_generated_files():
        for descriptor in file.message_types_by_name.values():
            yield from walk(descriptor)


def scalar(field: FieldDescriptor, rng: random.Random) -> object:
    kind = field.cpp_type
    if field.enum_type is not None:
        numbers = [value.number for value in field.enum_type.values]
        # An open enum may hold a number it does not name: json_format prints the number.
        return rng.choice([*numbers, max(numbers) + 7])
    if kind == FieldDescriptor.CPPTYPE_STRING:
        if field.type == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.randint(0, 9))
        return rng.choice(["", "a", "Lisboa ação 東京", "x" * rng.randint(1, 30), '"quoted"\n'])
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return rng.random() < 0.5
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        return rng.choice([0, 1, low, high, rng.randint(low, high)])
    return rng.uniform(-1e6, 1e6)


def fill(message: Message, rng: random.Random, depth: int = 0) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.containing_oneof is not None and rng.random() < 0.5:
            continue
        fill_field(message, field, rng, depth)


def fill_field(message: Message, field: Any, rng: random.Random, depth: int) -> None:
    target = getattr(message, field.name)
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        key_field, value_field = message_type.fields_by_name["key"], message_type.fields_by_name["value"]
        for _ in range(rng.randint(0, 3)):
            key = scalar(key_field, rng)
            if value_field.message_type is not None:
                fill_message(target[key], rng, depth + 1)
            else:
                target[key] = scalar(value_field, rng)
        return
    if field.is_repeated:
        for _ in range(rng.randint(0, 3)):
            if message_type is not None:
                fill_message(target.add(), rng, depth + 1)
            else:
                target.append(scalar(field, rng))
        return
    if message_type is not None:
        if depth < 4:
            fill_message(target, rng, depth + 1)
            target.SetInParent()
        return
    setattr(message, field.name, scalar(field, rng))


def fill_message(message: Any, rng: random.Random, depth: int) -> None:
    full_name = message.DESCRIPTOR.full_name
    if full_name == "google.protobuf.Timestamp":
        message.seconds = rng.randint(-62135596800, 253402300799)
        message.nanos = rng.choice([0, 1000, 123456789, rng.randint(0, 999_999_999)])
    elif full_name.startswith("google.protobuf."):
        json_format.ParseDict(sample_well_known(full_name, rng), message)
    else:
        fill(message, rng, depth)


def sample_well_known(full_name: str, rng: random.Random) -> Any:
    if full_name == "google.protobuf.Struct":
        return {"a": 1, "b": [True, "x"]}
    if full_name == "google.protobuf.Duration":
        return f"{rng.randint(0, 99)}.5s"
    if full_name == "google.protobuf.FieldMask":
        return "a.b,c"
    if full_name == "google.protobuf.Empty":
        return {}
    return {"value": rng.choice(["x", 3, True]) if "Value" in full_name else {}}


def as_text(value: object) -> str:
    # Text, not dict equality: the order of keys is part of what a client sees.
    return json.dumps(value, ensure_ascii=False)


def expected(message: Message) -> str:
    return as_text(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))


@pytest.mark.parametrize("descriptor", list(message_types()), ids=lambda d: d.full_name)
def test_every_message_type_prints_as_json_format_does(descriptor: Descriptor) -> None:
    cls = GetMessageClass(descriptor)
    empty = cls()
    assert as_text(message_to_dict(empty)) == expected(empty)
    rng = random.Random(descriptor.full_name)
    for _ in range(25):
        message = cls()
        fill(message, rng)
        assert as_text(message_to_dict(message)) == expected(message)
    for field in descriptor.fields:
        alone = cls()
        fill_field(alone, field, rng, 0)
        assert as_text(message_to_dict(alone)) == expected(alone), field.name


def test_well_known_types_are_left_to_json_format() -> None:
    stamp = timestamp_pb2.Timestamp(seconds=1, nanos=5)
    assert message_to_dict(wrappers_pb2.StringValue(value="x")) == "x"
    assert message_to_dict(stamp) == "1970-01-01T00:00:01.000000005Z"
    assert message_to_dict(struct_pb2.Struct()) == {}


def kinds_our_protos_lack() -> Descriptor:
    """A proto3 message with what no service message has yet: bytes, fields declared out of number
    order, a map with bool keys, proto3 `optional`, a float (left to json_format)."""
    proto = descriptor_pb2.FileDescriptorProto(name="kinds.proto", package="kinds", syntax="proto3")
    field = descriptor_pb2.FieldDescriptorProto
    single, repeated = field.LABEL_OPTIONAL, field.LABEL_REPEATED
    entry = descriptor_pb2.DescriptorProto(
        name="FlagsEntry",
        field=[
            field(name="key", number=1, type=field.TYPE_BOOL, label=single),
            field(name="value", number=2, type=field.TYPE_BYTES, label=single),
        ],
        options=descriptor_pb2.MessageOptions(map_entry=True),
    )
    fields = [
        ("later", 9, field.TYPE_STRING, single, None),
        ("blob", 2, field.TYPE_BYTES, single, None),
        ("flags", 5, field.TYPE_MESSAGE, repeated, ".kinds.Kinds.FlagsEntry"),
        ("maybe", 3, field.TYPE_INT32, single, None),
        ("blobs", 7, field.TYPE_BYTES, repeated, None),
    ]
    message = descriptor_pb2.DescriptorProto(name="Kinds", nested_type=[entry])
    for name, number, kind, label, type_name in fields:
        added = message.field.add(name=name, number=number, type=kind, label=label)
        if type_name is not None:
            added.type_name = type_name
    message.field.add(
        name="maybe_optional",
        number=4,
        type=field.TYPE_INT32,
        label=single,
        proto3_optional=True,
        oneof_index=0,
    )
    message.oneof_decl.add(name="_maybe_optional")
    proto.message_type.append(message)
    floats = descriptor_pb2.DescriptorProto(name="Floats")
    floats.field.add(name="ratio", number=1, type=field.TYPE_FLOAT, label=single)
    proto.message_type.append(floats)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool.FindMessageTypeByName("kinds.Kinds")


def test_kinds_no_service_message_has_yet_print_as_json_format_does() -> None:
    descriptor = kinds_our_protos_lack()
    cls = GetMessageClass(descriptor)
    rng = random.Random(7)
    for _ in range(50):
        message = cls()
        fill(message, rng)
        assert as_text(message_to_dict(message)) == expected(message)
    floats = GetMessageClass(descriptor.file.message_types_by_name["Floats"])(ratio=0.1)
    assert as_text(message_to_dict(floats)) == expected(floats)
