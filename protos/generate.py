"""Generate Python messages, gRPC stubs and their typed stubs (mypy-protobuf) for every proto into gen/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import google.api
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"
THIRD_PARTY = GEN / "third_party"


def vendor_google_api() -> None:
    """Copy google/api/*.proto out of googleapis-common-protos so buf and protoc run offline."""
    target = THIRD_PARTY / "google" / "api"
    target.mkdir(parents=True, exist_ok=True)
    for proto in Path(next(iter(google.api.__path__))).glob("*.proto"):
        shutil.copy2(proto, target / proto.name)


def main() -> int:
    if GEN.exists():
        shutil.rmtree(GEN)
    GEN.mkdir()
    vendor_google_api()
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    plugins = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{THIRD_PARTY}",
        f"-I{well_known}",
        f"--python_out={GEN}",
        f"--grpc_python_out={GEN}",
        f"--plugin=protoc-gen-mypy={plugins / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={plugins / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={GEN}",
        f"--mypy_grpc_out={GEN}",
        *sources,
    ]
    code = protoc.main(args)
    if code != 0:
        print("protoc failed", file=sys.stderr)
        return int(code)
    for folder in (GEN / "travel").rglob("*"):
        if folder.is_dir():
            (folder / "__init__.py").touch()
    (GEN / "travel" / "__init__.py").touch()
    (GEN / "py.typed").touch()
    print(f"generated {len(sources)} proto files into {GEN.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
