"""The sagas' vocabulary as code: saga kinds, step names, history events and refusal reasons.

Declared once in protos/travel/saga/v1/saga.proto; everything here is derived from those enums,
plus how people read each term. `python -m services.sagas.vocabulary` writes the web page's copy.
The bus keeps only what it writes itself: kind labels (bus.entries) and history events (bus.history).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from travel.saga.v1 import saga_pb2 as pb

from bus.entries import kind_label
from bus.history import HistoryEvent, outcome

WEB_COPY = Path(__file__).resolve().parents[2] / "gateway" / "web" / "static" / "saga-vocabulary.json"


class Undoes(StrEnum):
    """Whether a step undoes earlier work, for the timeline's compensation tag."""

    ALWAYS = "always"
    WHEN_COMPENSATING = "when_compensating"  # a release only lets go of strays in a confirmation
    NEVER = "never"


@dataclass(frozen=True)
class StepTerm:
    """One step: its spelling on a slip, the participant that runs it, and how people read it."""

    name: str
    participant: str
    label: str
    undoes: Undoes


def step_spelling(step: pb.StepName.ValueType) -> str:
    """`STEP_NAME_HOTEL_CONFIRM` -> `hotel.confirm`: the participant, a dot, the action."""
    participant, _, action = pb.StepName.Name(step).removeprefix("STEP_NAME_").lower().partition("_")
    return f"{participant}.{action}"


def _term(step: pb.StepName.ValueType, label: str, undoes: Undoes = Undoes.NEVER) -> StepTerm:
    name = step_spelling(step)
    return StepTerm(name, name.split(".", 1)[0], label, undoes)


HOTEL_CONFIRM = _term(pb.STEP_NAME_HOTEL_CONFIRM, "Confirm hotel stay")
HOTEL_CANCEL = _term(pb.STEP_NAME_HOTEL_CANCEL, "Release hotel stay", Undoes.ALWAYS)
HOTEL_RELEASE = _term(pb.STEP_NAME_HOTEL_RELEASE, "Release every hotel hold", Undoes.WHEN_COMPENSATING)
FLIGHTS_CONFIRM = _term(pb.STEP_NAME_FLIGHTS_CONFIRM, "Confirm both flight legs")
FLIGHTS_CANCEL = _term(pb.STEP_NAME_FLIGHTS_CANCEL, "Release flight legs", Undoes.ALWAYS)
FLIGHTS_RELEASE = _term(pb.STEP_NAME_FLIGHTS_RELEASE, "Release every flight hold", Undoes.WHEN_COMPENSATING)
PAYMENTS_REFUND = _term(pb.STEP_NAME_PAYMENTS_REFUND, "Refund payment", Undoes.ALWAYS)
SESSIONS_COMPLETE = _term(pb.STEP_NAME_SESSIONS_COMPLETE, "Mark trip confirmed")
SESSIONS_CANCELLED = _term(pb.STEP_NAME_SESSIONS_CANCELLED, "Mark trip cancelled")

STEPS: dict[str, StepTerm] = {
    term.name: term
    for term in (
        HOTEL_CONFIRM, HOTEL_CANCEL, HOTEL_RELEASE, FLIGHTS_CONFIRM, FLIGHTS_CANCEL, FLIGHTS_RELEASE,
        PAYMENTS_REFUND, SESSIONS_COMPLETE, SESSIONS_CANCELLED,
    )
}  # fmt: skip


KIND_TITLES: dict[str, str] = {
    kind_label(pb.SAGA_KIND_CONFIRM): "Confirmation saga",
    kind_label(pb.SAGA_KIND_CANCEL): "Cancellation saga",
    kind_label(pb.SAGA_KIND_REFUND): "Refund saga",
}


def refusal_label(reason: pb.RefusalReason.ValueType) -> str:
    """`REFUSAL_REASON_HOTEL_REJECTED` -> `HOTEL_REJECTED`, for the refusal's text."""
    return pb.RefusalReason.Name(reason).removeprefix("REFUSAL_REASON_")


# How the timeline colours each outcome: ok, info (still going) or bad (someone should look).
OUTCOME_TONES: dict[HistoryEvent, str] = {
    HistoryEvent.STARTED: "info",
    HistoryEvent.COMPLETED: "ok",
    HistoryEvent.REFUSED: "bad",
    HistoryEvent.COMPENSATING: "info",
    HistoryEvent.RETRY_SCHEDULED: "info",
    HistoryEvent.DUPLICATE_SKIPPED: "info",
    HistoryEvent.DEAD_LETTERED: "bad",
    HistoryEvent.REPLAYED: "info",
    HistoryEvent.FLAGGED_STUCK: "bad",
    HistoryEvent.SAGA_COMPLETED: "ok",
    HistoryEvent.SAGA_COMPENSATED: "ok",
}


def web_vocabulary() -> dict[str, object]:
    """What the web page knows of sagas, as the JSON it loads."""
    return {
        "sagaKinds": KIND_TITLES,
        # Sagas that exist to undo: every step of theirs counts as a compensation.
        "undoingKinds": [kind_label(pb.SAGA_KIND_CANCEL), kind_label(pb.SAGA_KIND_REFUND)],
        "steps": {
            term.name: {"participant": term.participant, "label": term.label, "undoes": term.undoes.value}
            for term in STEPS.values()
        },
        "outcomes": {outcome(event): tone for event, tone in OUTCOME_TONES.items()},
        "undoingOutcomes": [outcome(HistoryEvent.REFUSED), outcome(HistoryEvent.COMPENSATING)],
    }


def web_copy_text() -> str:
    return json.dumps(web_vocabulary(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write the web page's copy; generated, never edited by hand."""
    WEB_COPY.write_text(web_copy_text(), encoding="utf-8")
    print(f"wrote {WEB_COPY}", file=sys.stderr)
    return 0

def step_labels() -> dict[str, str]:
    """Each step's name on a slip -> how people read it (the operator CLI's timelines show them)."""
    return {name: term.label for name, term in STEPS.items()}


if __name__ == "__main__":
    sys.exit(main())
