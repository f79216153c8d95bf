"""The travel agency's gRPC services from Python: typed stubs, TLS, bearer tokens, retries, rich errors."""

from travel_client.channels import BearerToken, TlsSettings, open_channel, plaintext_channel
from travel_client.client import Endpoints, TravelClient, tls_from_env
from travel_client.errors import (
    Aborted,
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    TravelError,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)

__all__ = [
    "Aborted",
    "AlreadyExists",
    "BearerToken",
    "DeadlineExceeded",
    "Endpoints",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "TlsSettings",
    "TravelClient",
    "TravelError",
    "Unauthenticated",
    "Unavailable",
    "from_rpc_error",
    "open_channel",
    "plaintext_channel",
    "tls_from_env",
]
