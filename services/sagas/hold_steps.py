"""Saga steps on provider holds: confirm and cancel, resolving ambiguous failures by asking the provider."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from redis.exceptions import RedisError
from travel.saga.v1 import saga_pb2 as pb

from bus.context import Handler, StepContext
from bus.errors import BusinessRefusal, TransientFailure
from kit.errors import NotFound, TransientError
from services.provider_client.client import AmbiguousFailure, ProviderRefusal, provider_path
from services.provider_client.ports import ProviderApi
from services.reservations.attempts import AttemptLog, attempt_of_hold
from services.sagas.vocabulary import refusal_label

log = logging.getLogger(__name__)


async def _hold(provider: ProviderApi, hold_id: str) -> dict[str, Any]:
    try:
        hold: dict[str, Any] = await provider.get(provider_path("holds", hold_id))
    except TransientError as error:
        raise TransientFailure(f"cannot read hold {hold_id}: {error}") from error
    return hold


async def _status(provider: ProviderApi, hold_id: str) -> str:
    return str((await _hold(provider, hold_id)).get("status", ""))


async def confirm_hold(
    provider: ProviderApi, hold_id: str, key: str, reason: pb.RefusalReason.ValueType
) -> dict[str, Any]:
    """Confirm once and answer the confirmed hold; a refusal is final (raises BusinessRefusal
    carrying `reason`)."""
    rejection = refusal_label(reason)
    try:
        confirmed: dict[str, Any] = await provider.post_unambiguous(
            provider_path("holds", hold_id, "confirm"), None, idempotency_key=key
        )
        return confirmed
    except ProviderRefusal as refusal:
        raise BusinessRefusal(f"{rejection}: {refusal.code}: {refusal.message}", reason) from refusal
    except NotFound as unknown:
        raise BusinessRefusal(f"{rejection}: hold {hold_id} is unknown to the provider", reason) from unknown
    except AmbiguousFailure as error:
        # The confirm may have committed: the provider's record decides, never a blind retry.
        hold = await _hold(provider, hold_id)
        status = hold.get("status", "")
        if status == "CONFIRMED":
            log.info("ambiguous confirm of %s resolved: it was confirmed", hold_id)
            return hold
        if status == "CANCELLED":
            raise BusinessRefusal(f"{rejection}: hold {hold_id} is cancelled", reason) from error
        raise TransientFailure(f"confirm of {hold_id} did not take effect: {error}") from error
    except TransientError as error:
        raise TransientFailure(str(error)) from error


async def cancel_hold(provider: ProviderApi, hold_id: str, key: str) -> None:
    """Cancel (release a hold or cancel a confirmation); idempotent, and never refused for good."""
    try:
        await provider.post_unambiguous(provider_path("holds", hold_id, "cancel"), None, idempotency_key=key)
    except NotFound:
        log.warning("hold %s unknown to the provider; nothing to cancel", hold_id)
    except AmbiguousFailure as error:
        if await _status(provider, hold_id) != "CANCELLED":
            raise TransientFailure(f"cancel of {hold_id} did not take effect: {error}") from error
    except TransientError as error:
        raise TransientFailure(str(error)) from error


async def release_holds(provider: ProviderApi, reference: str, keep: set[str], key: str) -> int:
    """Cancel every hold the provider keeps for `reference` except `keep`.

    This finds holds no session item points to: one made by a reserve request that was cut off
    (process killed, caller gone) before it could attach the hold or release it.
    """
    released = 0
    offset = 0
    while True:
        try:
            page = await provider.get("/holds", {"reference": reference, "pageSize": 100, "offset": offset})
        except TransientError as error:
            raise TransientFailure(f"cannot list holds of {reference}: {error}") from error
        items = page.get("items", [])
        for hold in items:
            if hold["id"] not in keep and hold.get("status") != "CANCELLED":
                await cancel_hold(provider, hold["id"], f"{key}:{hold['id']}")
                released += 1
        if not page.get("nextPageToken") or not items:
            return released
        offset += len(items)


async def release_strays(
    provider: ProviderApi,
    attempts: AttemptLog,
    participant: str,
    ctx: StepContext,
    confirmed: Sequence[Mapping[str, Any]],
) -> None:
    """After a confirm: account for the reserve attempt that made the holds just confirmed, and
    release the session's other holds only when another attempt of the session is still recorded.

    A reserve leaves its attempt recorded when it attaches; the provider shows each hold's
    idempotency key back, and the key names the attempt, so one round trip drops the attempt of
    the confirmed holds and answers what else is left: nothing, for a normal booking. A request
    cut off between its hold and its attach left a record, and its hold is found by the session's
    reference. The session is CONFIRMING, so no attach can still succeed and every other live hold
    under its reference is a stray. A record left after a failure here stays for the retry.
    """
    made_by = {
        attempt
        for hold in confirmed
        if (attempt := attempt_of_hold(ctx.session_id, participant, str(hold.get("idempotencyKey") or "")))
    }
    try:
        left = await attempts.account_for(ctx.session_id, participant, made_by)
    except (RedisError, OSError) as error:
        raise TransientFailure(f"cannot read the reserve attempts of {ctx.session_id}: {error}") from error
    if left:
        keep = {str(hold["id"]) for hold in confirmed}
        await release_holds(provider, ctx.session_id, keep, f"{ctx.idempotency_key}:strays")


def release_step(provider: ProviderApi) -> Handler:
    """The `<service>.release` step: release every hold of the session but the `keep` list."""

    async def release(ctx: StepContext) -> None:
        keep = {hold for hold in ctx.arguments.get("keep", "").split(",") if hold}
        await release_holds(provider, ctx.session_id, keep, ctx.idempotency_key)

    return release
