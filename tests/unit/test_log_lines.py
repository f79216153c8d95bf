"""Log lines: the JSON format's fields, the ids bound per task and trace, the settings that choose it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from kit import log_context
from kit.log_format import LogSettings, log_handler
from kit.settings import ConfigError, Env
from kit.trace_context import continued, current_headers, current_ids

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing JSON lines to a buffer, as a process with LOG_FORMAT=json does."""
    buffer = io.StringIO()
    logger = logging.getLogger(f"test.log_lines.{id(buffer)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = log_handler(LogSettings(format="json"), "hotel", buffer)
    logger.addHandler(handler)
    yield logger, buffer
    logger.removeHandler(handler)


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_json_line_names_time_level_process_logger_and_message(lines: Any) -> None:
    logger, buffer = lines
    logger.info("step %s completed", "hotel.confirm")
    (line,) = parsed(buffer)
    assert line["level"] == "INFO"
    assert line["process"] == "hotel"
    assert line["logger"] == logger.name
    assert line["message"] == "step hotel.confirm completed"
    assert line["time"].startswith("20") and line["time"].endswith("+00:00")
    for absent in ("trace_id", "span_id", "request_id", "session_id", "saga_id", "step"):
        assert absent not in line


def test_a_line_carries_the_ids_bound_and_the_trace_continued(lines: Any) -> None:
    logger, buffer = lines
    with log_context.bound(request_id="req-1", session_id="s-1"):
        with log_context.bound(saga_id="confirm-s-1", step="hotel.confirm"), continued(TRACEPARENT):
            logger.warning("inside")
        logger.info("outside the step")
    logger.info("after")
    inside, outside, after = parsed(buffer)
    assert (
        inside
        | {
            "trace_id": TRACE_ID,
            "span_id": PARENT_ID,
            "request_id": "req-1",
            "session_id": "s-1",
            "saga_id": "confirm-s-1",
            "step": "hotel.confirm",
        }
        == inside
    )
    assert (outside["request_id"], outside["session_id"]) == ("req-1", "s-1")
    assert "saga_id" not in outside and "trace_id" not in outside
    assert "request_id" not in after


def test_an_exception_is_one_line_with_its_traceback(lines: Any) -> None:
    logger, buffer = lines
    try:
        raise RuntimeError("provider exploded")
    except RuntimeError:
        logger.exception("step hotel.confirm raised")
    (line,) = parsed(buffer)
    assert line["level"] == "ERROR"
    assert "Traceback" in line["exception"] and "RuntimeError: provider exploded" in line["exception"]


def test_the_text_format_stays_readable() -> None:
    buffer = io.StringIO()
    logger = logging.getLogger("test.log_lines.text")
    logger.propagate = False
    handler = log_handler(LogSettings(), "sessions", buffer)
    logger.addHandler(handler)
    try:
        logger.warning("hello")
    finally:
        logger.removeHandler(handler)
    assert buffer.getvalue().rstrip().endswith("sessions WARNING test.log_lines.text: hello")


def test_settings_default_to_text_and_refuse_an_unknown_format() -> None:
    assert LogSettings.from_env(Env({})) == LogSettings("text", "INFO")
    assert LogSettings.from_env(Env({"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"})) == LogSettings(
        "json", "DEBUG"
    )
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        LogSettings.from_env(Env({"LOG_FORMAT": "xml"}))
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        LogSettings.from_env(Env({"LOG_LEVEL": "loud"}))


def test_without_an_sdk_a_continued_trace_is_passed_on_unchanged() -> None:
    assert current_headers() == {} and current_ids() == ("", "")
    with continued(TRACEPARENT, "vendor=1"):
        assert current_headers() == {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
        assert current_ids() == (TRACE_ID, PARENT_ID)
    with continued("not a traceparent"):
        assert current_headers() == {}


def test_only_a_well_formed_traceparent_is_continued_and_an_unsafe_tracestate_is_dropped() -> None:
    for malformed in (
        f"00-{'0' * 32}-{PARENT_ID}-01",  # all-zero trace id
        f"ff-{TRACE_ID}-{PARENT_ID}-01",  # the forbidden version
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
        f"00-{TRACE_ID}-{PARENT_ID}-01\r\nx-injected: 1",
    ):
        with continued(malformed):
            assert current_headers() == {}, malformed
    with continued(TRACEPARENT, "vendor=1\r\nx-injected: 1"):
        assert current_headers() == {"traceparent": TRACEPARENT}
