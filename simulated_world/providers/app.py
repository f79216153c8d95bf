"""The composition root: one Starlette app per provider kind, wired from a ProviderConfig and a clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from kit.db import open_database
from kit.http_metrics import CountedRequests
from simulated_world.providers.admin_access import AdminPortOnly
from simulated_world.providers.auto_complete import AutoCompleter
from simulated_world.providers.booking import Booking
from simulated_world.providers.chaos_control import ChaosControl
from simulated_world.providers.clock import Clock, OffsetClock, SystemClock
from simulated_world.providers.config import ProviderConfig
from simulated_world.providers.domain.catalog import Catalog
from simulated_world.providers.http.admin_routes import ADMIN_ROUTES, WEBHOOK_ADMIN_ROUTES
from simulated_world.providers.http.catalog_routes import FLIGHT_ROUTES, HOTEL_ROUTES
from simulated_world.providers.http.chaos_middleware import ChaosMiddleware
from simulated_world.providers.http.checkout_page import CHECKOUT_ROUTES
from simulated_world.providers.http.errors import EXCEPTION_HANDLERS
from simulated_world.providers.http.hold_routes import HOLD_ROUTES
from simulated_world.providers.http.openapi import openapi_route
from simulated_world.providers.http.payment_routes import PAYMENT_ROUTES
from simulated_world.providers.http.runtime import Runtime
from simulated_world.providers.payments import ProviderPayments
from simulated_world.providers.store.idempotency import Transactions
from simulated_world.providers.store.tables import metadata
from simulated_world.providers.webhooks import WebhookDispatcher


def _routes(kind: str) -> list[BaseRoute]:
    business: list[BaseRoute] = {  # type: ignore[assignment]
        "hotel": [*HOTEL_ROUTES, *HOLD_ROUTES],
        "flight": [*FLIGHT_ROUTES, *HOLD_ROUTES],
        "payment": [*CHECKOUT_ROUTES, *PAYMENT_ROUTES, *WEBHOOK_ADMIN_ROUTES],
    }[kind]
    everything = [*ADMIN_ROUTES, *business]
    return [*everything, openapi_route(kind, everything)]


def build_app(config: ProviderConfig, clock: Clock | None = None) -> Starlette:
    """The app; the database opens in its lifespan, so building it connects to nothing."""
    state = Runtime(
        config=config, clock=OffsetClock(clock or SystemClock()), chaos=ChaosControl(config.chaos)
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        database = await open_database(config.database_url, config.schema, config.service, metadata)
        state.database, state.transactions = database, Transactions(database, state.clock)
        window = timedelta(seconds=config.hold_window_seconds)
        if config.kind == "payment":
            await _start_payments(state, config)
        else:
            state.booking = Booking(config.kind, Catalog(config.catalog_seed), state.clock, window)
        try:
            yield
        finally:
            if state.auto_completer is not None:
                await state.auto_completer.stop()
            if state.dispatcher is not None:
                await state.dispatcher.stop()
            await database.close()

    app = Starlette(
        routes=_routes(config.kind),
        lifespan=lifespan,
        middleware=[
            Middleware(CountedRequests),
            Middleware(AdminPortOnly, admin_port=config.admin_port),
            Middleware(ChaosMiddleware, chaos=state.chaos),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.runtime = state
    return app


async def _start_payments(state: Runtime, config: ProviderConfig) -> None:
    database, transactions = state.require_database(), state.require_transactions()
    state.payments = ProviderPayments(state.clock, state.chaos)
    state.dispatcher = WebhookDispatcher(
        database,
        config.webhook_secret,
        retry_base_seconds=config.webhook_retry_base_ms / 1000,
        retry_max_seconds=config.webhook_retry_max_ms / 1000,
        timeout_seconds=config.webhook_timeout_ms / 1000,
    )
    await state.dispatcher.start()
    if config.auto_complete_ms is not None:
        seed = config.chaos.seed
        state.auto_completer = AutoCompleter(
            transactions,
            state.payments,
            state.clock,
            config.auto_complete_ms / 1000,
            config.auto_decline_rate,
            random.Random(None if seed is None else seed + 1),
            state.dispatcher.wake,
        )
        await state.auto_completer.start(database)
