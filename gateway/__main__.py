"""Run the gateway: `python -m gateway` (GATEWAY_HOST, GATEWAY_PORT, <SVC>_GRPC_ADDR)."""

from __future__ import annotations

import logging

import uvicorn

from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.descriptors import load_generated_files, service_key


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    files = load_generated_files()
    config = GatewayConfig.from_env(services={service_key(file.package) for file in files})
    app = build_app(config, files=files)
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()
