"""Operator CLI: saga timelines, stream entries with their slips, dead letters, consumer-group lag, keys.

Generic over what the sagas do: a product that wants its steps' labels in timelines passes them
to `main` from an entry point of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence

from google.protobuf import json_format
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from bus.dead_letters import get_dead_letter, list_dead_letters, replay_dead_letter
from bus.entries import read_slip
from bus.errors import UndecodableEntry
from bus.history import HistoryRecord, outcome, read_history, read_session_history
from bus.keys import DEFAULT_PARTITIONS, BusKeys, entry_name
from bus.monitoring import group_figures
from bus.replies import parse_entries
from kit.redis_connection import RedisSettings, check_access, redis_client
from kit.settings import ConfigError, Env
from services.sagas.vocabulary import step_labels

console = Console()

# What redis-cli XRANGE shows readably of an entry, in its order.
PLAIN_FIELDS = ("saga_id", "session_id", "step", "kind", "phase", "attempt", "sent_us")


def _timeline_table(title: str, records: Sequence[HistoryRecord], labels: Mapping[str, str]) -> Table:
    table = Table(title=title)
    for column in ("at (UTC)", "outcome", "step", "what", "participant", "phase", "attempt", "detail"):
        table.add_column(column)
    for r in records:
        at = r.at.strftime("%H:%M:%S.%f")[:-3]
        what = labels.get(r.step, "")
        # Outcomes spelled as the session timeline and the saga protos spell them.
        table.add_row(at, outcome(r.event), r.step, what, r.participant, r.phase, str(r.attempt), r.detail)
    return table


async def timeline(redis: Redis, keys: BusKeys, saga_id: str, labels: Mapping[str, str]) -> int:
    records = await read_history(redis, keys, saga_id)
    if not records:
        console.print(f"no history for saga {saga_id}")
        return 1
    console.print(_timeline_table(f"saga {saga_id}", records, labels))
    return 0


async def session(redis: Redis, keys: BusKeys, session_id: str, labels: Mapping[str, str]) -> int:
    sagas = await read_session_history(redis, keys, session_id)
    if not sagas:
        console.print(f"no sagas for session {session_id}")
        return 1
    for saga_id, records in sagas.items():
        console.print(_timeline_table(f"session {session_id} / saga {saga_id}", records, labels))
    return 0


def session_keys(keys: BusKeys, session_id: str) -> int:
    """Where a session's sagas live, for redis-cli: its partition and the keys of its sagas."""
    partition = keys.partition_of(session_id)
    console.print(f"session {session_id} is in partition {partition} of {keys.partitions}")
    console.print(f"  sagas     {keys.session_sagas(session_id)}")
    for saga_id in (f"confirm-{session_id}", f"cancel-{session_id}"):
        console.print(f"  {saga_id.split('-', 1)[0]:9} {keys.saga_history(partition, saga_id)}")
        console.print(f"  {'':9} {keys.saga_steps(partition, saga_id)}")
    console.print(f"  streams   {keys.stream(partition, '<participant>')}")
    console.print(f"  letters   {keys.dead_letters(partition)}")
    return 0


async def dead_letters(redis: Redis, keys: BusKeys, action: str, entry_id: str | None) -> int:
    if action == "list":
        table = Table(title=f"dead letters in {keys.every_partition(keys.dead_letters(0))}")
        for column in ("id", "saga", "step", "participant", "deliveries", "attempt", "error"):
            table.add_column(column)
        for d in await list_dead_letters(redis, keys):
            table.add_row(
                d.entry_id, d.saga_id, d.step, d.participant, str(d.deliveries), str(d.attempt),
                d.error,
            )  # fmt: skip
        console.print(table)
        return 0
    if entry_id is None:
        console.print(f"dead-letters {action} needs an entry id")
        return 2
    if action == "show":
        letter = await get_dead_letter(redis, keys, entry_id)
        if letter is None:
            console.print(f"no dead letter {entry_id}")
            return 1
        for name in ("entry_id", "saga_id", "session_id", "step", "participant", "error",
                     "failure_kind", "error_type", "error_message", "deliveries", "attempt", "dead_at",
                     "source_id"):  # fmt: skip
            console.print(f"[bold]{name}[/bold]: {getattr(letter, name)}")
        if letter.slip is not None:
            console.print_json(json_format.MessageToJson(letter.slip))
        return 0
    new_id = await replay_dead_letter(redis, keys, entry_id)
    if new_id is None:
        console.print(f"no dead letter {entry_id} to replay (already replayed?)")
        return 1
    console.print(f"replayed {entry_id} as {new_id}")
    return 0


