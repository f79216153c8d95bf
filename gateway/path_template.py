"""Parse google.api.http path templates and compile them to regexes (pure, no I/O)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_LITERAL = re.compile(r"[^/{}*:=]+")
# A segment matched by `*` may not contain '/'; the verb is split off before matching.
_ONE_SEGMENT = r"[^/]+"
_ANY_SEGMENTS = r"[^/]+(?:/[^/]+)*"


class TemplateError(ValueError):
    """A path template does not follow the google.api.http grammar."""


@dataclass(frozen=True)
class Variable:
    """A `{field.path=pattern}` capture; `multi_segment` when it may span several segments."""

    field_path: tuple[str, ...]
    group: str
    multi_segment: bool

    @property
    def name(self) -> str:
        return ".".join(self.field_path)


@dataclass(frozen=True)
class PathTemplate:
    """A compiled template: regex over the raw path (verb removed), its variables and verb."""

    source: str
    regex: re.Pattern[str]
    variables: tuple[Variable, ...]
    verb: str
    literal_prefix: tuple[str, ...]
    specificity: tuple[int, int, int]

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Field path -> percent-decoded value, or None when the path does not fit."""
        found = self.regex.fullmatch(raw_path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for variable in self.variables:
            raw = found.group(variable.group)
            # Multi-segment values keep an encoded '/' so that it stays distinct from a separator.
            values[variable.name] = (
                unquote(raw.replace("%2F", "%252F").replace("%2f", "%252f"))
                if variable.multi_segment
                else unquote(raw)
            )
        return values

    def openapi_path(self) -> str:
        """The template with each variable reduced to `{field.path}`, as OpenAPI wants."""
        return _VARIABLE_SPAN.sub(lambda m: "{" + m.group(1) + "}", self.source)


_VARIABLE_SPAN = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")


def split_verb(raw_path: str) -> tuple[str, str]:
    """Split a custom verb (`/a/b:cancel`) off the last segment: (path, verb)."""
    slash = raw_path.rfind("/")
    colon = raw_path.rfind(":")
    if colon > slash + 1:
        return raw_path[:colon], raw_path[colon + 1 :]
    return raw_path, ""


def parse_template(source: str) -> PathTemplate:
    """Compile `/v1/{name=sessions/*}/items/{id}:verb` into a PathTemplate."""
    if not source.startswith("/"):
        raise TemplateError(f"template {source!r} must start with '/'")
    body, verb = _split_template_verb(source)
    parser = _Parser(body, source)
    pattern, variables, literals, wildcards, prefix = parser.parse()
    return PathTemplate(
        source=source,
        regex=re.compile(pattern),
        variables=tuple(variables),
        verb=verb,
        literal_prefix=tuple(prefix),
        # More literal segments first, then fewer wildcards, then fewer variables.
        specificity=(-literals, wildcards, len(variables)),
    )


def _split_template_verb(source: str) -> tuple[str, str]:
    depth = 0
    for index, char in enumerate(source):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == ":" and depth == 0:
            verb = source[index + 1 :]
            if not _LITERAL.fullmatch(verb):
                raise TemplateError(f"template {source!r} has an invalid verb {verb!r}")
            return source[:index], verb
    return source, ""


class _Parser:
    """Recursive-descent parser over the template body (verb already removed)."""

    def __init__(self, body: str, source: str) -> None:
        self.text = body
        self.source = source
        self.pos = 0
        self.variables: list[Variable] = []
        self.literals = 0
        self.wildcards = 0
        self.prefix: list[str] = []
        self.prefix_open = True

    def fail(self, why: str) -> TemplateError:
        return TemplateError(f"template {self.source!r}: {why} at offset {self.pos}")

    def parse(self) -> tuple[str, list[Variable], int, int, list[str]]:
        pattern = self.segments(top_level=True)
        if self.pos != len(self.text):
            raise self.fail("unexpected character")
        return pattern, self.variables, self.literals, self.wildcards, self.prefix

    def segments(self, top_level: bool) -> str:
        """Top level: `/seg/seg...` up to the end; inside a variable: `seg/seg` up to '}'."""
        parts: list[str] = []
        while True:
            if top_level:
                if self.pos >= len(self.text):
                    break
                if self.text[self.pos] != "/":
                    raise self.fail("expected '/'")
                self.pos += 1
            parts.append(self.segment(top_level))
            if not top_level:
                if not self.text.startswith("/", self.pos):
                    break
                self.pos += 1
        if not parts:
            raise self.fail("empty template")
        return ("/" if top_level else "") + "/".join(parts)

    def segment(self, top_level: bool) -> str:
        text = self.text
        if text.startswith("**", self.pos):
            self.pos += 2
            self.wildcards += 2
            self.prefix_open = False
            return _ANY_SEGMENTS
        if text.startswith("*", self.pos):
            self.pos += 1
            self.wildcards += 1
            self.prefix_open = False
            return _ONE_SEGMENT
        if text.startswith("{", self.pos):
            if not top_level:
                raise self.fail("nested variable")
            return self.variable()
        literal = _LITERAL.match(text, self.pos)
        if literal is None:
            raise self.fail("expected a segment")
        self.pos = literal.end()
        self.literals += 1
        if self.prefix_open and top_level:
            self.prefix.append(literal.group())
        return re.escape(literal.group())

    def variable(self) -> str:
        self.pos += 1
        ident = _IDENT.match(self.text, self.pos)
        if ident is None:
            raise self.fail("expected a field path")
        self.pos = ident.end()
        self.prefix_open = False
        inner = _ONE_SEGMENT
        multi = False
        if self.text.startswith("=", self.pos):
            self.pos += 1
            inner = self.segments(top_level=False)
            multi = inner != _ONE_SEGMENT
        if not self.text.startswith("}", self.pos):
            raise self.fail("expected '}'")
        self.pos += 1
        group = f"v{len(self.variables)}"
        field_path = tuple(ident.group().split("."))
        if any(v.field_path == field_path for v in self.variables):
            raise self.fail(f"variable {ident.group()!r} bound twice")
        self.variables.append(Variable(field_path=field_path, group=group, multi_segment=multi))
        return f"(?P<{group}>{inner})"
