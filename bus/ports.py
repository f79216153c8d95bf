"""Starting a saga as the services see it: publish a routing slip to its first participant."""

from __future__ import annotations

from typing import Protocol

from travel.saga.v1 import saga_pb2 as pb


class SagaPublisher(Protocol):
    """Publishes each saga step once: a repeat of the same step is recognised and writes nothing."""

    async def publish(self, slip: pb.RoutingSlip) -> str | None:
        """The entry id on the current step's participant stream; None if this step was published before.

        Raises `InvalidSlip` when the slip has no step left to publish.
        """
        ...
