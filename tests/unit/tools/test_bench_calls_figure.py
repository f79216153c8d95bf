"""make bench shows the calls a confirmed booking made beside what a booking may make."""

from __future__ import annotations

from tools.bench import LoadRun, calls_figure


def test_the_calls_figure_lists_each_kind_with_its_bound() -> None:
    run = LoadRun(
        "run",
        "make load",
        {"cost": {"every_calls": {"grpc": 12.04, "hops": 3.0, "provider": 10.9, "redis": 20.2, "db": 28.8}}},
    )
    figure = calls_figure(run)
    assert figure.value == "12.0 / 3.0 / 10.9 / 20.2"
    assert figure.target == "<= 12 / <= 3 / <= 9 / <= 20"
    assert figure.what.endswith("gRPC calls / bus hops / provider calls / Redis round trips")


def test_a_run_that_failed_shows_no_figures() -> None:
    assert calls_figure(LoadRun("run", "make load", None)).value == "n/a / n/a / n/a / n/a"
