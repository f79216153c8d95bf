"""The route table: every google.api.http binding of the descriptors, indexed for fast matching."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor

from gateway.path_template import PathTemplate, parse_template, split_verb

log = logging.getLogger(__name__)

_PATTERN_METHODS = {"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "patch": "PATCH"}


@dataclass(frozen=True)
class HttpBinding:
    """One HTTP verb + path template bound to one RPC, with its body mapping."""

    http_method: str
    template: PathTemplate
    body: str  # "" (no body), "*" (whole request) or a top-level field name
    response_body: str  # "" (whole response) or a top-level field name
    method: MethodDescriptor

    @property
    def rpc_path(self) -> str:
        """The gRPC method path, `/package.Service/Method`."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def package(self) -> str:
        return self.method.containing_service.file.package


@dataclass(frozen=True)
class RouteMatch:
    """A matched binding and the decoded path variables, keyed by field path."""

    binding: HttpBinding
    variables: dict[str, str]


def http_rules(method: MethodDescriptor) -> list[http_pb2.HttpRule]:
    """The method's http rule and its additional bindings; empty when it is not annotated."""
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.http):
        return []
    rule = options.Extensions[annotations_pb2.http]
    return [rule, *rule.additional_bindings]


def bindings_of_service(service: ServiceDescriptor) -> list[HttpBinding]:
    """Every binding of a service's unary, annotated methods."""
    found: list[HttpBinding] = []
    for method in service.methods:
        rules = http_rules(method)
        if not rules:
            continue  # not annotated: internal, never exposed
        if method.client_streaming or method.server_streaming:
            log.warning("skipping streaming method %s: only unary RPCs are transcoded", method.full_name)
            continue
        for rule in rules:
            kind = rule.WhichOneof("pattern")
            if kind is None:
                continue
            if kind == "custom":
                verb, source = rule.custom.kind.upper(), rule.custom.path
            else:
                verb, source = _PATTERN_METHODS[kind], getattr(rule, kind)
            found.append(HttpBinding(verb, parse_template(source), rule.body, rule.response_body, method))
    return found


def bindings_of_files(files: Iterable[FileDescriptor]) -> list[HttpBinding]:
    found: list[HttpBinding] = []
    for file in files:
        for service in file.services_by_name.values():
            found.extend(bindings_of_service(service))
    return found


class RouteTable:
    """Matches (HTTP method, raw path) to a binding; groups by method, verb and literal prefix."""

    def __init__(self, bindings: Iterable[HttpBinding]) -> None:
        self.bindings: list[HttpBinding] = []
        grouped: dict[tuple[str, str, tuple[str, ...]], list[HttpBinding]] = defaultdict(list)
        seen: set[tuple[str, str]] = set()
        for binding in bindings:
            key = (binding.http_method, binding.template.source)
            if key in seen:
                log.warning("duplicate route %s %s ignored (%s)", *key, binding.method.full_name)
                continue
            seen.add(key)
            self.bindings.append(binding)
            template = binding.template
            grouped[(binding.http_method, template.verb, template.literal_prefix)].append(binding)
        self._index = {
            key: sorted(group, key=lambda b: b.template.specificity) for key, group in grouped.items()
        }
        self._max_prefix = max((len(key[2]) for key in self._index), default=0)
        self.methods = sorted({b.http_method for b in self.bindings})

    def match(self, http_method: str, raw_path: str) -> RouteMatch | None:
        """The binding for a request, verb routes first, longer literal prefixes first."""
        path, verb = split_verb(raw_path)
        if verb:
            found = self._match_in(http_method, verb, path)
            if found is not None:
                return found
            if any(self._match_in(other, verb, path) for other in self.methods):
                return None  # the path is that verb route's: another method is not an id lookup
        # No verb route has this path: the colon may belong to an id, so try the whole path.
        return self._match_in(http_method, "", raw_path)

    def allowed_methods(self, raw_path: str) -> list[str]:
        """The methods of the one template this path is an instance of (for 405 and Allow).

        `/v1/sessions/x:cancel` fits both `{id}:cancel` and `{id}` (an id may hold a colon); it is
        the verb route's path, so only the verb route's methods are allowed there.
        """
        found = [(m, match.binding.template) for m in self.methods if (match := self.match(m, raw_path))]
        if not found:
            return []
        best = min((template for _, template in found), key=lambda t: (not t.verb, t.specificity))
        return [m for m, template in found if template.openapi_path() == best.openapi_path()]

    def _match_in(self, http_method: str, verb: str, path: str) -> RouteMatch | None:
        segments = path[1:].split("/", self._max_prefix)
        for depth in range(min(len(segments), self._max_prefix), -1, -1):
            group = self._index.get((http_method, verb, tuple(segments[:depth])))
            if group is None:
                continue
            for binding in group:
                values = binding.template.match(path)
                if values is not None:
                    return RouteMatch(binding, values)
        return None
