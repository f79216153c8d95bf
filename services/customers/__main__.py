"""Run the customers service: `python -m services.customers`."""

from services.customers.app import start
from services.customers.config import CustomersConfig
from services.kit.process import run_process
from services.kit.settings import Env


def main() -> None:
    run_process("customers", lambda: start(CustomersConfig.from_env(Env())))


if __name__ == "__main__":
    main()
