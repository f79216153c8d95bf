"""Load-test mode: complete every payment by itself after a delay, declining a configured share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import datetime

from kit.database import Database
from simulated_world.providers.clock import Clock
from simulated_world.providers.domain.errors import ProviderError
from simulated_world.providers.domain.payments import PayerChoice
from simulated_world.providers.payments import ProviderPayments
from simulated_world.providers.store import payments as payment_rows
from simulated_world.providers.store.idempotency import Transactions

log = logging.getLogger(__name__)


class AutoCompleter:
    def __init__(
        self,
        transactions: Transactions,
        payments: ProviderPayments,
        clock: Clock,
        delay_seconds: float,
        decline_rate: float,
        rng: random.Random,
        on_change: Callable[[], None],
    ) -> None:
        self._transactions = transactions
        self._payments = payments
        self._clock = clock
        self._delay = delay_seconds
        self._decline_rate = decline_rate
        self._rng = rng
        self._on_change = on_change
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, database: Database) -> None:
        """Pick up payments left PENDING by a previous run."""
        for payment_id, created_at in await database.read(payment_rows.pending_ids):
            self.schedule(payment_id, created_at)

    def schedule(self, payment_id: str, created_at: datetime) -> None:
        task = asyncio.create_task(self._complete(payment_id, created_at))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _complete(self, payment_id: str, created_at: datetime) -> None:
        waited = (self._clock.now() - created_at).total_seconds()
        await asyncio.sleep(max(0.0, self._delay - waited))
        declined = self._rng.random() < self._decline_rate
        outcome = PayerChoice.DECLINE if declined else PayerChoice.SUCCEED
        try:
            await self._transactions.run(
                None, "auto-complete", "", lambda conn: self._payments.pay(conn, payment_id, outcome, "")
            )
        except ProviderError as exc:
            # Someone paid or declined it by hand first; nothing to do.
            log.info("auto-complete skipped %s: %s", payment_id, exc.message)
            return
        self._on_change()
