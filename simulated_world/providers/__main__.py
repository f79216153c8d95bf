"""Entry point: `PROVIDER_KIND=hotel|flight|payment python -m simulated_world.providers`."""

from __future__ import annotations

import logging
import sys

from kit.http_server import serve
from kit.log_format import LogSettings, configure_logging
from kit.metrics import serve_metrics
from kit.settings import ConfigError, Env
from kit.tracing import TracingSettings, start_tracing, traced_asgi
from simulated_world.providers.app import build_app
from simulated_world.providers.config import ProviderConfig


def main() -> int:
    env = Env()
    try:
        config = ProviderConfig.from_env(env)
        process = f"provider-{config.kind}"
        configure_logging(LogSettings.from_env(env), process)
        tracing = start_tracing(TracingSettings.from_env(env), process)
        serve_metrics(env)
    except ConfigError as exc:
        print(f"provider: configuration error: {exc}", file=sys.stderr)
        return 2
    app = build_app(config)
    logging.getLogger(__name__).info(
        "provider %s on %s:%s (%s)", config.kind, config.host, config.port, config.service
    )
    admin_ports = () if config.admin_port is None else (config.admin_port,)
    try:
        # log_config=None: uvicorn's own lines go through the process's handler and format.
        serve(
            traced_asgi(app, tracing), config.host, config.port, config.http, admin_ports,
            log_level="info", access_log=False, log_config=None,
        )  # fmt: skip
    finally:
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
