"""Stream entry layout: plain fields for redis-cli readers plus the slip as protobuf JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.errors import UndecodableEntry
from bus.slip import current_step
from bus.vocabulary import kind_label

KIND_LABELS: dict[int, str] = {kind: kind_label(kind) for kind in pb.SagaKind.values() if kind}
PHASE_LABELS: dict[int, str] = {pb.SLIP_PHASE_FORWARD: "forward", pb.SLIP_PHASE_COMPENSATING: "compensating"}


def phase_label(phase: int) -> str:
    return PHASE_LABELS.get(phase, "unspecified")


@dataclass(frozen=True)
class Delivery:
    """A decoded stream entry: its id, the slip it carries and when it was sent."""

    entry_id: str
    slip: pb.RoutingSlip
    sent_at: float


def entry_fields(slip: pb.RoutingSlip, sent_at: float) -> list[str]:
    """Flat field/value list for XADD (or a Lua script) carrying `slip`."""
    step = current_step(slip)
    return [
        "saga_id", slip.saga_id,
        "session_id", slip.session_id,
        "step", step.name if step else "",
        "kind", KIND_LABELS.get(slip.kind, "unspecified"),
        "phase", phase_label(slip.phase),
        "attempt", str(slip.attempt),
        "sent_us", str(int(sent_at * 1_000_000)),
        "slip", slip_json.dumps(slip),
    ]  # fmt: skip


def decode_entry(entry_id: str, fields: Mapping[str, str]) -> Delivery:
    """Parse an entry; raises UndecodableEntry if it carries no usable slip."""
    raw = fields.get("slip")
    if raw is None:
        raise UndecodableEntry(f"entry {entry_id} has no slip field")
    slip = slip_json.loads(raw)
    if current_step(slip) is None:
        raise UndecodableEntry(f"entry {entry_id} carries a slip with no step left")
    try:
        sent_at = int(fields.get("sent_us", "0")) / 1_000_000
    except ValueError:
        sent_at = 0.0
    return Delivery(entry_id=entry_id, slip=slip, sent_at=sent_at)
