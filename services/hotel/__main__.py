"""Run the hotel service: `python -m services.hotel`."""

from kit.process import run_process
from kit.settings import Env
from services.hotel.app import start
from services.participant.config import ParticipantConfig


def main() -> None:
    run_process("hotel", lambda: start(ParticipantConfig.from_env(Env(), "hotel", "hotel")))


if __name__ == "__main__":
    main()
