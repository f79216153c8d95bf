"""In-memory saga publisher: each saga step published once, in order, onto its participant's stream."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from travel.saga.v1 import saga_pb2 as pb

from bus.errors import InvalidSlip
from bus.slip import current_step, step_sequence


@dataclass(frozen=True)
class PublishedEntry:
    entry_id: str
    slip: pb.RoutingSlip


class FakeSagaPublisher:
    def __init__(self) -> None:
        self._markers: set[tuple[str, str]] = set()
        self._streams: dict[str, list[PublishedEntry]] = {}
        self._session_sagas: dict[str, list[str]] = {}
        self._ids = count(1)

    async def publish(self, slip: pb.RoutingSlip) -> str | None:
        step = current_step(slip)
        if step is None:
            raise InvalidSlip(f"saga {slip.saga_id} has no step to publish")
        marker = (slip.saga_id, f"publish:{step_sequence(slip)}:{step.name}")
        if marker in self._markers:
            return None
        self._markers.add(marker)
        published = pb.RoutingSlip()
        published.CopyFrom(slip)
        entry = PublishedEntry(f"{next(self._ids)}-0", published)
        self._streams.setdefault(step.participant, []).append(entry)
        sagas = self._session_sagas.setdefault(slip.session_id, [])
        if slip.saga_id not in sagas:
            sagas.append(slip.saga_id)
        return entry.entry_id

    def stream(self, participant: str) -> list[PublishedEntry]:
        """A participant's input stream, oldest first."""
        return list(self._streams.get(participant, []))

    def session_sagas(self, session_id: str) -> list[str]:
        """A session's saga ids in the order they started."""
        return list(self._session_sagas.get(session_id, []))
