"""A held hotel stay as the arbiter's AttachItem takes it, for tests that attach one."""

from __future__ import annotations

from travel.common.v1 import money_pb2
from travel.sessions.v1 import sessions_pb2 as pb


def stay(hold_id: str, amount: int = 24_000) -> pb.Item:
    return pb.Item(
        hotel=pb.HotelStay(
            hold_id=hold_id,
            hotel_id="HTL-LIS-01",
            hotel_name="Grand Lisbon Hotel",
            city="LIS",
            check_in="2031-04-01",
            check_out="2031-04-03",
            guests=2,
            price=money_pb2.Money(amount=amount, currency="EUR"),
            status="HELD",
        )
    )
