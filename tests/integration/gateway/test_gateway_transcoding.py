"""Routes, body and query mapping, auth and request-id forwarding through the real gateway."""

from __future__ import annotations

import uuid

from tests.support.gateway import RunningGateway


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex}@example.com"


async def register(gateway: RunningGateway, email: str) -> dict[str, object]:
    reply = await gateway.client.post(
        "/v1/customers", json={"email": email, "name": "Ana", "password": "correct horse"}
    )
    assert reply.status_code == 200, reply.text
    customer: dict[str, object] = reply.json()["customer"]
    return customer


async def test_register_login_and_get_me_with_the_bearer_token(gateway: RunningGateway) -> None:
    email = unique_email()
    customer = await register(gateway, email)
    assert customer["email"] == email
    assert customer["createTime"] == "2023-11-14T22:13:20Z"

    login = await gateway.client.post("/v1/auth/token", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200
    token = login.json()
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == "900"  # int64 is a string in the JSON mapping

    me = await gateway.client.get(
        "/v1/customers/me", headers={"Authorization": f"Bearer {token['accessToken']}"}
    )
    assert me.status_code == 200
    assert me.json()["customer"]["id"] == customer["id"]
    assert gateway.log.last_metadata()["authorization"] == f"Bearer {token['accessToken']}"


async def test_proto_field_names_are_accepted_in_input(gateway: RunningGateway) -> None:
    reply = await gateway.client.post("/v1/things", json={"display_name": "x", "inner": {"count": 2}})
    assert reply.status_code == 200
    assert reply.json()["displayName"] == "x"
    assert reply.json()["inner"] == {"id": "", "count": 2}


async def test_request_id_is_forwarded_and_echoed(gateway: RunningGateway) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    reply = await gateway.client.get("/v1/things/t1", headers={"x-request-id": request_id})
    assert reply.headers["x-request-id"] == request_id
    assert gateway.log.last_metadata()["x-request-id"] == request_id


async def test_a_request_id_is_generated_when_missing(gateway: RunningGateway) -> None:
    reply = await gateway.client.get("/v1/things/t1")
    generated = reply.headers["x-request-id"]
    assert generated
    assert gateway.log.last_metadata()["x-request-id"] == generated


async def test_path_variables_and_additional_bindings(gateway: RunningGateway) -> None:
    thing_id = uuid.uuid4().hex
    by_id = await gateway.client.get(f"/v1/things/{thing_id}")
    assert by_id.json()["id"] == thing_id
    by_name = await gateway.client.get("/v1/rooms/r%20one")
    assert by_name.json()["name"] == "rooms/r one"
    assert [method for method, _ in gateway.log.calls] == ["Get", "Get"]


async def test_literal_route_wins_over_a_variable(gateway: RunningGateway) -> None:
    await gateway.client.get("/v1/things/mine")
    assert gateway.log.calls[-1][0] == "GetMine"


async def test_nested_path_variable_and_query_parameters(gateway: RunningGateway) -> None:
    reply = await gateway.client.get(
        "/v1/inner/in-1/things",
        params=[
            ("tags", "a"),
            ("tags", "b"),
            ("big", "9007199254740993"),
            ("flag", "true"),
            ("color", "BLUE"),
            ("inner.count", "3"),
            ("when", "2024-05-01T10:00:00Z"),
            ("displayName", "camel"),
            ("numbers", "1"),
            ("numbers", "2"),
        ],
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["inner"] == {"id": "in-1", "count": 3}
    assert body["tags"] == ["a", "b"]
    assert body["big"] == "9007199254740993"
    assert body["flag"] is True
    assert body["color"] == "BLUE"
    assert body["when"] == "2024-05-01T10:00:00Z"
    assert body["displayName"] == "camel"
    assert body["numbers"] == [1, 2]


async def test_field_body_and_path_variable(gateway: RunningGateway) -> None:
    reply = await gateway.client.patch("/v1/things/t9", json={"id": "inner-9", "count": 7})
    assert reply.status_code == 200
    assert reply.json()["id"] == "t9"
    assert reply.json()["inner"] == {"id": "inner-9", "count": 7}


async def test_custom_verb(gateway: RunningGateway) -> None:
    reply = await gateway.client.post("/v1/things/t5:cancel", json={"name": "why"})
    assert reply.status_code == 200
    assert reply.json()["id"] == "t5"
    assert gateway.log.calls[-1][0] == "Cancel"


async def test_response_body_selects_one_field(gateway: RunningGateway) -> None:
    reply = await gateway.client.delete("/v1/things/t7", params={"inner.count": "5"})
    assert reply.json() == {"id": "", "count": 5}


async def test_rpc_without_http_annotation_is_not_exposed(gateway: RunningGateway) -> None:
    table = gateway.app.state.route_table
    assert "Internal" not in {binding.method.name for binding in table.bindings}
