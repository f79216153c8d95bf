"""`buf generate --template buf.gen.yaml` writes Python offline that works without the project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fresh_venv import ROOT, fresh_venv, run_isolated

pytestmark = pytest.mark.integration

BUF = ROOT / ".venv" / "bin" / "buf"


def test_the_python_template_generates_importable_typed_stubs(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    subprocess.run([BUF, "generate", "--template", "buf.gen.yaml", "-o", out], cwd=ROOT, check=True)
    for proto in (ROOT / "protos").rglob("*.proto"):
        module = out / "python" / proto.relative_to(ROOT / "protos").with_suffix("")
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert Path(f"{module}{suffix}").is_file(), f"{module}{suffix}"
    python = fresh_venv(tmp_path / "venv", "grpcio", "protobuf", "googleapis-common-protos")
    probe = (
        "import grpc\n"
        "from travel.sessions.v1 import sessions_pb2, sessions_pb2_grpc\n"
        f"assert sessions_pb2.__file__.startswith({str(out)!r}), sessions_pb2.__file__\n"
        "stub = sessions_pb2_grpc.SessionsServiceStub(grpc.insecure_channel('127.0.0.1:1'))\n"
        "request = sessions_pb2.GetSessionRequest(id='x')\n"
        "again = sessions_pb2.GetSessionRequest.FromString(request.SerializeToString())\n"
        "print(type(stub).__name__, again.id)\n"
    )
    # `python -c` puts its working folder first on the path: the generated code and nothing else.
    done = run_isolated(python, ["-c", probe], out / "python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["SessionsServiceStub", "x"]
