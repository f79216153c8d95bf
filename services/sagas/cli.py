"""The bus's operator CLI with the sagas' step labels in its timelines: `python -m services.sagas.cli`."""

from __future__ import annotations

import asyncio
import sys

from bus import cli
from services.sagas.vocabulary import STEPS


def step_labels() -> dict[str, str]:
    """Each step's name on a slip -> how people read it."""
    return {name: term.label for name, term in STEPS.items()}


if __name__ == "__main__":
    sys.exit(asyncio.run(cli.main(step_labels=step_labels(), prog="python -m services.sagas.cli")))
