"""Find and import every generated `travel.<svc>.v1` module so its descriptors can be read."""

from __future__ import annotations

import importlib
from pathlib import Path

from google.protobuf.descriptor import FileDescriptor

GENERATED_ROOT_PACKAGE = "travel"


def generated_module_names(root_package: str = GENERATED_ROOT_PACKAGE) -> list[str]:
    """Dotted names of every `<root>/**/v1/*_pb2.py` module, sorted for a stable route order."""
    root = importlib.import_module(root_package)
    names: set[str] = set()
    for folder in map(Path, root.__path__):
        for module_file in folder.rglob("*_pb2.py"):
            if module_file.parent.name != "v1":
                continue
            relative = module_file.relative_to(folder).with_suffix("")
            names.add(".".join((root_package, *relative.parts)))
    return sorted(names)


def load_generated_files(root_package: str = GENERATED_ROOT_PACKAGE) -> list[FileDescriptor]:
    """Import the generated modules (no I/O beyond the import) and return their file descriptors."""
    return [importlib.import_module(name).DESCRIPTOR for name in generated_module_names(root_package)]


def service_key(package: str) -> str:
    """`travel.customers.v1` -> `customers`: the name used for the backend's env variable."""
    parts = package.split(".")
    if len(parts) >= 3 and parts[0] == GENERATED_ROOT_PACKAGE:
        return "_".join(parts[1:-1])
    return "_".join(parts)
