"""Run the sessions service (the arbiter): `python -m services.sessions`."""

from kit.process import run_process
from kit.settings import Env
from services.sessions.app import start
from services.sessions.config import SessionsConfig


def main() -> None:
    run_process("sessions", lambda: start(SessionsConfig.from_env(Env())))


if __name__ == "__main__":
    main()
