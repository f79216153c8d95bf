"""The client address an HTTP edge forwards to a gRPC service, and how the service decides to believe it.

Anyone can put `x-forwarded-for` in gRPC metadata, so a service honours it only when the same call
carries a service token (`x-forwarder-authorization`, apart from `authorization`, which keeps the end user's
token) proving the sender is a trusted edge. Otherwise the client is the direct peer.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection, Iterable
from typing import Any

from kit.errors import Unauthenticated
from kit.service_identity import ServiceCredentials
from kit.tokens import TokenVerifier

log = logging.getLogger(__name__)

CLIENT_ADDRESS = "x-forwarded-for"
FORWARDER_AUTHORIZATION = "x-forwarder-authorization"
GATEWAY = "gateway"


def forwarding_metadata(client_host: str, credentials: ServiceCredentials) -> list[tuple[str, str]]:
    """What the edge adds to a call: the client's address and its own token vouching for it."""
    proof = next(value for key, value in credentials.metadata() if key == "authorization")
    return [(CLIENT_ADDRESS, client_host), (FORWARDER_AUTHORIZATION, proof)]


def peer_host(peer: str) -> str:
    """The host of a grpc peer string: `ipv4:1.2.3.4:5` -> `1.2.3.4`, `ipv6:[::1]:5` -> `::1`."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0]
    if kind == "ipv6":
        host = rest.rpartition(":")[0]
        return host.removeprefix("[").removesuffix("]").split("%")[0]
    return peer


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClientAddresses:
    """Finds a call's client address, believing a forwarded one only from the listed identities."""

    def __init__(self, verifier: TokenVerifier, trusted: Collection[str] = (GATEWAY,)) -> None:
        self._verifier = verifier
        self._trusted = frozenset(trusted)

    def address_of(self, metadata: Iterable[tuple[str, Any]] | None, peer: str) -> str:
        values = {key.lower(): _text(value) for key, value in metadata or ()}
        forwarded, proof = values.get(CLIENT_ADDRESS), values.get(FORWARDER_AUTHORIZATION)
        if forwarded is None or proof is None or not self._vouched(proof):
            return peer_host(peer)
        # The edge sends one address, the one it saw; a chain would be another proxy's claim.
        candidate = forwarded.split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            log.warning("ignoring a forwarded client address that is not an IP: %r", candidate[:64])
            return peer_host(peer)

    def _vouched(self, proof: str) -> bool:
        scheme, _, token = proof.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        try:
            caller = self._verifier.verify(token.strip())
        except Unauthenticated:
            return False
        return caller.is_service and caller.service in self._trusted
