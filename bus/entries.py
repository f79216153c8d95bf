"""Stream entry layout: plain fields for redis-cli readers plus the slip as binary protobuf."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from travel.saga.v1 import saga_pb2 as pb

from bus import slip_json
from bus.errors import UndecodableEntry
from bus.slip import current_step, step_marker


def kind_label(kind: pb.SagaKind.ValueType) -> str:
    """`SAGA_KIND_CONFIRM` -> `confirm`, as stream entries, saga ids and timelines spell it."""
    return pb.SagaKind.Name(kind).removeprefix("SAGA_KIND_").lower()


KIND_LABELS: dict[int, str] = {kind: kind_label(kind) for kind in pb.SagaKind.values() if kind}
PHASE_LABELS: dict[int, str] = {pb.SLIP_PHASE_FORWARD: "forward", pb.SLIP_PHASE_COMPENSATING: "compensating"}

# The slip's field, by encoding. The name says how to read it, so entries written before the slip
# went binary (protobuf JSON under "slip") stay readable while they drain from the streams.
# Binary travels base64-encoded: the bus's clients decode replies as text, and the commit script
# receives its batch as JSON, which carries ASCII as is.
SLIP_FIELD = "slip_pb64"
JSON_SLIP_FIELD = "slip"


def phase_label(phase: int) -> str:
    return PHASE_LABELS.get(phase, "unspecified")


@dataclass(frozen=True)
class Delivery:
    """A decoded stream entry: its id, the slip it carries and when it was sent."""

    entry_id: str
    slip: pb.RoutingSlip
    sent_at: float
    # The slip's current step and its marker, looked up once: a hop reads them several times, and
    # each look into a protobuf's repeated field makes new wrapper objects.
    step: pb.Step | None = field(init=False, repr=False, compare=False)
    marker: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        step = current_step(self.slip)
        object.__setattr__(self, "step", step)
        object.__setattr__(self, "marker", step_marker(self.slip, step))


def encode_slip(slip: pb.RoutingSlip) -> str:
    """The slip as an entry carries it: binary protobuf, base64."""
    return binascii.b2a_base64(slip.SerializeToString(), newline=False).decode("ascii")


def decode_slip(text: str) -> pb.RoutingSlip:
    """The slip `encode_slip` wrote; raises UndecodableEntry if `text` is not one."""
    slip = pb.RoutingSlip()
    try:
        slip.ParseFromString(binascii.a2b_base64(text))
    except (binascii.Error, DecodeError, ValueError) as error:
        raise UndecodableEntry(f"not a binary routing slip: {error}") from error
    return slip


def read_slip(fields: Mapping[str, str]) -> pb.RoutingSlip:
    """The slip of an entry in either encoding; raises UndecodableEntry if it has none."""
    raw = fields.get(SLIP_FIELD)
    if raw is not None:
        return decode_slip(raw)
    text = fields.get(JSON_SLIP_FIELD)
    if text is not None:
        return slip_json.loads(text)
    raise UndecodableEntry("entry has no slip field")


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
        SLIP_FIELD, encode_slip(slip),
    ]  # fmt: skip


def decode_entry(entry_id: str, fields: Mapping[str, str]) -> Delivery:
    """Parse an entry; raises UndecodableEntry if it carries no usable slip."""
    try:
        slip = read_slip(fields)
    except UndecodableEntry as error:
        raise UndecodableEntry(f"entry {entry_id}: {error}") from error
    try:
        sent_at = int(fields.get("sent_us", "0")) / 1_000_000
    except ValueError:
        sent_at = 0.0
    delivery = Delivery(entry_id=entry_id, slip=slip, sent_at=sent_at)
    if delivery.step is None:
        raise UndecodableEntry(f"entry {entry_id} carries a slip with no step left")
    return delivery
