"""protos/breaking.sh holds the protos to the published image: additions pass, a breaking change fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fresh_venv import ROOT

pytestmark = pytest.mark.integration

BUF = ROOT / ".venv" / "bin" / "buf"
SESSIONS = Path("protos/travel/sessions/v1/sessions.proto")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the checkout's protos and buf configuration to change."""
    shutil.copytree(ROOT / "protos", tmp_path / "protos", ignore=shutil.ignore_patterns("published"))
    shutil.copytree(ROOT / "gen" / "third_party", tmp_path / "gen" / "third_party")
    shutil.copy(ROOT / "buf.yaml", tmp_path)
    return tmp_path


def check(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["protos/breaking.sh"],
        cwd=ROOT,
        env={"BUF": str(BUF), "BUF_INPUT": str(workspace), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_checkout_is_compatible_with_the_published_protos(workspace: Path) -> None:
    done = check(workspace)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_new_file_service_and_field_pass(workspace: Path) -> None:
    (workspace / "protos/travel/extra/v1").mkdir(parents=True)
    (workspace / "protos/travel/extra/v1/extra.proto").write_text(
        'syntax = "proto3";\npackage travel.extra.v1;\n'
        "service ExtraService {\n  rpc Ping(PingRequest) returns (PingResponse);\n}\n"
        "message PingRequest {}\nmessage PingResponse {}\n"
    )
    edit(
        workspace / SESSIONS,
        "  string payment_id = 11;\n",
        "  string payment_id = 11;\n  string note = 99;\n",
    )
    done = check(workspace)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("  string reason = 9;\n", "  reserved 9;\n", 'field "9" with name "reason"'),
        ("  int64 version = 10;\n", "  int32 version = 10;\n", 'changed type from "int64" to "int32"'),
        ("  string customer_id = 2;\n  State state", "  string owner_id = 2;\n  State state", "customer_id"),
    ],
)
def test_a_breaking_change_fails(workspace: Path, old: str, new: str, complaint: str) -> None:
    edit(workspace / SESSIONS, old, new)
    done = check(workspace)
    assert done.returncode != 0
    assert complaint in done.stdout, done.stdout + done.stderr
