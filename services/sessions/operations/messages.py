"""The console's results as operations protos."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from travel.operations.v1 import operations_pb2 as pb
from travel.sessions.v1 import sessions_pb2

from bus.dead_letters import DeadLetter
from bus.monitoring import GroupFigures
from bus.operator_actions import OperatorAction
from kit.timestamps import timestamp
from services.sessions.domain import Session, State
from services.sessions.messages import session_message
from services.sessions.operations.console import Overview
from services.sessions.operations.progress import SagaProgress


def state_counts(counts: dict[State, int]) -> list[pb.StateCount]:
    return [
        pb.StateCount(state=sessions_pb2.State.Value(f"STATE_{state.value}"), count=count)
        for state, count in counts.items()
    ]


def saga_message(saga: SagaProgress) -> pb.SagaInFlight:
    age = Duration()
    age.FromTimedelta(saga.age)
    return pb.SagaInFlight(
        saga_id=saga.saga_id,
        session_id=saga.session_id,
        kind=saga.kind,
        current_step=saga.current_step,
        last_event=saga.last_event,
        attempt=saga.attempt,
        start_time=timestamp(saga.started_at),
        last_event_time=timestamp(saga.last_event_at),
        age=age,
        stuck=saga.stuck,
        detail=saga.detail,
    )


def dead_letter_message(letter: DeadLetter) -> pb.DeadLetter:
    return pb.DeadLetter(
        entry_id=letter.entry_id,
        saga_id=letter.saga_id,
        session_id=letter.session_id,
        step=letter.step,
        participant=letter.participant,
        error=letter.error,
        deliveries=letter.deliveries,
        attempt=letter.attempt,
        dead_time=timestamp(letter.dead_at),
        replayable=letter.slip is not None,
    )


def attention_message(session: Session, letters: list[DeadLetter]) -> pb.AttentionSession:
    return pb.AttentionSession(
        session=session_message(session), dead_letters=[dead_letter_message(letter) for letter in letters]
    )


def lag_message(figures: GroupFigures) -> pb.ParticipantLag:
    return pb.ParticipantLag(
        participant=figures.participant,
        length=figures.length,
        consumers=figures.consumers,
        pending=figures.pending,
        lag=figures.lag,
        delayed_retries=figures.delayed_retries,
        stuck_entries=len(figures.stuck),
    )


def action_message(action: OperatorAction) -> pb.OperatorAction:
    return pb.OperatorAction(
        action_id=action.action_id,
        action_time=timestamp(action.at),
        action=action.action.value,
        operator=action.operator,
        via=action.via,
        reason=action.reason,
        entry_id=action.entry_id,
        saga_id=action.saga_id,
        session_id=action.session_id,
        step=action.step,
        participant=action.participant,
        error=action.error,
        replayed_entry_id=action.replayed_entry_id,
    )


def overview_message(overview: Overview) -> pb.GetOverviewResponse:
    return pb.GetOverviewResponse(
        counts=state_counts(overview.counts),
        sagas=[saga_message(saga) for saga in overview.sagas],
        attention=[attention_message(session, letters) for session, letters in overview.attention],
        lag=[lag_message(figures) for figures in overview.lag],
        read_time=timestamp(overview.read_at),
        recent_actions=[action_message(action) for action in overview.actions],
    )
