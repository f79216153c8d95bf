"""`python -m kit.settings`: every declared setting in a Markdown table, with default and readers."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from kit.settings import EVERY_PROCESS, Setting

# The modules that declare settings; a new one is added here, and the documented table regenerated.
DECLARING_MODULES = (
    "kit.settings",
    "kit.topology",
    "kit.shared_settings",
    "kit.bus_runtime",
    "bus.settings",
    "gateway.config",
    "services.customers.config",
    "services.sessions.config",
    "services.expiry.config",
    "services.participant.config",
    "services.payments.config",
    "simulated_world.providers.config",
)
# The documented table sits between these two lines of this file.
DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
BEGIN = "<!-- settings table: python -m kit.settings --update docs/configuration.md -->"
END = "<!-- end of settings table -->"
PROVIDERS = ("provider-hotel", "provider-flight", "provider-payment")


class DuplicateSetting(Exception):
    """Two declarations name the same environment variable."""


def _found_in(value: object) -> Iterator[Setting[object]]:
    """Settings in a module-level value: a setting, a mapping or tuple of them, or a dataclass of them."""
    if isinstance(value, Setting):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _found_in(item)
    elif isinstance(value, tuple):
        for item in value:
            yield from _found_in(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _found_in(getattr(value, item.name))


def declared_settings(modules: Sequence[str] = DECLARING_MODULES) -> list[Setting[object]]:
    """Every setting the modules declare, once each, sorted by name."""
    settings: dict[str, Setting[object]] = {}
    for name in modules:
        for value in vars(importlib.import_module(name)).values():
            for setting in _found_in(value):
                known = settings.setdefault(setting.name, setting)
                if known is not setting:
                    raise DuplicateSetting(f"{setting.name} is declared twice")
    return [settings[name] for name in sorted(settings)]


def readers_text(readers: Sequence[str]) -> str:
    """The processes that read a setting, in the Procfile's words, with whole groups named as one."""
    remaining = list(dict.fromkeys(readers))
    named: list[str] = []
    if set(EVERY_PROCESS) <= set(remaining):
        named.append("every process")
        remaining = [r for r in remaining if r not in EVERY_PROCESS]
    order = {process: index for index, process in enumerate(EVERY_PROCESS)}
    remaining.sort(key=lambda r: (order.get(r, len(order)), r))
    if set(PROVIDERS) <= set(remaining):
        at = remaining.index(PROVIDERS[0])
        remaining = [r for r in remaining if r not in PROVIDERS]
        remaining.insert(at, "providers")
    return ", ".join(named + remaining)


def default_text(setting: Setting[object]) -> str:
    if setting.shown_default is not None:
        return setting.shown_default
    if setting.default is None:
        return "unset"
    if setting.default == "":
        return "empty"
    return f"`{setting.default_text}`"


def table(settings: Sequence[Setting[object]]) -> str:
    lines = ["| setting | default | read by | meaning |", "|---|---|---|---|"]
    for setting in settings:
        cells = (f"`{setting.name}`", default_text(setting), readers_text(setting.readers), setting.meaning)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def with_table(document: str, rendered: str) -> str:
    """`document` with the text between its table markers replaced by `rendered`."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"the document has no `{BEGIN}` ... `{END}` section")
    return f"{head}{BEGIN}\n{rendered}{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kit.settings", description=__doc__)
    parser.add_argument(
        "--update",
        type=Path,
        nargs="?",
        const=DOCUMENT,
        metavar="FILE",
        help=f"rewrite the table between FILE's settings table markers (default: {DOCUMENT.name} in docs/)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rendered = table(declared_settings())
    if args.update is None:
        sys.stdout.write(rendered)
    else:
        args.update.write_text(with_table(args.update.read_text(), rendered))
    return 0
