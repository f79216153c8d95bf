"""The gRPC retry policy (gRFC A6) of internal channels: idempotent methods only, on UNAVAILABLE."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor

# Methods named like AIP standard and custom reads change nothing, so a second attempt is safe.
READ_VERBS = ("Get", "List", "Search", "Count", "Find")
# UNAVAILABLE means the call did not run (a replica restarting, a connection refused); anything
# else may have run, or said no, and is the caller's to handle. Three attempts ride out a restart
# of a replica behind the channel's round robin without holding a caller for long.
RETRY_POLICY: Mapping[str, Any] = {
    "maxAttempts": 3,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}

# A service's full name, and the names of those of its methods that may be retried.
RetryScope = Mapping[str, Iterable[str]]


def idempotent_methods(service: ServiceDescriptor, also: Iterable[str] = ()) -> RetryScope:
    """`service`'s reads by name, plus the methods in `also` its server makes idempotent."""
    extra = set(also)
    unknown = extra - set(service.methods_by_name)
    if unknown:
        raise ValueError(f"{service.full_name} has no method {', '.join(sorted(unknown))}")
    reads = {method.name for method in service.methods if method.name.startswith(READ_VERBS)}
    return {service.full_name: sorted(reads | extra)}


def service_config(scope: RetryScope, *, round_robin: bool = True) -> str:
    """The channel's `grpc.service_config`: the retry policy on exactly the methods in `scope`."""
    names = [
        {"service": service, "method": method} for service, methods in scope.items() for method in methods
    ]
    config: dict[str, Any] = {}
    if round_robin:
        config["loadBalancingConfig"] = [{"round_robin": {}}]
    if names:
        config["methodConfig"] = [{"name": names, "retryPolicy": dict(RETRY_POLICY)}]
    return json.dumps(config, sort_keys=True)
