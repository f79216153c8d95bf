"""The saga bus knows nothing of travel: no travel words in its code, and no import of the services."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BUS = Path(__file__).resolve().parents[3] / "bus"

# Words of the travel agency's sagas in every word of a bus module: names (split at underscores
# and capitals), strings, docstrings and comments alike. The travel sagas, their steps and labels
# live in services/sagas. A stem matches the words it starts ("reserving"), a short word only itself.
TRAVEL_STEMS = (
    "hotel", "flight", "payment", "refund", "booking", "reserv", "customer", "arbiter", "provider",
    "passenger", "checkout",
)  # fmt: skip
TRAVEL_WORDS = {"room", "rooms", "seat", "seats", "leg", "legs", "trip", "trips"}

# Words the bus keeps, each for a reason it cannot shed:
# - "session": a slip's partition key is its `session_id` (RoutingSlip.session_id in the saga
#   proto), the Redis keys spell it (`...:session:<id>:sagas`), and the bus tells a session's
#   watchers of new history on the session's channel (SessionNotice): wire format and key layout
#   that stay as they are.
# - "travel": the protos' package (`travel.saga.v1`), the metrics' prefix (`travel_bus_...`) and
#   the default key namespace, which name the product, not a saga's business.
# - "confirm" and "cancel": what any saga does; the bus's operator CLI lists the keys of a
#   session's `confirm-` and `cancel-` sagas.
# - "stay" is a verb here ("entries stay pending"), never a hotel stay, so it is not looked for;
#   "trip" only as a round trip to Redis.
ROUND_TRIP = re.compile(r"\bround trips?\b", re.IGNORECASE)


def _words(text: str) -> list[str]:
    """Every word of the text, lowercase, with snake_case and CamelCase names split into theirs."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [word.lower() for word in re.findall(r"[A-Za-z]+", spaced)]


def _travel_words(text: str) -> set[str]:
    return {
        word
        for word in _words(ROUND_TRIP.sub(" ", text))
        if word.startswith(TRAVEL_STEMS) or word in TRAVEL_WORDS
    }


def test_no_bus_module_speaks_of_travel() -> None:
    found = {
        str(path.relative_to(BUS.parent)): words
        for path in sorted(BUS.rglob("*.py"))
        if (words := _travel_words(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "travel words belong in services/sagas"


def test_the_scan_sees_names_strings_and_comments() -> None:
    assert _travel_words("def hotel_handlers(): ...") == {"hotel"}
    assert _travel_words("STEP = 'flights.confirm'") == {"flights"}
    assert _travel_words("# PaymentsRefund retries") == {"payments", "refund"}
    assert _travel_words("x = reserveAttempts  # one round trip, legacy entries") == {"reserve"}
    assert _travel_words("both legs of the trip") == {"legs", "trip"}


def test_the_bus_imports_no_service() -> None:
    imported = {
        (str(path.relative_to(BUS.parent)), name)
        for path in sorted(BUS.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        if name.split(".")[0] in {"services", "gateway", "simulated_world", "tools"}
    }
    assert imported == set()
