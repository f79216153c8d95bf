"""Every way of starting the processes gives them the same gRPC socket path, and an explicit choice wins."""

from __future__ import annotations

import re
from pathlib import Path

from kit.grpc_io import GRPC_EXPERIMENTS, IOMGR_SOCKETS, with_grpc_io

ROOT = Path(__file__).resolve().parents[2]


def test_an_environment_without_a_choice_gets_the_iomgr_sockets() -> None:
    assert with_grpc_io({"PATH": "/bin"}) == {"PATH": "/bin", GRPC_EXPERIMENTS: IOMGR_SOCKETS}


def test_an_explicit_choice_is_kept_even_an_empty_one() -> None:
    assert with_grpc_io({GRPC_EXPERIMENTS: "-event_engine_dns"})[GRPC_EXPERIMENTS] == "-event_engine_dns"
    assert with_grpc_io({GRPC_EXPERIMENTS: ""})[GRPC_EXPERIMENTS] == ""


def test_the_image_sets_the_same_value() -> None:
    found = re.findall(r"^ENV GRPC_EXPERIMENTS=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert found == [IOMGR_SOCKETS]


def test_the_makefile_runs_tests_and_benchmarks_with_the_same_value() -> None:
    found = re.findall(r"^export GRPC_EXPERIMENTS \?= (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert found == [IOMGR_SOCKETS]
