"""Entry point: `PROVIDER_KIND=hotel|flight|payment python -m services.providers`."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.kit.settings import ConfigError, Env
from services.providers.app import build_app
from services.providers.config import ProviderConfig


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = ProviderConfig.from_env(Env())
    except ConfigError as exc:
        print(f"provider configuration error: {exc}", file=sys.stderr)
        return 2
    app = build_app(config)
    logging.getLogger(__name__).info(
        "provider %s on %s:%s (%s)", config.kind, config.host, config.port, config.service
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
