"""Backend statuses and client mistakes become JSON errors with the right HTTP status."""

from __future__ import annotations

import uuid

import pytest

from tests.support.gateway import RunningGateway

BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


async def test_invalid_argument_carries_bad_request_details(gateway: RunningGateway) -> None:
    reply = await gateway.client.post(
        "/v1/customers", json={"email": "nope", "name": "A", "password": "short"}
    )
    # The fake backend refuses without the field-rules marker: a business refusal, so 422.
    assert reply.status_code == 422
    body = reply.json()
    assert body["code"] == 3
    [detail] = [d for d in body["details"] if d["@type"] == BAD_REQUEST]
    assert {v["field"] for v in detail["fieldViolations"]} == {"email", "password"}


async def test_already_exists_is_409(gateway: RunningGateway) -> None:
    email = f"dup-{uuid.uuid4().hex}@example.com"
    payload = {"email": email, "name": "A", "password": "long enough"}
    assert (await gateway.client.post("/v1/customers", json=payload)).status_code == 200
    reply = await gateway.client.post("/v1/customers", json=payload)
    assert reply.status_code == 409
    assert reply.json()["code"] == 6


async def test_unauthenticated_is_401(gateway: RunningGateway) -> None:
    reply = await gateway.client.get("/v1/customers/me", headers={"Authorization": "Bearer x"})
    assert reply.status_code == 401
    assert reply.json() == {
        "code": 16,
        "message": "who are you?",
        "details": [{"@type": ERROR_INFO, "reason": "TOKEN_INVALID", "domain": "travel.example"}],
    }


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b'{"email": ', None),
        (b"[1, 2]", None),
        (b'"text"', None),
        (b'{"email": "a@b.c", "shoeSize": 42}', "shoeSize"),
        (b'{"email": 42}', "email"),
        (b"\xff\xfe", None),
    ],
)
async def test_bad_json_bodies_are_400_and_never_reach_the_backend(
    gateway: RunningGateway, content: bytes, field: str | None
) -> None:
    reply = await gateway.client.post(
        "/v1/customers", content=content, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["code"] == 3
    if field is not None:
        assert field in body["message"]
        assert body["details"][0]["fieldViolations"][0]["field"] == field
    assert gateway.log.calls == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("small=abc", "small"),
        ("big=1.5", "big"),
        ("flag=maybe", "flag"),
        ("color=GREEN", "color"),
        ("when=yesterday", "when"),
        ("inner.count=x", "inner.count"),
        ("nothing=1", "nothing"),
        ("inner.id=1", "inner.id"),
    ],
)
async def test_bad_query_parameters_name_the_field(gateway: RunningGateway, query: str, field: str) -> None:
    reply = await gateway.client.get(f"/v1/inner/i1/things?{query}")
    assert reply.status_code == 400
    violation = reply.json()["details"][0]["fieldViolations"][0]
    assert violation["field"] == field
    assert gateway.log.calls == []


async def test_unknown_route_is_a_json_404(gateway: RunningGateway) -> None:
    reply = await gateway.client.get("/v1/nowhere")
    assert reply.status_code == 404
    assert reply.json()["code"] == 5
    assert reply.headers["x-request-id"]


async def test_wrong_method_on_a_known_path_is_405(gateway: RunningGateway) -> None:
    reply = await gateway.client.put("/v1/customers/me", json={})
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET"
    assert reply.json()["code"] == 12
    assert gateway.log.calls == []


async def test_oversized_body_is_413(gateway: RunningGateway) -> None:
    huge = b'{"name": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    reply = await gateway.client.post(
        "/v1/customers", content=huge, headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413
    assert gateway.log.calls == []


async def test_oversized_chunked_body_is_413(gateway: RunningGateway) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    reply = await gateway.client.post("/v1/customers", content=chunks())
    assert reply.status_code == 413
    assert gateway.log.calls == []


async def test_backend_down_is_503(gateway_without_backend: RunningGateway) -> None:
    reply = await gateway_without_backend.client.get("/v1/customers/me")
    assert reply.status_code == 503
    body = reply.json()
    assert body["code"] == 14
    assert "CustomersService" in body["message"]


async def test_a_backend_refusal_carries_its_error_info_to_the_rest_body(gateway: RunningGateway) -> None:
    email = f"dup-{uuid.uuid4().hex}@example.com"
    payload = {"email": email, "name": "A", "password": "long enough"}
    assert (await gateway.client.post("/v1/customers", json=payload)).status_code == 200
    reply = await gateway.client.post("/v1/customers", json=payload)
    assert reply.status_code == 409
    [info] = [d for d in reply.json()["details"] if d["@type"] == ERROR_INFO]
    # The fake backend maps its refusal with the services' mapping and names no reason: the default.
    assert (info["reason"], info["domain"]) == ("REFUSED", "travel.example")


async def test_the_gateway_s_own_rejections_name_the_gateway_domain(gateway: RunningGateway) -> None:
    missing = (await gateway.client.get("/v1/nowhere")).json()
    assert missing["details"] == [
        {"@type": ERROR_INFO, "reason": "ROUTE_NOT_FOUND", "domain": "gateway.travel.example"}
    ]
    bad = await gateway.client.post(
        "/v1/customers", content=b'{"email": 42}', headers={"content-type": "application/json"}
    )
    [info] = [d for d in bad.json()["details"] if d["@type"] == ERROR_INFO]
    assert (info["reason"], info["domain"]) == ("INVALID_FIELD", "gateway.travel.example")
