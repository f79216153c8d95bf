"""Package layers: kit imports nothing of the project, bus only kit, and the product nothing outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.import_graph import ROOT, file_references, module_name, python_files, references
from tools.layer_picture import cycles, edges, picture, shown_picture, upward

# The project packages each product package may name, by import or by string; the standard library,
# third-party libraries and the generated code (`travel`) are always allowed.
MAY_USE: dict[str, frozenset[str]] = {
    "kit": frozenset({"kit"}),
    "bus": frozenset({"kit", "bus"}),
    "services": frozenset({"kit", "bus", "services"}),
    "gateway": frozenset({"kit", "bus", "services", "gateway"}),
    "travel_client": frozenset({"travel_client"}),
}
PRODUCT = ("kit", "bus", "services", "gateway", "clients/python/src")
OUTSIDE_THE_PRODUCT = frozenset({"simulated_world", "tools", "launcher", "tests", "examples"})
# Packages that import one another today; each entry goes once the cycle is broken.
KNOWN_CYCLES: list[list[str]] = []


def violations(module: str, source: str, is_package: bool = False) -> list[str]:
    """Each project module that `source` (the text of `module`) names but its layer may not use."""
    allowed = MAY_USE[module.split(".")[0]]
    return [
        f"{module}:{found.line}: {found.target} ({found.how.value})"
        for found in references(source, module, is_package)
        if found.package not in allowed
    ]


def product_files() -> list[Path]:
    return [path for folder in PRODUCT for path in python_files(ROOT / folder)]


def test_every_product_package_has_its_rule() -> None:
    assert {module_name(path).split(".")[0] for path in product_files()} == set(MAY_USE)
    assert not any(OUTSIDE_THE_PRODUCT & allowed for allowed in MAY_USE.values())


def test_each_layer_imports_only_what_it_may() -> None:
    crossing = [
        line
        for path in product_files()
        for line in violations(
            module_name(path), path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
        )
    ]
    assert not crossing, "a package imports or names what its layer may not use:\n" + "\n".join(crossing)


@pytest.mark.parametrize(
    ("module", "source", "named"),
    [
        ("kit.example", "import bus.keys\n", "bus.keys"),
        ("kit.example", "from services.sessions import client\n", "services.sessions"),
        ("bus.example", "from gateway.app import build_app\n", "gateway.app"),
        ("bus.example", "import importlib\nimportlib.import_module('services.app')\n", "services.app"),
        ("services.hotel.example", "from importlib import import_module as load\nload('gateway.app')\n", ""),
        ("services.hotel.example", "__import__('gateway.rest')\n", "gateway.rest"),
        ("gateway.example", "CONFIG_MODULES = ('kit.settings', 'simulated_world.providers.config')\n",
         "simulated_world.providers.config"),
        ("gateway.example", "APP = 'tools.load:main'\n", "tools.load"),
        ("services.sessions.example", "from tests.fakes import session_store\n", "tests.fakes"),
        ("kit.example", "from .. import bus\n", "bus"),
        ("travel_client.example", "import examples.book_a_trip\n", "examples.book_a_trip"),
    ],
)
def test_the_rule_catches_a_crossing(module: str, source: str, named: str) -> None:
    found = violations(module, source)
    if named:
        assert found and all(named in line for line in found), found
    else:
        # An aliased import_module is not recognised as such, but its literal still names the module.
        assert found == [f"{module}:2: gateway.app (string naming a module)"]


def test_the_rule_lets_allowed_imports_and_ordinary_text_pass() -> None:
    source = (
        "import json\nfrom redis.asyncio import Redis\nfrom travel.saga.v1 import saga_pb2\n"
        "from bus.keys import BusKeys\nfrom kit.settings import Env\nimport services.sessions.client\n"
        "LOGGER = 'gateway.request_id'\nNOTE = 'see e.g. tools for the benchmarks.'\n"
    )
    assert violations("gateway.example", source) == []
    assert violations("kit.example", "import json\nTEXT = 'tools and tests'\n") == []


def test_the_layer_picture_is_current() -> None:
    committed = shown_picture((ROOT / "docs" / "layers.md").read_text(encoding="utf-8"))
    assert committed == picture(), "regenerate it: python -m tools.layer_picture --update docs/layers.md"


def test_no_arrow_goes_up_a_layer_and_no_new_cycle() -> None:
    found = edges()
    assert ("bus", "kit") in found and ("tools", "launcher") in found
    assert upward(found) == []
    assert cycles(found) == KNOWN_CYCLES


def test_upward_arrows_and_cycles_are_found() -> None:
    found = [("kit", "bus"), ("bus", "kit"), ("services.a", "services.b"), ("services.b", "services.a")]
    assert upward(found) == [("kit", "bus")]
    assert cycles(found) == [["bus", "kit"], ["services.a", "services.b"]]


def test_references_resolve_relative_imports() -> None:
    found = references("from .keys import BusKeys\nfrom . import slip\n", "bus.consumer")
    assert [r.target for r in found] == ["bus.keys", "bus"]
    in_package = references("from .keys import BusKeys\n", "bus", is_package=True)
    assert [r.target for r in in_package] == ["bus.keys"]
    assert file_references(ROOT / "bus" / "__init__.py") == []


def test_a_module_loaded_by_name_counts_as_an_import() -> None:
    source = "import importlib\nimportlib.import_module('kit.db')\n__import__('bus.keys')\nN = 'kit.tokens'\n"
    assert [(r.target, r.imports) for r in references(source)] == [
        ("kit.db", True),
        ("bus.keys", True),
        ("kit.tokens", False),
    ]
