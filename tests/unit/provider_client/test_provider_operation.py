"""A provider call is counted under its path template: every second segment of a provider path is an id."""

from __future__ import annotations

from services.provider_client.client import provider_operation, provider_path


def test_ids_become_placeholders_and_collections_and_actions_stay() -> None:
    assert provider_operation("POST", provider_path("holds", "H-42", "confirm")) == "POST /holds/{id}/confirm"
    assert provider_operation("GET", provider_path("payments", "p/1 x")) == "GET /payments/{id}"
    assert provider_operation("GET", "/hotels") == "GET /hotels"
    assert provider_operation("GET", "/holds?reference=abc") == "GET /holds"
