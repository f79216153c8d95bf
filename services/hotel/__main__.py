"""Run the hotel service: `python -m services.hotel`."""

from services.booking.config import BookingConfig
from services.hotel.app import start
from services.kit.process import run_process
from services.kit.settings import Env


def main() -> None:
    run_process("hotel", lambda: start(BookingConfig.from_env(Env(), "hotel", "hotel")))


if __name__ == "__main__":
    main()
