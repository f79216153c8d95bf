"""Who may call the arbiter: customers for their own sessions, each internal RPC only the services named."""

from __future__ import annotations

from travel.sessions.v1 import sessions_pb2 as pb

from kit.access_policy import AccessPolicy

ACCESS = AccessPolicy.of(
    pb.DESCRIPTOR.services_by_name["SessionsService"].full_name,
    # Followed over gRPC (the gateway's event stream calls it with the customer's token).
    customer_streams={"WatchSession"},
    internal={
        "AuthorizeItemChange": {"hotel", "flights"},
        "AttachItem": {"hotel", "flights"},
        "BeginCheckout": {"payments"},
        "ReopenCheckout": {"payments"},
        "RecordPayment": {"payments"},
        "ExpireSessions": {"expiry"},
    },
)
