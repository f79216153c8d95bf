"""Path template parsing and matching."""

from __future__ import annotations

import pytest

from gateway.path_template import TemplateError, parse_template, split_verb


def test_literal_template_matches_only_itself() -> None:
    template = parse_template("/v1/customers/me")
    assert template.match("/v1/customers/me") == {}
    assert template.match("/v1/customers/you") is None
    assert template.literal_prefix == ("v1", "customers", "me")


def test_simple_variable_is_one_percent_decoded_segment() -> None:
    template = parse_template("/v1/sessions/{id}")
    assert template.match("/v1/sessions/a%20b") == {"id": "a b"}
    assert template.match("/v1/sessions/a/b") is None
    assert template.literal_prefix == ("v1", "sessions")


def test_variable_with_pattern_captures_the_whole_resource_name() -> None:
    template = parse_template("/v1/{name=sessions/*}")
    assert template.match("/v1/sessions/s1") == {"name": "sessions/s1"}
    assert template.match("/v1/hotels/s1") is None
    assert template.openapi_path() == "/v1/{name}"


def test_double_wildcard_keeps_encoded_slashes() -> None:
    template = parse_template("/v1/{path=files/**}")
    assert template.match("/v1/files/a/b%2Fc") == {"path": "files/a/b%2Fc"}


def test_nested_field_path() -> None:
    template = parse_template("/v1/{session.id}/hotel")
    assert template.variables[0].field_path == ("session", "id")
    assert template.match("/v1/s9/hotel") == {"session.id": "s9"}


def test_custom_verb_is_kept_apart() -> None:
    template = parse_template("/v1/sessions/{id}:cancel")
    assert template.verb == "cancel"
    assert template.match("/v1/sessions/s1") == {"id": "s1"}
    assert template.openapi_path() == "/v1/sessions/{id}:cancel"


def test_split_verb() -> None:
    assert split_verb("/v1/sessions/s1:cancel") == ("/v1/sessions/s1", "cancel")
    assert split_verb("/v1/a:b/c") == ("/v1/a:b/c", "")
    assert split_verb("/v1/sessions") == ("/v1/sessions", "")


def test_more_literals_sort_first() -> None:
    literal = parse_template("/v1/things/mine")
    variable = parse_template("/v1/things/{id}")
    assert literal.specificity < variable.specificity


@pytest.mark.parametrize(
    "source", ["v1/x", "/v1/{id", "/v1/{}", "/v1/{a}/{a}", "/v1/x:", "/v1//x", "/v1/{a={b}}"]
)
def test_malformed_templates_are_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(source)
