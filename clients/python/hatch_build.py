"""Hatch hooks: put the generated code of every proto into the wheel and derive version and dependencies."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

HERE = Path(__file__).resolve().parent
# What `make gen` writes (protos/generate.py): one generator for the services and the client.
GENERATED = HERE.parent.parent / "gen"
PROTOS = HERE.parent.parent / "protos"


def proto_major() -> int:
    """The highest package version of the protos (travel.<service>.v<N>); the client's major follows it."""
    versions = {int(p.name[1:]) for p in PROTOS.glob("travel/*/v*") if re.fullmatch(r"v\d+", p.name)}
    if not versions:
        raise RuntimeError(f"no travel/<service>/v<N> packages under {PROTOS}")
    return max(versions)


def generated_floor(pattern: str, glob: str) -> str:
    """The oldest runtime the generated code accepts, as it states in each generated module."""
    found = {m.group(1) for f in GENERATED.rglob(glob) if (m := re.search(pattern, f.read_text()))}
    if not found:
        raise RuntimeError(f"no generated {glob} under {GENERATED}: run `make gen` first")
    return max(found, key=lambda v: tuple(int(part) for part in v.split(".")))


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        metadata["version"] = f"{proto_major()}.{self.config['release']}"
        grpc_floor = generated_floor(r"GRPC_GENERATED_VERSION = '([\d.]+)'", "*_pb2_grpc.py")
        protobuf_floor = generated_floor(r"# Protobuf Python Version: ([\d.]+)", "*_pb2.py")
        protobuf_major = int(protobuf_floor.split(".")[0])
        metadata["dependencies"] = [
            f"grpcio>={grpc_floor},<2",
            f"protobuf>={protobuf_floor},<{protobuf_major + 1}",
            f"googleapis-common-protos{self.config['googleapis-common-protos']}",
        ]


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        package = GENERATED / "travel"
        if not (package / "__init__.py").exists():
            raise RuntimeError(f"no generated code in {package}: run `make gen` first")
        # File by file, so only generated modules and stubs go in (never a stray cache or data file).
        for path in sorted(package.rglob("*")):
            if path.suffix in {".py", ".pyi"}:
                build_data["force_include"][str(path)] = str(path.relative_to(GENERATED))
        build_data["force_include"][str(GENERATED / "py.typed")] = "travel/py.typed"
        for proto in sorted(PROTOS.rglob("*.proto")):
            build_data["force_include"][str(proto)] = str(proto.relative_to(PROTOS))
