"""Map an HTTP request (path variables, query, JSON body) to a request message and back."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from gateway.errors import GatewayError, bad_field
from gateway.field_values import FieldValueError, field_named, resolve_field_path, set_from_strings
from gateway.routes import HttpBinding
from kit.proto_json import message_to_dict

_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]+)" at "([^"]+)"')
_FAILED_FIELD = re.compile(r"Failed to parse (\S+) field: ")
_TRAILING_AT = re.compile(r"\s+at [\w.]+\.*$")
# Query names are attacker-chosen: cache only the ones that resolved, and only so many.
_QUERY_CACHE_LIMIT = 256


class Transcoder:
    """Everything about one binding that can be computed before the first request."""

    def __init__(self, binding: HttpBinding) -> None:
        method = binding.method
        self.binding = binding
        self.request_class: type[Message] = GetMessageClass(method.input_type)
        self.response_class: type[Message] = GetMessageClass(method.output_type)
        self.reads_body = bool(binding.body)
        self.path_fields = [
            (variable.name, resolve_field_path(method.input_type, variable.name))
            for variable in binding.template.variables
        ]
        self.body_field: FieldDescriptor | None = None
        if binding.body and binding.body != "*":
            self.body_field = field_named(method.input_type, binding.body)
            if self.body_field is None:
                raise ValueError(f"{method.full_name}: body field {binding.body!r} does not exist")
        self.response_field: FieldDescriptor | None = None
        if binding.response_body:
            self.response_field = field_named(method.output_type, binding.response_body)
            if self.response_field is None:
                raise ValueError(f"{method.full_name}: no response field {binding.response_body!r}")
        self._path_names = {name for name, _ in self.path_fields}
        self._query_chains: dict[str, tuple[FieldDescriptor, ...]] = {}

    def build_request(self, variables: dict[str, str], query: bytes, body: bytes) -> Message:
        """The request message, or GatewayError(400) naming the field that is wrong."""
        request = self.request_class()
        if self.reads_body:
            if not body.strip():
                raise bad_field("body", "is required: a JSON object ({} when there is nothing to send)")
            self._merge_body(request, body)
        for name, chain in self.path_fields:
            try:
                set_from_strings(request, chain, (variables[name],), name)
            except FieldValueError as error:
                raise bad_field(error.field, error.description) from None
        if query:
            self._merge_query(request, query)
        return request

    def render_response(self, response: Message) -> bytes:
        """The response in protobuf JSON (lowerCamelCase, unpopulated fields included)."""
        as_dict = message_to_dict(response)
        payload: Any = as_dict
        if self.response_field is not None:
            payload = as_dict.get(self.response_field.json_name)
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def _merge_body(self, request: Message, body: bytes) -> None:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise GatewayError(400, f"malformed JSON body: {error}") from None
        if self.body_field is None:
            if not isinstance(document, dict):
                raise GatewayError(400, "the request body must be a JSON object")
            for name, chain in self.path_fields:
                if chain[0].name in document or chain[0].json_name in document:
                    raise bad_field(chain[0].json_name, f"already bound by the path ({name})")
        else:
            wants_object = self.body_field.message_type is not None and not self.body_field.is_repeated
            if wants_object and not isinstance(document, dict):
                raise bad_field(self.body_field.json_name, "the body must be a JSON object")
            document = {self.body_field.name: document}
        refuse_nulls(document, request.DESCRIPTOR)
        try:
            json_format.ParseDict(document, request)
        except Exception as error:  # client-controlled input: any parse failure is a 400
            raise bad_field(*describe_parse_error(error)) from None

    def _merge_query(self, request: Message, query: bytes) -> None:
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise GatewayError(400, "the query string is not valid UTF-8") from None
        for name, values in group_query(pairs).items():
            chain = self._query_chain(name)
            try:
                set_from_strings(request, chain, values, name)
            except FieldValueError as error:
                raise bad_field(error.field, error.description) from None

    def _query_chain(self, name: str) -> tuple[FieldDescriptor, ...]:
        chain = self._query_chains.get(name)
        if chain is not None:
            return chain
        if self.binding.body == "*":
            raise bad_field(name, "not allowed: the request body carries every field")
        if name in self._path_names:
            raise bad_field(name, "already bound by the path")
        try:
            chain = resolve_field_path(self.binding.method.input_type, name)
        except FieldValueError as error:
            raise bad_field(error.field, error.description) from None
        if self.body_field is not None and chain[0] is self.body_field:
            raise bad_field(name, "already bound by the request body")
        if len(self._query_chains) < _QUERY_CACHE_LIMIT:
            self._query_chains[name] = chain
        return chain


def refuse_nulls(document: Any, message: Any, at: str = "") -> None:
    """A JSON null where the published schema says string, number, list or object is a 400.

    Protobuf's JSON parser reads null as "not set", so `{"requestId": null}` would pass as if the
    field were absent; the OpenAPI document allows null only for the google.protobuf wrappers.
    """
    if not isinstance(document, dict):
        return
    for key, value in document.items():
        field = message.fields_by_camelcase_name.get(key) or message.fields_by_name.get(key)
        if field is None:
            continue  # the parser names unknown fields itself
        named = f"{at}{field.json_name}"
        nested = field.message_type
        if value is None:
            if nested is None or not nested.full_name.startswith("google.protobuf."):
                raise bad_field(named, "must not be null")
        elif nested is not None and not nested.full_name.startswith("google.protobuf."):
            for item in value if field.is_repeated and isinstance(value, list) else [value]:
                refuse_nulls(item, nested, f"{named}.")


def describe_parse_error(error: Exception) -> tuple[str, str]:
    """(field path, description) from a json_format error, whose wording nests per field."""
    text = str(error).split("\n", 1)[0]
    unknown = _UNKNOWN_FIELD.search(text)
    if unknown is not None:
        at = unknown.group(2).split(".")[1:]
        return ".".join([*at, unknown.group(1)]), "unknown field"
    path: list[str] = []
    while True:
        failed = _FAILED_FIELD.match(text)
        if failed is None:
            break
        path.append(failed.group(1))
        text = text[failed.end() :]
    description = _TRAILING_AT.sub("", text).rstrip(".") or "invalid value"
    return (".".join(path) or "body"), description


def group_query(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Query pairs grouped by name, in order: a repeated field takes every value."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped
