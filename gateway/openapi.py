"""An OpenAPI 3.1 document generated from the same descriptors as the routes (pure)."""

from __future__ import annotations

from typing import Any

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from travel.common.v1 import errors_pb2

from gateway.field_values import is_repeated
from gateway.routes import HttpBinding, RouteTable
from kit.field_rules import is_public, json_schema_keywords, rules_of

Schema = dict[str, Any]
_REF = "#/components/schemas/"
_QUERY_DEPTH = 3  # nested query names (a.b.c) are listed this deep; recursive types stop here

_INT32 = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}
_UINT32 = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32}
_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
_UINT64 = {FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64}
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "additionalProperties": True,
    },
}
# Every error answer has the Error body; which ones an operation can give depends on what it is.
_ERRORS = {
    "400": ("BadRequest", "The request breaks the contract; the details name each offending field"),
    "401": ("Unauthenticated", "A bearer token is missing, invalid or expired, or the credentials are wrong"),
    "403": ("PermissionDenied", "The caller may not do this"),
    "404": ("NotFound", "No such resource for this caller"),
    "409": ("Conflict", "It exists already, or a concurrent change won: read again and retry"),
    "413": ("PayloadTooLarge", "The request body is larger than the gateway accepts"),
    "422": (
        "UnprocessableContent",
        "The request fits this contract but a rule it cannot state refuses it (a date in the past, "
        "checkOut not after checkIn, an id the catalog does not have); the details name the fields",
    ),
    "429": ("TooManyRequests", "Too many attempts or open resources: wait (see Retry-After) and retry"),
    "503": ("Unavailable", "A backend is unavailable: retry later"),
    "504": ("Timeout", "A backend did not answer in time: retry later"),
}
ERROR_SCHEMA: Schema = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer", "description": "gRPC status code"},
        "message": {"type": "string", "description": "For people; branch on the ErrorInfo reason instead"},
        "details": {
            "type": "array",
            "description": "google.rpc details; every error has one google.rpc.ErrorInfo",
            "items": {"anyOf": [{"$ref": _REF + "ErrorInfo"}, {"$ref": _REF + "google.protobuf.Any"}]},
        },
    },
}
_REASON_PREFIX = "ERROR_REASON_"
# The reasons, from travel.common.v1.ErrorReason: its value names without the prefix.
ERROR_REASONS = [
    name.removeprefix(_REASON_PREFIX)
    for name, number in errors_pb2.ErrorReason.items()
    if number != errors_pb2.ERROR_REASON_UNSPECIFIED
]
ERROR_INFO_SCHEMA: Schema = {
    "type": "object",
    "description": "google.rpc.ErrorInfo: why the request was refused, in a word to branch on",
    "required": ["@type", "reason", "domain"],
    "properties": {
        "@type": {"type": "string", "const": "type.googleapis.com/google.rpc.ErrorInfo"},
        "reason": {"type": "string", "enum": ERROR_REASONS},
        "domain": {
            "type": "string",
            "description": "The refusing service: <service>.travel.example, e.g. sessions.travel.example",
        },
        "metadata": {
            "type": "object",
            "description": "Facts to act on, e.g. session_id or retry_after_seconds",
            "additionalProperties": {"type": "string"},
        },
    },
}


