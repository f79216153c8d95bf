"""A test-only `travel.echo.v1` descriptor exercising every http rule feature the gateway maps."""

from __future__ import annotations

from functools import cache

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
from google.protobuf.descriptor import FileDescriptor

PACKAGE = "travel.echo.v1"
SERVICE = f"{PACKAGE}.EchoService"
_F = descriptor_pb2.FieldDescriptorProto

# (name, rule) for every method; all take and return EchoMessage so a servicer can echo.
RULES: list[tuple[str, http_pb2.HttpRule | None]] = [
    (
        "Get",
        http_pb2.HttpRule(
            get="/v1/things/{id}",
            additional_bindings=[http_pb2.HttpRule(get="/v1/{name=rooms/*}")],
        ),
    ),
    ("GetMine", http_pb2.HttpRule(get="/v1/things/mine")),
    ("Nested", http_pb2.HttpRule(get="/v1/inner/{inner.id}/things")),
    ("Create", http_pb2.HttpRule(post="/v1/things", body="*")),
    ("Update", http_pb2.HttpRule(patch="/v1/things/{id}", body="inner")),
    ("Cancel", http_pb2.HttpRule(post="/v1/things/{id}:cancel", body="*")),
    ("Remove", http_pb2.HttpRule(delete="/v1/things/{id}", response_body="inner")),
    ("Internal", None),
]


@cache
def echo_file() -> FileDescriptor:
    """Built once per process and added to the default pool, like generated code would be."""
    _ = timestamp_pb2.Timestamp, annotations_pb2.http  # dependencies must be in the pool first
    proto = descriptor_pb2.FileDescriptorProto(
        name="travel/echo/v1/echo_test.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=["google/api/annotations.proto", "google/protobuf/timestamp.proto"],
    )
    proto.enum_type.add(
        name="Color",
        value=[
            descriptor_pb2.EnumValueDescriptorProto(name=n, number=i)
            for i, n in enumerate(["COLOR_UNSPECIFIED", "RED", "BLUE"])
        ],
    )
    inner = proto.message_type.add(name="Inner")
    _field(inner, "id", 1, _F.TYPE_STRING)
    _field(inner, "count", 2, _F.TYPE_INT32)
    echo = proto.message_type.add(name="EchoMessage")
    _field(echo, "id", 1, _F.TYPE_STRING)
    _field(echo, "name", 2, _F.TYPE_STRING)
    _field(echo, "inner", 3, _F.TYPE_MESSAGE, f".{PACKAGE}.Inner")
    _field(echo, "tags", 4, _F.TYPE_STRING, repeated=True)
    _field(echo, "big", 5, _F.TYPE_INT64)
    _field(echo, "small", 6, _F.TYPE_INT32)
    _field(echo, "flag", 7, _F.TYPE_BOOL)
    _field(echo, "color", 8, _F.TYPE_ENUM, f".{PACKAGE}.Color")
    _field(echo, "ratio", 9, _F.TYPE_DOUBLE)
    _field(echo, "when", 10, _F.TYPE_MESSAGE, ".google.protobuf.Timestamp")
    _field(echo, "numbers", 11, _F.TYPE_INT32, repeated=True)
    _field(echo, "display_name", 12, _F.TYPE_STRING)
    service = proto.service.add(name="EchoService")
    for name, rule in RULES:
        method = service.method.add(
            name=name,
            input_type=f".{PACKAGE}.EchoMessage",
            output_type=f".{PACKAGE}.EchoMessage",
        )
        if rule is not None:
            method.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(proto.SerializeToString())
    return pool.FindFileByName(proto.name)


def _field(
    message: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    kind: int,
    type_name: str = "",
    repeated: bool = False,
) -> None:
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    json_name = "".join(p if i == 0 else p.title() for i, p in enumerate(name.split("_")))
    field = message.field.add(name=name, number=number, label=label, json_name=json_name)
    field.type = kind  # type: ignore[assignment]
    if type_name:  # an empty type_name still counts as set in descriptor.proto (proto2)
        field.type_name = type_name
