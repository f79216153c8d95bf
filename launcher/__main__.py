"""`python -m launcher`: migrate the databases, start every process in the Procfile with prefixed output;
Ctrl-C stops all."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer
from sqlalchemy.exc import SQLAlchemyError

from kit.grpc_io import with_grpc_io
from kit.migrations import migrate
from kit.redis_connection import masked_url
from kit.settings import TRAVEL_DATA_DIR, ConfigError, Env
from kit.shared_settings import REDIS_MODE, REDIS_URL
from kit.topology import EMBEDDED_REDIS_PORT
from launcher.embedded_redis import EmbeddedRedis, start_embedded_redis
from simulated_world.providers.config import (
    PAYMENT_WEBHOOK_DUPLICATE_RATE,
    PROVIDER_AMBIGUOUS_RATE,
    PROVIDER_FAILURE_RATE,
    PROVIDER_LATENCY_MS,
)

ROOT = Path(__file__).resolve().parent.parent

# A modest default chaos, so a system started by hand shows its resilience.
RUN_DEFAULTS = {
    PROVIDER_FAILURE_RATE.name: "0.05",
    PROVIDER_AMBIGUOUS_RATE.name: "0.02",
    PROVIDER_LATENCY_MS.name: "20",
    PAYMENT_WEBHOOK_DUPLICATE_RATE.name: "0.1",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__)
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    parser.add_argument(
        "--only", nargs="*", default=None, help="start just these processes (names in the Procfile)"
    )
    parser.add_argument(
        "--no-chaos", action="store_true", help="start the providers without the default chaos"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    if not args.no_chaos:
        for key, value in RUN_DEFAULTS.items():
            env.setdefault(key, value)
    # Children find this interpreter's packages first, whatever PATH the caller had.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONUNBUFFERED", "1")
    with_grpc_io(env)
    redis: EmbeddedRedis | None = None
    try:
        settings = Env(env)
        env[TRAVEL_DATA_DIR.name] = str(settings.data_dir())
        if not REDIS_URL.is_set(settings):
            if REDIS_MODE.read(settings) == "cluster":
                raise ConfigError("REDIS_MODE=cluster needs REDIS_URL: the embedded Redis is a single server")
            redis = start_embedded_redis(settings.data_dir(), EMBEDDED_REDIS_PORT.read(settings))
            env[REDIS_URL.name] = redis.url
            print(f"launcher: embedded Redis at {masked_url(redis.url)}", flush=True)
        # The services expect their databases at the newest revision, as compose's `migrate` leaves them.
        for service, revision in migrate(Env(env)).items():
            print(f"launcher: {service} database at revision {revision}", flush=True)
        procfile = parse_procfile(args.procfile.read_text())
        manager = Manager(Printer(sys.stdout))
        for name, command in procfile.processes.items():
            if args.only is None or name in args.only:
                manager.add_process(name, command, env=env, cwd=str(ROOT))
        manager.loop()
        return int(manager.returncode or 0)
    except ConfigError as error:
        print(f"launcher: configuration error: {error}", file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"launcher: migrating the databases failed: {error}", file=sys.stderr)
        return 1
    finally:
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
