"""Run the expiry worker: `python -m services.expiry`."""

from kit.process import run_process
from kit.settings import Env
from services.expiry.app import start
from services.expiry.config import ExpiryConfig


def main() -> None:
    run_process("expiry", lambda: start(ExpiryConfig.from_env(Env())))


if __name__ == "__main__":
    main()
