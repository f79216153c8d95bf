"""Run the flights service: `python -m services.flights`."""

from kit.process import run_process
from kit.settings import Env
from services.flights.app import start
from services.participant.config import ParticipantConfig


def main() -> None:
    run_process("flights", lambda: start(ParticipantConfig.from_env(Env(), "flights", "flight")))


if __name__ == "__main__":
    main()
