"""Composition root of the customers process: wires config to adapters, use cases and the server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from travel.customers.v1 import customers_pb2_grpc

from services.customers.accounts import Accounts
from services.customers.config import CustomersConfig
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository, metadata
from services.customers.servicer import PUBLIC_METHODS, SERVICE_NAME, CustomersServicer
from services.kit.auth import AuthInterceptor
from services.kit.db import create_schema, make_engine
from services.kit.grpc_server import RunningServer, ServedService, start_server
from services.kit.settings import ConfigError
from services.kit.tokens import TokenIssuer, TokenVerifier


@dataclass
class CustomersProcess:
    server: RunningServer
    engine: AsyncEngine

    async def stop(self) -> None:
        await self.server.stop()
        await self.engine.dispose()


async def start(config: CustomersConfig) -> CustomersProcess:
    if config.keys.private_pem is None:
        raise ConfigError("customers needs JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE")
    engine = make_engine(config.database_url, config.schema)
    await create_schema(engine, config.schema, metadata)
    accounts = Accounts(
        repository=CustomerRepository(engine),
        hashing=PasswordHashing(config.argon2),
        issuer=TokenIssuer(config.keys.private_pem, config.token_ttl_seconds),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
    )
    servicer = CustomersServicer(accounts)
    served = ServedService(
        SERVICE_NAME,
        lambda server: customers_pb2_grpc.add_CustomersServiceServicer_to_server(servicer, server),
    )
    running = await start_server(
        [served],
        port=config.port,
        host=config.host,
        interceptors=[AuthInterceptor(TokenVerifier(config.keys.public_pem), PUBLIC_METHODS)],
    )
    return CustomersProcess(server=running, engine=engine)
