"""Composition root of the customers process: wires config to adapters, use cases and the server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from travel.customers.v1 import customers_pb2_grpc

from bus.runtime import connect_redis
from kit.access_policy import AccessPolicy
from kit.auth import CallerCheck
from kit.database import Database
from kit.forwarding import ClientAddresses
from kit.grpc_server import RunningServer, ServedService, start_server
from kit.migrations import open_migrated_database
from kit.signing_keys import public_pem_of
from kit.tokens import TokenIssuer, TokenVerifier
from services.customers.accounts import Accounts
from services.customers.attempt_counter import RedisAttemptCounter
from services.customers.config import CustomersConfig
from services.customers.passwords import PasswordHashing
from services.customers.repository import CustomerRepository
from services.customers.servicer import ADMIN_METHODS, PUBLIC_METHODS, SERVICE_NAME, CustomersServicer


@dataclass
class CustomersProcess:
    server: RunningServer
    database: Database
    redis: Redis
    hashing: PasswordHashing

    async def stop(self) -> None:
        await self.server.stop()
        self.hashing.close()
        await self.redis.aclose()
        await self.database.close()


async def start(config: CustomersConfig) -> CustomersProcess:
    database = await open_migrated_database(config.database_url, config.schema, "customers")
    redis = await connect_redis(config.redis)
    hashing = PasswordHashing(config.argon2, config.hashing_bound)
    verifier = TokenVerifier(public_pem_of(config.token_private_key), config.trusted)
    accounts = Accounts(
        repository=CustomerRepository(database),
        hashing=hashing,
        issuer=TokenIssuer(config.token_private_key, config.token_ttl_seconds),
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        attempts=RedisAttemptCounter(redis, config.namespace),
        limits=config.attempt_limits,
    )
    servicer = CustomersServicer(accounts, ClientAddresses(verifier))
    served = ServedService(
        SERVICE_NAME,
        lambda server: customers_pb2_grpc.add_CustomersServiceServicer_to_server(servicer, server),
    )
    running = await start_server(
        [served],
        port=config.port,
        host=config.host,
        caller_check=CallerCheck(
            verifier, AccessPolicy.of(SERVICE_NAME, public=PUBLIC_METHODS, admin=ADMIN_METHODS)
        ),
        tls=config.tls,
    )
    return CustomersProcess(server=running, database=database, redis=redis, hashing=hashing)
