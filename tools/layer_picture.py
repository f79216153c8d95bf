"""`python -m tools.layer_picture [--update docs/layers.md]`: the packages and their imports as Mermaid.

Each arrow is drawn from the imports the source holds now (statements and `import_module` literals),
one per pair of packages, so the picture in docs/layers.md cannot drift from the code. A process's
composition root (`app.py`, `__main__.py`) is left out: it wires every package its process runs, by
design, and the layer rules still hold for it (tests/unit/test_layers.py reads every module).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.import_graph import ROOT, file_references, module_name, python_files

# Bottom to top: a package imports only from its own layer or the ones below it. Each service
# is its own package in the services layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("kit",),
    ("bus",),
    ("services",),
    ("gateway",),
    ("simulated_world",),
    ("launcher",),
    ("tools",),
)
# The folders whose imports are drawn.
DRAWN = ("kit", "bus", "services", "gateway", "simulated_world", "launcher", "tools")
# The modules that wire a process together; their imports are no dependency of the package.
COMPOSITION_ROOTS = frozenset({"app.py", "__main__.py"})
BEGIN = "<!-- layer picture: python -m tools.layer_picture --update docs/layers.md -->"
END = "<!-- end of layer picture -->"

Edge = tuple[str, str]


def package_of(module: str) -> str:
    """The drawn package a module belongs to: a service (`services.sessions`) or a top-level package."""
    parts = module.split(".")
    if parts[0] == "services" and len(parts) > 1:
        return f"services.{parts[1]}"
    return parts[0]


def layer_of(package: str) -> int:
    """The package's layer, 0 for the bottom one."""
    top = package.split(".")[0]
    for rank, layer in enumerate(LAYERS):
        if top in layer:
            return rank
    raise KeyError(f"{package} is in no layer")


def packages(root: Path = ROOT) -> list[str]:
    """Every drawn package, bottom layer first."""
    found = {package_of(module_name(path)) for folder in DRAWN for path in python_files(root / folder)}
    return sorted((p for p in found if p != "services"), key=lambda p: (layer_of(p), p))


def edges(root: Path = ROOT) -> list[Edge]:
    """(importer, imported) for each pair of distinct drawn packages with at least one import between them."""
    drawn = set(packages(root))
    found: set[Edge] = set()
    for folder in DRAWN:
        for path in python_files(root / folder):
            if path.name in COMPOSITION_ROOTS:
                continue
            importer = package_of(module_name(path))
            for reference in file_references(path):
                imported = package_of(reference.target)
                if reference.imports and imported != importer and {importer, imported} <= drawn:
                    found.add((importer, imported))
    return sorted(found, key=lambda e: (-layer_of(e[0]), e[0], layer_of(e[1]), e[1]))


def upward(found: Iterable[Edge]) -> list[Edge]:
    """The arrows that go from a lower layer to a higher one."""
    return [(a, b) for a, b in found if layer_of(a) < layer_of(b)]


def cycles(found: Iterable[Edge]) -> list[list[str]]:
    """Each set of packages that reach one another through imports (more than one package), sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reached = {node: reach(node) for node in graph}
    groups = {
        tuple(sorted(n for n in graph if n == node or (n in reached[node] and node in reached[n])))
        for node in graph
    }
    return sorted(list(group) for group in groups if len(group) > 1)


def _node(package: str) -> str:
    return package.replace(".", "_")


def mermaid(found: Sequence[Edge], drawn: Sequence[str]) -> str:
    """A Mermaid flowchart: one node per package, the services in one box, top layer first."""
    lines = ["```mermaid", "flowchart TD"]
    services = [p for p in drawn if p.startswith("services.")]
    for package in sorted(drawn, key=lambda p: (-layer_of(p), p)):
        if package.startswith("services."):
            if package == services[0]:
                lines.append('  subgraph services["services"]')
                lines.extend(f'    {_node(s)}["{s.partition(".")[2]}"]' for s in services)
                lines.append("  end")
            continue
        lines.append(f'  {_node(package)}["{package}"]')
    lines.extend(f"  {_node(a)} --> {_node(b)}" for a, b in found)
    lines.append("```")
    return "\n".join(lines) + "\n"


def picture(root: Path = ROOT) -> str:
    return mermaid(edges(root), packages(root))


def with_picture(document: str, drawn: str) -> str:
    """`document` with the text between its picture markers replaced by `drawn`."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the document has no `{BEGIN}` ... `{END}` section")
    return f"{head}{BEGIN}\n{drawn}{END}{tail}"


def shown_picture(document: str) -> str:
    """The picture between `document`'s markers, as written there."""
    return document.partition(BEGIN)[2].partition(END)[0].removeprefix("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.layer_picture", description=__doc__)
    parser.add_argument(
        "--update", type=Path, metavar="FILE", help="rewrite the picture between FILE's markers"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    drawn = picture()
    if args.update is None:
        sys.stdout.write(drawn)
    else:
        args.update.write_text(with_picture(args.update.read_text(encoding="utf-8"), drawn), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
