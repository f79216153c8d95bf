"""Who may call the payments service: customers to check out, the gateway to hand over provider events."""

from __future__ import annotations

from travel.payments.v1 import payments_pb2 as pb

from kit.access_policy import AccessPolicy

ACCESS = AccessPolicy.of(
    pb.DESCRIPTOR.services_by_name["PaymentsService"].full_name,
    internal={"HandleProviderEvent": {"gateway"}},
)
