"""The sagas' vocabulary is declared once, in the saga protos: code and the web page derive from it."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from travel.saga.v1 import saga_pb2 as pb

from bus.history import HistoryEvent
from services.sagas.vocabulary import (
    OUTCOME_TONES,
    STEPS,
    WEB_COPY,
    refusal_label,
    step_labels,
    step_spelling,
    web_copy_text,
)

ROOT = Path(__file__).resolve().parents[3]
# Everything that runs; tests may spell what they expect.
SOURCES = ("bus", "services", "simulated_world", "gateway", "kit", "tools", "clients", "launcher", "examples")
STEP_NAMES = [step_spelling(value) for value in pb.StepName.values() if value]
REFUSALS = [refusal_label(value) for value in pb.RefusalReason.values() if value]


def _python_literals() -> Counter[tuple[str, str]]:
    """(literal, file) for every string constant equal to a step name or a refusal reason."""
    terms = {*STEP_NAMES, *REFUSALS}
    found: Counter[tuple[str, str]] = Counter()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in terms:
                    found[(node.value, str(path.relative_to(ROOT)))] += 1
    return found


def _script_literals() -> Counter[tuple[str, str]]:
    """The same for quoted strings in the page's scripts (the generated JSON copy is not a script)."""
    terms = "|".join(re.escape(term) for term in (*STEP_NAMES, *REFUSALS))
    quoted = re.compile(rf"""["'`]({terms})["'`]""")
    found: Counter[tuple[str, str]] = Counter()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*.js"):
            for match in quoted.finditer(path.read_text(encoding="utf-8")):
                found[(match.group(1), str(path.relative_to(ROOT)))] += 1
    return found


def test_every_declared_step_has_one_term_and_no_term_is_undeclared() -> None:
    assert sorted(STEPS) == sorted(STEP_NAMES)
    assert step_spelling(pb.STEP_NAME_SESSIONS_CANCELLED) == "sessions.cancelled"
    for term in STEPS.values():
        assert term.name.startswith(f"{term.participant}.")


def test_history_events_are_the_declared_saga_events() -> None:
    declared = {pb.SagaEvent.Name(v).removeprefix("SAGA_EVENT_") for v in pb.SagaEvent.values() if v}
    assert {event.name for event in HistoryEvent} == declared
    assert all(event.value == event.name.lower() for event in HistoryEvent)
    assert set(OUTCOME_TONES) == set(HistoryEvent)


def test_no_step_name_is_spelled_in_the_sources() -> None:
    spelled = _python_literals() + _script_literals()
    steps = {key: n for key, n in spelled.items() if key[0] in STEP_NAMES}
    assert steps == {}, "spell a step through services.sagas.vocabulary (or the page's generated copy)"


def test_a_refusal_reason_is_spelled_once_at_most() -> None:
    # The session's own reasons (services/sessions/domain.py) name the two rejections once.
    spelled = _python_literals() + _script_literals()
    per_reason = Counter(term for (term, _), n in spelled.items() for _ in range(n))
    assert {term: n for term, n in per_reason.items() if n > 1} == {}, spelled


def test_the_web_page_copy_is_generated_from_the_declaration() -> None:
    assert WEB_COPY.read_text(encoding="utf-8") == web_copy_text(), "run: python -m services.sagas.vocabulary"


def test_the_operator_cli_labels_every_step() -> None:
    assert step_labels() == {name: term.label for name, term in STEPS.items()}
    assert sorted(step_labels()) == sorted(STEP_NAMES)
