"""The metric names the Grafana dashboard and the Prometheus alert rules query, read from their files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "observability"
DASHBOARDS = STACK / "grafana" / "dashboards"
RULES = STACK / "rules"

# What PromQL writes that is not a metric: label matchers, grouping clauses, ranges and strings
# are cut first; the words left that are neither functions (followed by `(`) nor keywords are names.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan"})
# A histogram is queried as its `_bucket`, `_count` or `_sum` series, a counter as `_total`.
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def metric_names(expression: str) -> set[str]:
    """The metric names one PromQL expression reads."""
    text = _STRINGS.sub(" ", expression)
    for pattern in (_MATCHERS, _RANGES, _GROUPING):
        text = pattern.sub(" ", text)
    return {word for word in _WORD.findall(text) if word.lower() not in _KEYWORDS}


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def rule_files() -> dict[str, dict[str, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(RULES.glob("*.yml"))}


def rules() -> Iterator[dict[str, Any]]:
    for document in rule_files().values():
        for group in document["groups"]:
            yield from group["rules"]


def queried_metrics() -> dict[str, set[str]]:
    """Each metric name a dashboard panel or an alert rule reads, with what reads it."""
    readers: dict[str, set[str]] = {}
    for file, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                for name in metric_names(target.get("expr", "")):
                    readers.setdefault(name, set()).add(f"{file}: {panel['title']}")
    for rule in rules():
        for name in metric_names(rule["expr"]):
            readers.setdefault(name, set()).add(f"rule {rule.get('alert', rule.get('record'))}")
    return readers


def exported_as(name: str, series: Iterable[str]) -> bool:
    """Whether a queried name is among the exported series, or the family whose series they are."""
    found = set(series)
    if name in found:
        return True
    return any(name.endswith(suffix) and name.removesuffix(suffix) in found for suffix in _SUFFIXES) or any(
        f"{name}{suffix}" in found for suffix in _SUFFIXES
    )
