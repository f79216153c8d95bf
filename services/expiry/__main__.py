"""Run the expiry worker: `python -m services.expiry`."""

from services.expiry.app import start
from services.expiry.config import ExpiryConfig
from services.kit.process import run_process
from services.kit.settings import Env


def main() -> None:
    run_process("expiry", lambda: start(ExpiryConfig.from_env(Env())))


if __name__ == "__main__":
    main()
