"""No two classes of the product, the simulated providers, the tooling or the client share a name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product, the simulated outside world, the tooling and the published client.
FOLDERS = ("kit", "services", "bus", "gateway", "simulated_world", "tools", "launcher", "clients/python/src")
# One gRPC status code, raised by a server handler and received by a client: the same concept on
# each side of the wire, and each name is part of the published client's API.
SAME_CONCEPT = {
    name: {"kit/errors.py", "clients/python/src/travel_client/errors.py"}
    for name in (
        "AlreadyExists",
        "FailedPrecondition",
        "InvalidArgument",
        "NotFound",
        "PermissionDenied",
        "ResourceExhausted",
        "Unauthenticated",
    )
}


def classes_by_name() -> dict[str, set[str]]:
    """Each class name, with the files that define a class of that name."""
    found: dict[str, set[str]] = defaultdict(set)
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    found[node.name].add(path.relative_to(ROOT).as_posix())
    return found


def test_no_two_concepts_share_a_class_name() -> None:
    shared = {
        name: sorted(files)
        for name, files in classes_by_name().items()
        if len(files) > 1 and files != SAME_CONCEPT.get(name)
    }
    assert not shared, f"one name, different classes; rename one of each: {shared}"


def test_every_allowed_name_is_still_shared() -> None:
    found = classes_by_name()
    stale = {name for name, files in SAME_CONCEPT.items() if found.get(name) != files}
    assert not stale, f"no longer shared as allowed; drop from SAME_CONCEPT: {sorted(stale)}"