def openapi_document(table: RouteTable, title: str = "Travel agency API") -> dict[str, Any]:
    """Paths, parameters, bodies, schemas with their field rules, security and error answers."""
    builder = _SchemaBuilder(_request_messages(table))
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for binding in table.bindings:
        operation = _operation(binding, builder, operation_ids)
        paths.setdefault(binding.template.openapi_path(), {})[binding.http_method.lower()] = operation
    schemas = {**builder.schemas, "google.protobuf.Any": _WELL_KNOWN["google.protobuf.Any"]}
    errors = {
        name: _json_content(description, {"$ref": _REF + "Error"}) for name, description in _ERRORS.values()
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "v1"},
        "paths": paths,
        "components": {
            "schemas": {
                **dict(sorted(schemas.items())),
                "Error": ERROR_SCHEMA,
                "ErrorInfo": ERROR_INFO_SCHEMA,
            },
            "responses": errors,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation(binding: HttpBinding, builder: _SchemaBuilder, used: set[str]) -> dict[str, Any]:
    method = binding.method
    service = method.containing_service
    operation_id = f"{service.name}_{method.name}"
    suffix = 2
    while operation_id in used:  # additional bindings share the RPC name
        operation_id = f"{service.name}_{method.name}_{suffix}"
        suffix += 1
    used.add(operation_id)
    public = is_public(method)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": method.name,
        "tags": [service.full_name],
        "parameters": _parameters(binding, builder),
        "security": [] if public else [{"bearerAuth": []}],
        "responses": {
            "200": _json_content("OK", _response_schema(binding, builder)),
            **{
                status: {"$ref": "#/components/responses/" + _ERRORS[status][0]}
                for status in _error_statuses(binding, public)
            },
        },
    }
    request_schema = _request_body_schema(binding, builder)
    if request_schema is not None:
        content = {"application/json": {"schema": request_schema}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def _error_statuses(binding: HttpBinding, public: bool) -> list[str]:
    statuses = ["400", "401"]
    if not public:
        statuses += ["403", "404"]
    if binding.http_method != "GET":
        statuses.append("409")
    if binding.body:
        statuses.append("413")
    return [*statuses, "422", "429", "503", "504"]


def _json_content(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _request_body_schema(binding: HttpBinding, builder: _SchemaBuilder) -> Schema | None:
    if not binding.body:
        return None
    if binding.body == "*":
        bound = {variable.field_path[0] for variable in binding.template.variables}
        if not bound:
            return builder.message_ref(binding.method.input_type)
        # Fields bound by the path are not in the body: the body schema is the rest of the message.
        return builder.message_schema(binding.method.input_type, excluded=bound)
    return builder.field_schema(_field(binding.method.input_type, binding.body))


def _response_schema(binding: HttpBinding, builder: _SchemaBuilder) -> Schema:
    if binding.response_body:
        return builder.field_schema(_field(binding.method.output_type, binding.response_body), False)
    return builder.message_ref(binding.method.output_type)


def _field(message: Descriptor, name: str) -> FieldDescriptor:
    return message.fields_by_name.get(name) or message.fields_by_camelcase_name[name]


def _parameters(binding: HttpBinding, builder: _SchemaBuilder) -> list[dict[str, Any]]:
    request = binding.method.input_type
    parameters: list[dict[str, Any]] = []
    # Query names are JSON names: a path's `{customer_id}` binds the query name `customerId`.
    bound = {_json_path(request, variable.field_path) for variable in binding.template.variables}
    for variable in binding.template.variables:
        leaf = _leaf(request, variable.field_path)
        parameters.append(
            {"name": variable.name, "in": "path", "required": True, "schema": builder.field_schema(leaf)}
        )
    if binding.body == "*":
        return parameters
    body = _field(request, binding.body).json_name if binding.body else ""
    for name, field in _query_fields(request, "", _QUERY_DEPTH, set()):
        if name in bound or name.split(".")[0] == body:
            continue
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": builder.field_schema(field)}
        rules = rules_of(field)
        if rules is not None and rules.required:
            parameter["required"] = True
        parameters.append(parameter)
    return parameters


def _json_path(message: Descriptor, path: tuple[str, ...]) -> str:
    names = []
    for part in path:
        field = _field(message, part)
        names.append(field.json_name)
        if field.message_type is not None:
            message = field.message_type
    return ".".join(names)


def _leaf(message: Descriptor, path: tuple[str, ...]) -> FieldDescriptor:
    field = _field(message, path[0])
    for part in path[1:]:
        assert field.message_type is not None  # checked when the route was built
        field = _field(field.message_type, part)
    return field


def _query_fields(
    message: Descriptor, prefix: str, depth: int, seen: set[str]
) -> list[tuple[str, FieldDescriptor]]:
    """Every field a query name can set, by JSON name: scalars, enums, repeated scalars, coded messages."""
    found: list[tuple[str, FieldDescriptor]] = []
    for field in message.fields:
        name = prefix + field.json_name
        nested = field.message_type
        if nested is None or nested.full_name in _WELL_KNOWN or nested.full_name.endswith("Value"):
            if not (nested is not None and is_repeated(field)):
                found.append((name, field))
            continue
        if is_repeated(field) or depth <= 1 or nested.full_name in seen:
            continue
        found.extend(_query_fields(nested, name + ".", depth - 1, seen | {nested.full_name}))
    return found


def _request_messages(table: RouteTable) -> frozenset[str]:
    """Full names of the messages a request can carry: their fields' rules are published."""
    found: set[str] = set()
    pending = [binding.method.input_type for binding in table.bindings]
    while pending:
        message = pending.pop()
        if message.full_name in found:
            continue
        found.add(message.full_name)
        pending.extend(f.message_type for f in message.fields if f.message_type is not None)
    return frozenset(found)


class _SchemaBuilder:
    """Collects a component schema for every message reachable from the operations."""

    def __init__(self, request_messages: frozenset[str]) -> None:
        self.schemas: dict[str, Schema] = {}
        self._requests = request_messages

    def message_ref(self, message: Descriptor) -> Schema:
        if message.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[message.full_name])
        if message.full_name.startswith("google.protobuf.") and message.full_name.endswith("Value"):
            value = self.field_schema(message.fields_by_name["value"], False)
            kinds = value["type"] if isinstance(value["type"], list) else [value["type"]]
            return {**value, "type": [*kinds, "null"]}
        if message.full_name not in self.schemas:
            self.schemas[message.full_name] = {}  # placeholder first: types may recurse
            self.schemas[message.full_name] = self.message_schema(message)
        return {"$ref": _REF + message.full_name}

    def message_schema(
        self, message: Descriptor, excluded: frozenset[str] | set[str] = frozenset()
    ) -> Schema:
        properties: dict[str, Schema] = {}
        required: list[str] = []
        for field in message.fields:
            if field.name in excluded:
                continue
            schema = self.field_schema(field, message.full_name in self._requests)
            behaviors = set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])
            if field_behavior_pb2.OUTPUT_ONLY in behaviors:
                schema = {**schema, "readOnly": True}
            rules = rules_of(field)
            if field_behavior_pb2.REQUIRED in behaviors or (rules is not None and rules.required):
                required.append(field.json_name)
            properties[field.json_name] = schema
        message_schema: Schema = {"type": "object", "properties": properties}
        if required:
            message_schema["required"] = required
        if message.full_name in self._requests:
            # The gateway refuses fields it does not know, so the contract says so.
            message_schema["additionalProperties"] = False
        return message_schema

    def field_schema(self, field: FieldDescriptor, in_request: bool = True) -> Schema:
        """The field's schema; in a request, with the keywords that state its rules."""
        nested = field.message_type
        if nested is not None and nested.GetOptions().map_entry:
            values = self.field_schema(nested.fields_by_name["value"], in_request)
            return {"type": "object", "additionalProperties": values}
        single = self._single_schema(field)
        if in_request and nested is None:
            single = {**single, **json_schema_keywords(field)}
        if not is_repeated(field):
            return single
        array: Schema = {"type": "array", "items": single}
        rules = rules_of(field) if in_request else None
        if rules is not None and rules.max_items:
            array["maxItems"] = rules.max_items
        return array

    def _single_schema(self, field: FieldDescriptor) -> Schema:
        kind = field.type
        if field.message_type is not None:
            return self.message_ref(field.message_type)
        if field.enum_type is not None:
            return {"type": "string", "enum": list(field.enum_type.values_by_name)}
        if kind in _INT32:
            return {"type": "integer", "format": "int32"}
        if kind in _UINT32:
            return {"type": "integer", "format": "int64", "minimum": 0}
        if kind in _INT64 or kind in _UINT64:
            # The JSON mapping writes 64-bit integers as strings; either form is accepted.
            return {"type": ["string", "integer"], "format": "int64" if kind in _INT64 else "uint64"}
        if kind == FieldDescriptor.TYPE_DOUBLE:
            return {"type": "number", "format": "double"}
        if kind == FieldDescriptor.TYPE_FLOAT:
            return {"type": "number", "format": "float"}
        if kind == FieldDescriptor.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == FieldDescriptor.TYPE_BYTES:
            return {"type": "string", "contentEncoding": "base64"}
        return {"type": "string"}
