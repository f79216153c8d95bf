"""The operator CLI's `--output json` documents: the bus's own records as plain JSON values.

Keys are snake_case and stable; times are ISO 8601 in UTC; a slip is protobuf's JSON mapping.
docs/operations.md lists every document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from bus.dead_letters import DeadLetter
from bus.history import HistoryRecord, outcome
from bus.monitoring import GroupFigures
from bus.operator_actions import OperatorAction

Document = dict[str, Any]


def when(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def history_document(record: HistoryRecord, labels: Mapping[str, str]) -> Document:
    return {
        "saga_id": record.saga_id,
        "entry_id": record.entry_id,
        "at": when(record.at),
        "outcome": outcome(record.event),
        "step": record.step,
        "what": labels.get(record.step, ""),
        "participant": record.participant,
        "phase": record.phase,
        "attempt": record.attempt,
        "detail": record.detail,
        "consumer": record.consumer,
    }


def dead_letter_document(letter: DeadLetter, with_slip: bool = False) -> Document:
    """A dead letter; its slip only when asked (`show`), so a list stays small."""
    document: Document = {
        "entry_id": letter.entry_id,
        "saga_id": letter.saga_id,
        "session_id": letter.session_id,
        "step": letter.step,
        "participant": letter.participant,
        "error": letter.error,
        "failure_kind": letter.failure_kind,
        "error_type": letter.error_type,
        "error_message": letter.error_message,
        "deliveries": letter.deliveries,
        "attempt": letter.attempt,
        "dead_at": when(letter.dead_at),
        "source_id": letter.source_id,
        "replayable": letter.slip is not None,
    }
    if with_slip:
        document["slip"] = None if letter.slip is None else json_format.MessageToDict(letter.slip)
    return document


def replay_document(letter: DeadLetter, replayed_entry_id: str | None, dry_run: bool = False) -> Document:
    """What a replay did to one letter: `replayed_entry_id` null when it was not sent (gone, or a dry run)."""
    return {
        "entry_id": letter.entry_id,
        "saga_id": letter.saga_id,
        "session_id": letter.session_id,
        "step": letter.step,
        "participant": letter.participant,
        "replayed_entry_id": replayed_entry_id,
        "dry_run": dry_run,
    }


def figures_document(figures: GroupFigures) -> Document:
    return {
        "participant": figures.participant,
        "stream": figures.stream,
        "length": figures.length,
        "consumers": figures.consumers,
        "pending": figures.pending,
        "lag": figures.lag,
        "delayed_retries": figures.delayed_retries,
        "stuck": [
            {"entry_id": s.entry_id, "consumer": s.consumer, "idle_ms": s.idle_ms, "deliveries": s.deliveries}
            for s in figures.stuck
        ],
    }


def action_document(action: OperatorAction) -> Document:
    return {
        "action_id": action.action_id,
        "at": when(action.at),
        "action": action.action.value,
        "operator": action.operator,
        "via": action.via,
        "reason": action.reason,
        "entry_id": action.entry_id,
        "saga_id": action.saga_id,
        "session_id": action.session_id,
        "step": action.step,
        "participant": action.participant,
        "error": action.error,
        "replayed_entry_id": action.replayed_entry_id or None,
    }


def dumps(document: Document | list[Document]) -> str:
    """One JSON document, keys in the order above."""
    return json.dumps(document, indent=2, ensure_ascii=False)
