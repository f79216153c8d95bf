"""Run the payments service: `python -m services.payments`."""

from kit.process import run_process
from kit.settings import Env
from services.payments.app import start
from services.payments.config import PaymentsConfig


def main() -> None:
    run_process("payments", lambda: start(PaymentsConfig.from_env(Env())))


if __name__ == "__main__":
    main()
