"""The README's curl and grpcurl walkthroughs, run with `sh` exactly as written against the whole system."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.system import ROOT, RunningSystem, running_system

README = ROOT / "README.md"
# A bound on a stuck walkthrough, not a timing claim: the booking itself takes seconds.
RUN_BOUND_SECONDS = 300


def walkthrough(name: str) -> str:
    """The ```sh block that follows the README's `<!-- walkthrough: NAME -->` line."""
    text = README.read_text()
    marker = f"<!-- walkthrough: {name} -->\n"
    assert text.count(marker) == 1, f"the README needs exactly one {marker.strip()} line"
    after = text.split(marker, 1)[1]
    assert after.startswith("```sh\n"), f"a ```sh block must follow {marker.strip()}"
    return after.removeprefix("```sh\n").split("\n```\n", 1)[0] + "\n"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("walkthrough"), redis_url) as running:
        yield running


def run_sh(script: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = folder / "walkthrough.sh"
    path.write_text(script)
    return subprocess.run(
        ["sh", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_SECONDS,
        check=False,
    )


def failure(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def test_the_blocks_are_plain_posix_sh() -> None:
    for name in ("curl", "grpcurl"):
        script = walkthrough(name)
        assert "date -d" not in script and "${D1//" not in script
        assert re.search(r"<[a-z][a-z ]*>", script) is None, "a placeholder is left in the block"
        assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0


def test_the_curl_walkthrough_books_a_trip_to_confirmed(system: RunningSystem, tmp_path: Path) -> None:
    env = system.env | {"GATEWAY": system.gateway_url, "PAYMENT_PROVIDER": system.provider_url("payment")}
    result = run_sh(walkthrough("curl"), tmp_path, env)
    assert result.returncode == 0, failure(result)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("session ") and last.endswith(": STATE_CONFIRMED"), last
    assert "event: end" in result.stdout


def test_the_grpcurl_walkthrough_opens_a_session(system: RunningSystem, tmp_path: Path) -> None:
    env = system.env | {
        "GRPCURL": str(ROOT / ".venv" / "bin" / "grpcurl"),
        "CUSTOMERS_GRPC": system.grpc_address("customers"),
        "SESSIONS_GRPC": system.grpc_address("sessions"),
    }
    result = run_sh(walkthrough("grpcurl"), tmp_path, env)
    assert result.returncode == 0, failure(result)
    assert "travel.customers.v1.CustomersService" in result.stdout
    assert '"state": "STATE_OPEN"' in result.stdout
    assert result.stdout.strip().endswith('"status": "SERVING"\n}')
