"""Run the gateway: `python -m gateway`, with the webhook, session event stream and web page routes."""

from __future__ import annotations

import sys

import grpc
from starlette.requests import Request

from gateway.app import build_app
from gateway.client_forwarding import ClientForwarding
from gateway.config import GatewayConfig
from gateway.descriptors import load_generated_files, service_key
from gateway.operations_events import operations_events_route
from gateway.payment_webhooks import payment_webhook_route
from gateway.session_events import session_events_route
from gateway.web import web_routes
from kit.http_server import serve
from kit.log_format import LogSettings, configure_logging
from kit.metrics import serve_metrics
from kit.service_identity import service_credentials
from kit.settings import ConfigError, Env
from kit.tracing import TracingSettings, start_tracing, traced_asgi
from kit.webhook_secret import webhook_secret

PAYMENTS_PACKAGE = "travel.payments.v1"


def payments_channel(request: Request) -> grpc.aio.Channel:
    channel: grpc.aio.Channel = request.app.state.backends.channels(PAYMENTS_PACKAGE)[0]
    return channel


def main() -> None:
    env = Env()
    try:
        configure_logging(LogSettings.from_env(env), "gateway")
        # Before the app opens its channels: the instrumentations patch how they are made.
        tracing = start_tracing(TracingSettings.from_env(env), "gateway")
        files = load_generated_files()
        config = GatewayConfig.from_env(env, services={service_key(file.package) for file in files})
        credentials = service_credentials(env, "gateway")
        webhook = payment_webhook_route(
            secret=webhook_secret(env),
            credentials=credentials,
            channel=payments_channel,
            tolerance_seconds=config.webhook_tolerance_seconds,
        )
        config.require_redis()
        serve_metrics(env)
    except ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    routes = [
        webhook,
        session_events_route(config.streams),
        operations_events_route(config.streams),
        *web_routes(),
    ]
    app = build_app(
        config,
        routes,
        files=files,
        forwarding=ClientForwarding(credentials),
    )
    try:
        # log_config=None: uvicorn's own lines go through the process's handler and format.
        serve(
            traced_asgi(app, tracing), config.host, config.port, config.http,
            log_level="warning", access_log=False, log_config=None,
        )  # fmt: skip
    finally:
        tracing.shutdown()


if __name__ == "__main__":
    main()
