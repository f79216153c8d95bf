"""Run the customers service: `python -m services.customers`."""

from kit.process import run_process
from kit.settings import Env
from services.customers.app import start
from services.customers.config import CustomersConfig


def main() -> None:
    run_process("customers", lambda: start(CustomersConfig.from_env(Env())))


if __name__ == "__main__":
    main()
