"""The operator CLI's `keys` command: a session's partition and key names, without Redis."""

from __future__ import annotations

import pytest

from bus.keys import BusKeys
from tools import bus_cli as cli


async def test_keys_names_the_partition_and_the_keys_of_a_session(capsys: pytest.CaptureFixture[str]) -> None:
    session = "9b1f6c9e-2a3f-4c55-8f0e-1d2b3c4d5e6f"
    partition = BusKeys("demo", 8).partition_of(session)
    assert await cli.main(["--namespace", "demo", "--partitions", "8", "keys", session]) == 0
    out = capsys.readouterr().out
    assert f"partition {partition} of 8" in out
    assert f"demo:{{p{partition}}}:saga:confirm-{session}:history" in out
    assert f"demo:{{p{partition}}}:dead-letters" in out


@pytest.mark.parametrize("partitions", ["0", "2000", "x"])
async def test_a_bad_partition_count_is_a_usage_error(
    partitions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        await cli.main(["--partitions", partitions, "keys", "s1"])
    assert exit_.value.code == 2
    assert "partitions" in capsys.readouterr().err
