"""Run the gateway: `python -m gateway`, with the webhook, session event stream and web page routes."""

from __future__ import annotations

import logging
import sys

import grpc
import uvicorn
from starlette.requests import Request

from gateway.app import build_app
from gateway.config import GatewayConfig
from gateway.descriptors import load_generated_files, service_key
from gateway.payment_webhooks import payment_webhook_route
from gateway.session_events import session_events_route
from gateway.web import web_routes
from services.kit.service_identity import ServiceCredentials
from services.kit.settings import ConfigError, Env
from services.kit.tokens import TokenIssuer, load_keys

PAYMENTS_PACKAGE = "travel.payments.v1"


def payments_channel(request: Request) -> grpc.aio.Channel:
    channel: grpc.aio.Channel = request.app.state.backends.channels(PAYMENTS_PACKAGE)[0]
    return channel


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    env = Env()
    try:
        files = load_generated_files()
        config = GatewayConfig.from_env(env, services={service_key(file.package) for file in files})
        keys = load_keys(env)
        if keys.private_pem is None:
            raise ConfigError("the gateway needs JWT_PRIVATE_KEY[_FILE] to call the payments service")
        webhook = payment_webhook_route(
            secret=env.str("PAYMENT_WEBHOOK_SECRET", "dev-webhook-secret"),
            credentials=ServiceCredentials(TokenIssuer(keys.private_pem, 600), "gateway"),
            channel=payments_channel,
            tolerance_seconds=env.int("WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1),
        )
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    app = build_app(config, [webhook, session_events_route(), *web_routes()], files=files)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
