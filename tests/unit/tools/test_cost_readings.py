"""The pure parts of the cost table: /proc stat lines, metrics text, the window's arithmetic."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from tools.call_counts import counts_between, parse_call_counts, totals
from tools.cost import (
    ProcessReading,
    Reading,
    at_rest,
    at_rest_markdown,
    cost_markdown,
    cost_table,
    usage_between,
)
from tools.counting_cost import per_booking_us
from tools.process_cpu import cpu_seconds_of_command, cpu_seconds_of_stat

# A real line's shape: the command name holds a space and a parenthesis.
STAT = "4242 (python -m (x)) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 50 7 3 20 0 4 0 100 0 0"

METRICS = """# HELP rpc_server_duration_seconds gRPC calls served by this process
# TYPE rpc_server_duration_seconds histogram
rpc_server_duration_seconds_bucket{le="0.01",GET_OK} 5.0
rpc_server_duration_seconds_bucket{le="+Inf",GET_OK} 6.0
rpc_server_duration_seconds_count{GET_OK} 6.0
rpc_server_duration_seconds_sum{GET_OK} 0.05
rpc_server_duration_seconds_count{GET_5} 1.0
rpc_server_duration_seconds_count{OPEN_OK} 3.0
# HELP rpc_server_duration_seconds_created gRPC calls served by this process
# TYPE rpc_server_duration_seconds_created gauge
rpc_server_duration_seconds_created{GET_OK} 1.7e+09
# HELP http_server_request_duration_seconds HTTP requests served by this process
# TYPE http_server_request_duration_seconds histogram
http_server_request_duration_seconds_count{HOLD_404} 2.0
http_server_request_duration_seconds_count{HOLD_200} 1.0
# HELP travel_db_transactions_total Database transactions this process ran
# TYPE travel_db_transactions_total counter
travel_db_transactions_total{database="sessions"} 12.0
# HELP travel_redis_round_trips_total Commands or pipelines this process sent to Redis
# TYPE travel_redis_round_trips_total counter
travel_redis_round_trips_total 40.0
# HELP travel_bus_steps_committed_total Saga step entries this participant handled and committed
# TYPE travel_bus_steps_committed_total counter
travel_bus_steps_committed_total{participant="hotel"} 2.0
travel_bus_steps_committed_total{participant="sessions"} 1.0
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 9.5
"""
# Semantic-convention label sets are long: spelled once here, put in place below.
for _token, _labels in {
    "GET_OK": 'rpc_grpc_status_code="0",rpc_method="Get",rpc_service="s.v1.Sessions",rpc_system="grpc"',
    "GET_5": 'rpc_grpc_status_code="5",rpc_method="Get",rpc_service="s.v1.Sessions",rpc_system="grpc"',
    "OPEN_OK": 'rpc_grpc_status_code="0",rpc_method="Open",rpc_service="s.v1.Sessions",rpc_system="grpc"',
    "HOLD_404": 'http_request_method="GET",http_response_status_code="404",http_route="/holds/{id}"',
    "HOLD_200": 'http_request_method="GET",http_response_status_code="200",http_route="/holds/{id}"',
}.items():
    METRICS = METRICS.replace(_token, _labels)


def test_cpu_seconds_are_utime_plus_stime_after_the_command_name() -> None:
    assert cpu_seconds_of_stat(STAT, 100) == pytest.approx(3.0)


def test_reaped_children_add_cutime_and_cstime() -> None:
    assert cpu_seconds_of_stat(STAT, 100, reaped_children=True) == pytest.approx(3.1)


def test_processes_of_one_command_are_read_as_one(tmp_path: Path) -> None:
    for pid, name, utime in [(30, "postgres", 100), (31, "postgres", 50), (32, "python", 999)]:
        folder = tmp_path / str(pid)
        folder.mkdir()
        (folder / "comm").write_text(f"{name}\n")
        (folder / "stat").write_text(f"{pid} ({name}) S 1 1 1 0 -1 0 0 0 0 0 {utime} 0 10 0 20 0 1 0")
    (tmp_path / "self").mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    assert cpu_seconds_of_command("postgres", tmp_path) == (30, pytest.approx((150 + 20) / ticks))
    assert cpu_seconds_of_command("redis-server", tmp_path) == (None, 0.0)


def test_a_line_without_a_command_name_is_refused() -> None:
    with pytest.raises(ValueError):
        cpu_seconds_of_stat("garbage", 100)


def test_metrics_text_gives_counts_by_kind_and_label_ignoring_other_families() -> None:
    counts = parse_call_counts(METRICS)
    assert counts["grpc"] == {
        "/s.v1.Sessions/Get": 7.0,
        "/s.v1.Sessions/Open": 3.0,
    }
    assert counts["db"] == {"sessions": 12.0}
    assert counts["redis"] == {"": 40.0}
    assert counts["hops"] == {"hotel": 2.0, "sessions": 1.0}
    assert counts["http"] == {"/holds/{id}": 3.0}
    assert counts["provider"] == {}
    assert totals(counts) == {
        "grpc": 10.0,
        "http": 3.0,
        "provider": 0.0,
        "db": 12.0,
        "redis": 40.0,
        "hops": 3.0,
    }


def test_counts_between_two_readings_and_across_a_restart() -> None:
    before = {"grpc": {"a": 5.0, "b": 2.0}, "redis": {"": 100.0}}
    after = {"grpc": {"a": 9.0, "b": 2.0, "c": 1.0}, "redis": {"": 30.0}}
    delta = counts_between(before, after)
    assert delta["grpc"] == {"a": 4.0, "c": 1.0}
    # Went down: the process restarted, so everything it counted is new.
    assert delta["redis"] == {"": 30.0}


def _reading(at: float, **processes: tuple[str, int, float, dict[str, dict[str, float]]]) -> Reading:
    return Reading(
        at,
        {
            name: ProcessReading(name, role, pid, cpu, counts)
            for name, (role, pid, cpu, counts) in processes.items()
        },
    )


def test_cost_table_divides_the_window_by_confirmed_bookings() -> None:
    before = _reading(
        100.0,
        sessions=("sessions", 10, 5.0, {"grpc": {"m": 10.0}, "db": {"s": 20.0}}),
        gateway=("gateway", 11, 2.0, {"http": {"GET /x": 4.0}}),
        provider_hotel=("provider-hotel", 12, 1.0, {"http": {"POST /holds": 0.0}}),
        driver=("driver", 13, 3.0, {}),
        supervisord=("supervisord", 14, 1.0, {}),
    )
    after = _reading(
        110.0,
        sessions=("sessions", 10, 6.0, {"grpc": {"m": 30.0}, "db": {"s": 60.0}}),
        gateway=("gateway", 11, 2.5, {"http": {"GET /x": 24.0}}),
        provider_hotel=("provider-hotel", 12, 2.0, {"http": {"POST /holds": 10.0}}),
        driver=("driver", 13, 3.5, {}),
        supervisord=("supervisord", 14, 1.1, {}),
    )
    table = cost_table(usage_between(before, after), bookings=10, seconds=after.at - before.at)
    rows = {row.name: row for row in table.rows}
    assert table.rows[0].name == "sessions"
    assert rows["sessions"].cpu_ms == pytest.approx(100.0)
    assert rows["sessions"].calls["grpc"] == pytest.approx(2.0)
    assert rows["sessions"].calls["db"] == pytest.approx(4.0)
    assert rows["sessions"].core_share == pytest.approx(0.1)
    assert rows["gateway"].calls["http"] == pytest.approx(2.0)
    # Every process leaves out the harness (supervisord); the product leaves out providers and driver.
    assert table.every.cpu_ms == pytest.approx(100.0 + 50.0 + 100.0 + 50.0)
    assert table.product.cpu_ms == pytest.approx(150.0)
    assert table.product.calls["http"] == pytest.approx(2.0)
    assert table.every.calls["http"] == pytest.approx(3.0)
    assert table.busiest is not None and table.busiest.name in {"sessions", "provider_hotel"}
    lines = cost_markdown(table)
    assert lines[0].startswith("| process | CPU ms |")
    assert any(line.startswith("| supervisord (not in totals) |") for line in lines)
    assert lines[-1].startswith("| **product only** | 150.00 |")


def test_a_process_restarted_in_the_window_counts_from_its_restart_and_is_marked() -> None:
    before = _reading(0.0, hotel=("hotel", 20, 8.0, {"grpc": {"m": 50.0}}))
    after = _reading(10.0, hotel=("hotel", 21, 0.5, {"grpc": {"m": 3.0}}))
    (usage,) = usage_between(before, after)
    assert usage.restarted
    assert usage.cpu_seconds == pytest.approx(0.5)
    assert usage.calls["grpc"] == pytest.approx(3.0)
    gone = _reading(10.0, hotel=("hotel", None, None, {}))  # type: ignore[arg-type]
    assert usage_between(before, gone) == []


def test_no_confirmed_booking_gives_no_per_booking_figure() -> None:
    before = _reading(0.0, sessions=("sessions", 1, 1.0, {}))
    after = _reading(5.0, sessions=("sessions", 1, 2.0, {}))
    table = cost_table(usage_between(before, after), bookings=0, seconds=5.0)
    assert math.isnan(table.every.cpu_ms)
    assert "n/a" in cost_markdown(table)[2]


def test_at_rest_is_each_process_share_of_a_core_without_the_driver_or_the_harness() -> None:
    before = _reading(
        0.0,
        sessions=("sessions", 1, 1.0, {}),
        expiry=("expiry", 2, 1.0, {}),
        driver=("driver", 3, 1.0, {}),
        supervisord=("supervisord", 4, 1.0, {}),
    )
    after = _reading(
        10.0,
        sessions=("sessions", 1, 1.2, {}),
        expiry=("expiry", 2, 1.01, {}),
        driver=("driver", 3, 2.0, {}),
        supervisord=("supervisord", 4, 1.05, {}),
    )
    rest = at_rest(usage_between(before, after), seconds=10.0)
    assert "driver" not in rest.shares
    assert rest.shares["sessions"] == pytest.approx(0.02)
    assert rest.total == pytest.approx(0.021)
    assert next(iter(rest.shares)) == "sessions"
    assert at_rest_markdown(rest)[-1] == "| **whole system** | **2.100** |"


def test_counting_cost_per_booking_is_each_increment_times_its_calls() -> None:
    costs = {"grpc": 600.0, "db": 500.0, "redis": 400.0}
    assert per_booking_us(costs, {"grpc": 10, "db": 20, "redis": 0, "http": 5}) == pytest.approx(16.0)
