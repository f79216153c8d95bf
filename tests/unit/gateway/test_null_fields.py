"""A JSON null in a request body is refused, naming the field, unless the schema allows it."""

from __future__ import annotations

import pytest
from travel.customers.v1 import customers_pb2
from travel.sessions.v1 import sessions_pb2

from gateway.errors import GatewayError
from gateway.transcoder import refuse_nulls


@pytest.mark.parametrize(
    ("document", "message", "field"),
    [
        ({"requestId": None}, sessions_pb2.CreateSessionRequest, "requestId"),
        ({"email": "a@b.c", "name": None}, customers_pb2.RegisterRequest, "name"),
        ({"request_id": None}, customers_pb2.RegisterRequest, "requestId"),
    ],
)
def test_a_null_scalar_is_refused_naming_it(document: dict[str, object], message: type, field: str) -> None:
    with pytest.raises(GatewayError) as refused:
        refuse_nulls(document, message.DESCRIPTOR)
    assert refused.value.http_status == 400
    assert str(refused.value) == f"invalid field {field}: must not be null"


def test_a_body_without_nulls_passes() -> None:
    refuse_nulls({"requestId": "", "unknown": None}, sessions_pb2.CreateSessionRequest.DESCRIPTOR)
