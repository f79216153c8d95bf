"""A process's log lines: readable text by default, JSON lines with trace and saga ids on request."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from kit import log_context
from kit.settings import ConfigError, Env
from kit.shared_settings import LOG_FORMAT, LOG_LEVEL
from kit.trace_context import current_ids

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class LogSettings:
    """LOG_FORMAT (`text` or `json`) and LOG_LEVEL (INFO by default)."""

    format: str = LOG_FORMAT.default_value
    level: str = LOG_LEVEL.default_value

    @classmethod
    def from_env(cls, env: Env) -> LogSettings:
        chosen = LOG_FORMAT.read(env).lower()
        if chosen not in FORMATS:
            raise ConfigError(f"LOG_FORMAT must be {' or '.join(FORMATS)}, got {chosen!r}")
        level = LOG_LEVEL.read(env).upper()
        if level not in LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}")
        return cls(chosen, level)


class ContextFields(logging.Filter):
    """Copies the current trace, span, request, session, saga and step ids onto each record.

    Runs only for records that pass the level check; ids not set are left out of the line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        trace_id, span_id = current_ids()
        if trace_id:
            record.trace_id = trace_id
            record.span_id = span_id
        for name, value in log_context.current_fields().items():
            setattr(record, name, value)
        return True


def json_formatter(service: str) -> logging.Formatter:
    """One JSON object per line: time, level, process (the service), logger, message, ids, exception."""
    return JsonFormatter(
        ["levelname", "name", "message"],
        rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
        static_fields={"process": service},
        timestamp="time",
    )


def text_formatter(service: str) -> logging.Formatter:
    return logging.Formatter(f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s")


def log_handler(settings: LogSettings, service: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing to stderr (or `stream`) in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.format == "json":
        handler.setFormatter(json_formatter(service))
        handler.addFilter(ContextFields())
    else:
        handler.setFormatter(text_formatter(service))
    return handler


def configure_logging(settings: LogSettings, service: str) -> None:
    """Send every logger's lines through one handler in the chosen format; called once per process."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(settings, service))
    root.setLevel(settings.level)
