"""Which dead letters an operator's command acts on: by participant, step, session and age."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bus.dead_letters import DeadLetter

_DURATION = re.compile(r"([0-9]{1,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_age(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `1d` (or several, `1h30m`) as a duration; ValueError for anything else."""
    spelled = text.strip().lower()
    parts = _DURATION.findall(spelled)
    if not spelled or "".join(n + unit for n, unit in parts) != spelled:
        raise ValueError(f"{text!r} is no age: write a number and a unit (s, m, h, d), e.g. 10m or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts))


@dataclass(frozen=True)
class LetterFilter:
    """Every condition given must hold; none given selects every dead letter."""

    participant: str | None = None
    step: str | None = None
    session_id: str | None = None
    older_than: timedelta | None = None

    @property
    def narrows(self) -> bool:
        return any(v is not None for v in (self.participant, self.step, self.session_id, self.older_than))

    def matches(self, letter: DeadLetter, now: datetime) -> bool:
        return (
            (self.participant is None or letter.participant == self.participant)
            and (self.step is None or letter.step == self.step)
            and (self.session_id is None or letter.session_id == self.session_id)
            and (self.older_than is None or now - letter.dead_at >= self.older_than)
        )

    def select(self, letters: list[DeadLetter], now: datetime) -> list[DeadLetter]:
        """The letters that match, in the order given."""
        return [letter for letter in letters if self.matches(letter, now)]
