"""The step cost table: steps as rows, the costliest processes as columns, the rest summed, totals last."""

from __future__ import annotations

from tools.step_cost import StepCost, step_markdown


def test_steps_are_rows_and_the_costliest_processes_columns_with_the_rest_summed() -> None:
    costs = [
        StepCost("open a session", {"sessions": 2.0, "gateway": 1.0, "redis": 0.25}),
        StepCost("pay", {"sessions": 3.0, "payments": 4.0, "redis": 0.5, "expiry": 0.25}),
    ]
    lines = step_markdown(costs, columns=2)
    assert lines[0] == "| step | all | sessions | payments | others |"
    assert lines[2] == "| open a session | 3.25 | 2.00 | 0.00 | 1.25 |"
    assert lines[3] == "| pay | 7.75 | 3.00 | 4.00 | 0.75 |"
    assert lines[4] == "| **a booking** | 11.00 | 5.00 | 4.00 | 2.00 |"


def test_with_room_for_every_process_there_is_no_others_column() -> None:
    lines = step_markdown([StepCost("open a session", {"sessions": 2.0, "gateway": 1.0})])
    assert lines[0] == "| step | all | sessions | gateway |"
    assert lines[-1] == "| **a booking** | 3.00 | 2.00 | 1.00 |"
