"""Every setting the given modules declare in a Markdown table, with default and readers."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from kit.settings import EVERY_PROCESS, Setting

# A document's table sits between a line opening with BEGIN_OPENING, which goes on to name the
# command that rewrites it, and the END line. Any command named is accepted, so a document written
# by an earlier command is still found and gets the current line.
BEGIN_OPENING = "<!-- settings table:"
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


def declared_settings(modules: Iterable[ModuleType]) -> list[Setting[object]]:
    """Every setting the modules declare, once each, sorted by name."""
    settings: dict[str, Setting[object]] = {}
    for module in modules:
        for value in vars(module).values():
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


def _sections(document: str) -> tuple[str, str, str]:
    """The text before the table's first marker line, the table, and the text from its end marker on."""
    head, begin, rest = document.partition(BEGIN_OPENING)
    _, newline, rest = rest.partition("\n")
    shown, end, tail = rest.partition(END)
    if not begin or not newline or not end:
        raise ValueError(f"the document has no `{BEGIN_OPENING} ...` ... `{END}` section")
    return head, shown, f"{end}{tail}"


def shown_table(document: str) -> str:
    """The table between `document`'s markers, as written there."""
    return _sections(document)[1]


def begin_line(command: str) -> str:
    """The table's first marker line, naming the command that rewrites it."""
    return f"{BEGIN_OPENING} {command} -->"


def with_table(document: str, rendered: str, begin: str) -> str:
    """`document` with its table replaced by `rendered`, under the marker line `begin`."""
    head, _, tail = _sections(document)
    return f"{head}{begin}\n{rendered}{tail}"


def main(modules: Iterable[ModuleType], prog: str, argv: Sequence[str] | None = None) -> int:
    """Print the modules' table, or rewrite it in the file given with `--update`; `prog` runs this."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument(
        "--update", type=Path, metavar="FILE", help="rewrite the table between FILE's settings table markers"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rendered = table(declared_settings(modules))
    if args.update is None:
        sys.stdout.write(rendered)
    else:
        begin = begin_line(f"{prog} --update {args.update}")
        args.update.write_text(with_table(args.update.read_text(), rendered, begin))
    return 0
