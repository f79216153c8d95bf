"""Traces out of a process: the OpenTelemetry SDK and instrumentations, only when spans go somewhere.

With no exporter configured nothing is installed: the API's no-op tracer stays, so hot paths pay
nothing for spans, while trace context (an incoming `traceparent`) still flows to logs and slips.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from kit.release import VERSION
from kit.settings import Env
from kit.shared_settings import OTEL_EXPORTER_OTLP_ENDPOINT, TRACE_CONSOLE

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TracingSettings:
    """OTEL_EXPORTER_OTLP_ENDPOINT (spans over OTLP/HTTP) and TRACE_CONSOLE (spans printed to stdout).

    The exporter reads the other standard OTEL_EXPORTER_OTLP_* settings (headers, timeout) itself.
    """

    otlp_endpoint: str | None = None
    console: bool = TRACE_CONSOLE.default_value
    environment: str = "development"

    @classmethod
    def from_env(cls, env: Env) -> TracingSettings:
        return cls(OTEL_EXPORTER_OTLP_ENDPOINT.optional(env), TRACE_CONSOLE.read(env), env.mode().value)

    @property
    def exporting(self) -> bool:
        return self.otlp_endpoint is not None or self.console


class Tracing:
    """The tracer provider a process installed (or None), flushed and closed at stop."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def start_tracing(settings: TracingSettings, service: str) -> Tracing:
    """Install the SDK and instrument gRPC, Redis and aiohttp's client, if spans have somewhere to go.

    Call it before any server, channel or client is made: the instrumentations patch their factories.
    """
    if not settings.exporting:
        return Tracing(None)
    # Imported here, as are the instrumentations: a process that exports nothing never loads them.
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    processors: list[SpanProcessor] = []
    if settings.otlp_endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if settings.console:
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
    provider = TracerProvider(resource=process_resource(service, settings.environment))
    for processor in processors:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    instrument_libraries()
    log.info("tracing on: OTLP %s, console %s", settings.otlp_endpoint or "off", settings.console)
    return Tracing(provider)


def process_resource(service: str, environment: str, instance: str | None = None) -> Resource:
    """Who emits the spans: this process's name, its own instance id, the version, the deployment.

    These are defaults: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by the SDK's detector,
    win over each of them, as the OpenTelemetry specification asks.
    """
    from opentelemetry.sdk.resources import (
        DEPLOYMENT_ENVIRONMENT,
        SERVICE_INSTANCE_ID,
        SERVICE_NAME,
        SERVICE_VERSION,
        OTELResourceDetector,
        Resource,
    )

    ours = {
        SERVICE_NAME: service,
        # Replicas of one service share its name; each start is told apart by its own id.
        SERVICE_INSTANCE_ID: instance or str(uuid.uuid4()),
        SERVICE_VERSION: VERSION,
        DEPLOYMENT_ENVIRONMENT: environment,
        # The name semantic conventions 1.27 gave it; collectors read one or the other.
        "deployment.environment.name": environment,
    }
    return Resource.create(ours).merge(OTELResourceDetector().detect())


def instrument_libraries() -> None:
    """The official instrumentations of the libraries every process uses (idempotent).

    SQLAlchemy's is left out: it refuses SQLAlchemy 2.1, and statements run on the raw DBAPI
    connection anyway, so kit.database makes a span per transaction itself.
    """
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer
    from opentelemetry.instrumentation.grpc.filters import negate, service_prefix
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Health checks run all day, each a trace of its own: they would bury the bookings.
    untraced = negate(service_prefix("grpc.health."))
    GrpcAioInstrumentorServer(filter_=untraced).instrument()
    GrpcAioInstrumentorClient(filter_=untraced).instrument()
    RedisInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()


def traced_asgi(app: Any, tracing: Tracing) -> Any:
    """The app behind OpenTelemetry's ASGI middleware (a server span per request) when tracing is on."""
    if not tracing.enabled:
        return app
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app, excluded_urls="healthz", tracer_provider=tracing.provider, exclude_spans=["receive", "send"]
    )


def recording_tracer(name: str) -> trace.Tracer | None:
    """A tracer that records spans, or None while no SDK provider is installed (the no-op API)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    return trace.get_tracer(name)
