"""Services meet only through each other's client; sessions own no timer; a port never imports an adapter."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = ROOT / "services"
SERVICES = ("sessions", "expiry", "hotel", "flights", "payments", "customers")
# What makes a module an adapter: it talks to a database, Redis, gRPC or HTTP itself.
ADAPTER_LIBRARIES = frozenset({"sqlalchemy", "redis", "grpc", "httpx", "psycopg", "aiosqlite"})
# The saga folder holds each participant's step handlers, so it may reach a service's pure core:
# its domain and its ports, never an adapter or an entry point.
SAGA_FOLDER = "sagas"
SAGA_REACH = frozenset({"client", "domain", "ports"})


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, anywhere in it, with `from a import b` also giving `a.b`."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def service_modules() -> Iterator[tuple[str, Path]]:
    """(folder under services/, path) of every module in a service or a shared package."""
    for path in sorted(SERVICES_DIR.rglob("*.py")):
        parts = path.relative_to(SERVICES_DIR).parts
        if len(parts) > 1:
            yield parts[0], path


def test_sessions_import_nothing_from_expiry() -> None:
    found = sorted(
        {
            f"{path.relative_to(ROOT)}: {'.'.join(module.split('.')[:3])}"
            for owner, path in service_modules()
            if owner == "sessions"
            for module in imports(path)
            if module == "services.expiry" or module.startswith("services.expiry.")
        }
    )
    assert not found, "sessions import the expiry worker:\n" + "\n".join(found)


def test_a_service_reaches_another_only_through_its_client() -> None:
    found: set[str] = set()
    for owner, path in service_modules():
        for module in imports(path):
            parts = module.split(".")
            if len(parts) < 3 or parts[0] != "services" or parts[1] not in SERVICES or parts[1] == owner:
                continue  # `services.<b>` alone is the package a `from services.<b> import x` names
            allowed = SAGA_REACH if owner == SAGA_FOLDER else {"client"}
            if parts[2] not in allowed:
                found.add(f"{path.relative_to(ROOT)}: {'.'.join(parts[:3])}")
    assert not found, "modules reach into another service's internals:\n" + "\n".join(sorted(found))


def is_adapter(path: Path) -> bool:
    return any(module.split(".")[0] in ADAPTER_LIBRARIES for module in imports(path))


def test_ports_import_no_adapter_of_their_own_service() -> None:
    found = []
    ports = sorted(SERVICES_DIR.rglob("ports.py"))
    assert ports
    for port in ports:
        package = module_name(port).rsplit(".", 1)[0]
        for module in imports(port):
            if not module.startswith(f"{package}."):
                continue
            target = ROOT / Path(*module.split("."))
            source = target.with_suffix(".py")
            source = source if source.exists() else target / "__init__.py"
            if source.exists() and is_adapter(source):
                found.append(f"{port.relative_to(ROOT)}: {module}")
    assert not found, "ports import adapters of their own service:\n" + "\n".join(found)


def test_the_checks_see_an_import_that_crosses() -> None:
    """The rules above look at what they claim to: a crossing import in a module is found."""
    crossing = SERVICES_DIR / "payments" / "checkout.py"
    assert "services.sessions.client" in set(imports(crossing))
    assert is_adapter(SERVICES_DIR / "sessions" / "repository.py")
    assert not is_adapter(SERVICES_DIR / "sessions" / "domain.py")