async def entries(
    redis: Redis, keys: BusKeys, participant: str, partition: int | None, count: int, brief: bool
) -> int:
    """A participant's newest stream entries, oldest first: plain fields, then the slip decoded."""
    partitions = keys.all_partitions() if partition is None else [partition]
    shown = 0
    for p in partitions:
        raw = await redis.xrevrange(keys.stream(p, participant), count=count)
        for entry_id, fields in reversed(parse_entries(raw)):
            if fields is None:
                continue
            shown += 1
            plain = " ".join(f"{name}={fields[name]}" for name in PLAIN_FIELDS if name in fields)
            console.print(f"[bold]{entry_name(p, entry_id)}[/bold] {plain}")
            if brief:
                continue
            try:
                console.print_json(json_format.MessageToJson(read_slip(fields)))
            except UndecodableEntry as error:
                console.print(f"  slip unreadable: {error}")
    if not shown:
        console.print(f"no entries for {participant}")
        return 1
    return 0


async def lag(redis: Redis, keys: BusKeys, stuck_after_ms: int) -> int:
    table = Table(title=f"consumer groups in namespace {keys.namespace}")
    for column in ("participant", "length", "consumers", "pending", "lag", "delayed", "stuck"):
        table.add_column(column)
    figures = await group_figures(redis, keys, stuck_after_ms=stuck_after_ms)
    for f in figures:
        table.add_row(
            f.participant, str(f.length), str(f.consumers), str(f.pending), str(f.lag),
            str(f.delayed_retries), str(len(f.stuck)),
        )  # fmt: skip
    console.print(table)
    for f in figures:
        for s in f.stuck:
            console.print(
                f"stuck: {f.participant} {s.entry_id} consumer={s.consumer} "
                f"idle={s.idle_ms}ms deliveries={s.deliveries}"
            )
    return 0


def parser(prog: str = "python -m tools.bus_cli") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--namespace", default=os.environ.get("TRAVEL_NAMESPACE", "travel"))
    p.add_argument(
        "--partitions",
        type=int,
        default=os.environ.get("BUS_PARTITIONS", str(DEFAULT_PARTITIONS)),
        help="the system's BUS_PARTITIONS",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("timeline", help="a saga's history").add_argument("saga_id")
    sub.add_parser("session", help="every saga of a session").add_argument("session_id")
    sub.add_parser("keys", help="a session's partition and Redis keys (no Redis call)").add_argument(
        "session_id"
    )
    shown = sub.add_parser("entries", help="a participant's newest stream entries, slips decoded")
    shown.add_argument("participant")
    where = shown.add_mutually_exclusive_group()
    where.add_argument("--partition", type=int, help="only this partition's stream")
    where.add_argument("--session", help="only the stream of this session's partition")
    shown.add_argument("--count", type=int, default=10, help="entries per partition (default 10)")
    shown.add_argument("--brief", action="store_true", help="plain fields only")
    dead = sub.add_parser("dead-letters", help="list, show or replay dead letters")
    dead.add_argument("action", choices=("list", "show", "replay"))
    dead.add_argument("entry_id", nargs="?")
    lag_parser = sub.add_parser("lag", help="lag and pending per consumer group")
    lag_parser.add_argument("--stuck-after-ms", type=int, default=60_000)
    return p


async def main(
    argv: Sequence[str] | None = None,
    step_labels: Mapping[str, str] | None = None,
    prog: str = "python -m tools.bus_cli",
) -> int:
    """Run one command; `step_labels` (step name -> how people read it) fill the timelines' `what`."""
    labels = step_labels or {}
    cli = parser(prog)
    args = cli.parse_args(argv)
    try:
        keys = BusKeys(args.namespace, args.partitions)
    except ValueError as error:
        cli.error(str(error))
    if args.command == "keys":
        return session_keys(keys, args.session_id)
    if (
        args.command == "entries"
        and args.partition is not None
        and args.partition not in keys.all_partitions()
    ):
        cli.error(f"partition {args.partition} is outside 0..{keys.partitions - 1}")
    redis: Redis | None = None
    try:
        settings = RedisSettings.from_env(Env(), url=args.redis_url)
        redis = redis_client(settings, decode_responses=True)
        await check_access(redis, settings)
    except ConfigError as error:
        if redis is not None:
            await redis.aclose()
        print(f"tools.bus_cli: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "timeline":
            return await timeline(redis, keys, args.saga_id, labels)
        if args.command == "session":
            return await session(redis, keys, args.session_id, labels)
        if args.command == "entries":
            partition = keys.partition_of(args.session) if args.session else args.partition
            return await entries(redis, keys, args.participant, partition, args.count, args.brief)
        if args.command == "dead-letters":
            return await dead_letters(redis, keys, args.action, args.entry_id)
        return await lag(redis, keys, args.stuck_after_ms)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(step_labels=step_labels())))
