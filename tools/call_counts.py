"""The calls a process counted, read from its /metrics text, and what changed between two readings. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client.parser import text_string_to_metric_families

# What the cost table counts, by the counter family each process exports (kit.metrics).
# A latency histogram counts its calls in its `_count` sample.
KINDS: Mapping[str, str] = {
    "grpc": "rpc_server_duration_seconds",
    "http": "http_server_request_duration_seconds",
    "provider": "travel_provider_calls",
    "db": "travel_db_transactions",
    "redis": "travel_redis_round_trips",
    "hops": "travel_bus_steps_committed",
}
_KIND_OF_FAMILY = {family: kind for kind, family in KINDS.items()}


def _label(name: str) -> Callable[[Mapping[str, str]], str]:
    return lambda labels: labels.get(name, "")


def _full_method(labels: Mapping[str, str]) -> str:
    return f"/{labels.get('rpc_service', '')}/{labels.get('rpc_method', '')}"


# What each kind is broken down by; the other labels (status code, outcome, ...) are summed over.
_BREAKDOWN_OF_KIND: Mapping[str, Callable[[Mapping[str, str]], str]] = {
    "grpc": _full_method,
    "http": _label("http_route"),
    "provider": _label("provider"),
    "db": _label("database"),
    "redis": _label(""),
    "hops": _label("participant"),
}

# kind -> label value -> count; an unlabelled counter keeps its one value under "".
CallCounts = dict[str, dict[str, float]]


def parse_call_counts(text: str) -> CallCounts:
    """Every counted call in a Prometheus text exposition, by kind and label value."""
    counts: CallCounts = {kind: {} for kind in KINDS}
    for family in text_string_to_metric_families(text):
        kind = _KIND_OF_FAMILY.get(family.name)
        if kind is None:
            continue
        for sample in family.samples:
            if sample.name in (f"{family.name}_total", f"{family.name}_count"):
                label = _BREAKDOWN_OF_KIND[kind](sample.labels)
                counts[kind][label] = counts[kind].get(label, 0.0) + sample.value
    return counts


def counts_between(before: CallCounts, after: CallCounts) -> CallCounts:
    """What was counted in between; a counter that went down was restarted, so it counted `after`."""
    delta: CallCounts = {}
    for kind in KINDS:
        earlier, later = before.get(kind, {}), after.get(kind, {})
        changed: dict[str, float] = {}
        for label, value in later.items():
            previous = earlier.get(label, 0.0)
            moved = value - previous if value >= previous else value
            if moved:
                changed[label] = moved
        delta[kind] = changed
    return delta


def totals(counts: CallCounts) -> dict[str, float]:
    """Each kind summed over its labels."""
    return {kind: sum(counts.get(kind, {}).values()) for kind in KINDS}
