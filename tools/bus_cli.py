"""Operator CLI (`travel-ops`): saga timelines, stream entries, dead letters, operator actions, lag, keys.

Generic over what the sagas do: a product that wants its steps' labels in timelines passes them
to `main` from an entry point of its own. Every command prints a table, or with `--output json`
one JSON document (tools.cli_documents); docs/operations.md describes both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import json_format
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from bus.dead_letters import discard_dead_letter, get_dead_letter, list_dead_letters, replay_dead_letter
from bus.entries import read_slip
from bus.errors import UndecodableEntry
from bus.history import HistoryRecord, outcome, read_history, read_session_history
from bus.keys import DEFAULT_PARTITIONS, BusKeys, entry_name
from bus.monitoring import group_figures
from bus.operator_actions import Audit, OperatorAction, list_operator_actions
from bus.replies import parse_entries
from bus.session_notices import READ_AGAIN
from kit.redis_connection import RedisSettings, check_access, redis_client
from kit.settings import ConfigError, Env
from services.sagas.vocabulary import step_labels
from tools.cli_documents import (
    Document,
    action_document,
    dead_letter_document,
    dumps,
    figures_document,
    history_document,
    replay_document,
    when,
)
from tools.dead_letter_selection import LetterFilter, parse_age

# What redis-cli XRANGE shows readably of an entry, in its order.
PLAIN_FIELDS = ("saga_id", "session_id", "step", "kind", "phase", "attempt", "sent_us")
# What the recorded actions name as the tool used.
VIA = "cli"
DEFAULT_PROG = "python -m tools.bus_cli"


class Out:
    """Where a command's result goes: rich tables and lines, or one JSON document on stdout."""

    def __init__(self, json_output: bool) -> None:
        self.json = json_output
        self.console = Console()
        self.errors = Console(stderr=True)

    def document(self, document: Document | list[Document] | None) -> None:
        print(dumps(document) if document is not None else "null")

    def say(self, text: str) -> None:
        """A line for people: on stdout beside tables, on stderr beside a JSON document."""
        (self.errors if self.json else self.console).print(text)


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


async def timeline(out: Out, redis: Redis, keys: BusKeys, saga_id: str, labels: Mapping[str, str]) -> int:
    records = await read_history(redis, keys, saga_id)
    if out.json:
        out.document([history_document(r, labels) for r in records])
    if not records:
        out.say(f"no history for saga {saga_id}")
        return 1
    if not out.json:
        out.console.print(_timeline_table(f"saga {saga_id}", records, labels))
    return 0


async def session(out: Out, redis: Redis, keys: BusKeys, session_id: str, labels: Mapping[str, str]) -> int:
    sagas = await read_session_history(redis, keys, session_id)
    if out.json:
        out.document(
            [
                {"saga_id": saga_id, "records": [history_document(r, labels) for r in records]}
                for saga_id, records in sagas.items()
            ]
        )
    if not sagas:
        out.say(f"no sagas for session {session_id}")
        return 1
    if not out.json:
        for saga_id, records in sagas.items():
            out.console.print(_timeline_table(f"session {session_id} / saga {saga_id}", records, labels))
    return 0


def session_keys(out: Out, keys: BusKeys, session_id: str) -> int:
    """Where a session's sagas live, for redis-cli: its partition and the keys of its sagas."""
    partition = keys.partition_of(session_id)
    sagas = [
        {
            "saga_id": saga_id,
            "history": keys.saga_history(partition, saga_id),
            "steps": keys.saga_steps(partition, saga_id),
        }
        for saga_id in (f"confirm-{session_id}", f"cancel-{session_id}")
    ]
    if out.json:
        out.document(
            {
                "session_id": session_id,
                "partition": partition,
                "partitions": keys.partitions,
                "session_sagas": keys.session_sagas(session_id),
                "sagas": sagas,
                "streams": keys.stream(partition, "<participant>"),
                "dead_letters": keys.dead_letters(partition),
                "operator_actions": keys.operator_actions(partition),
            }
        )
        return 0
    print_ = out.console.print
    print_(f"session {session_id} is in partition {partition} of {keys.partitions}")
    print_(f"  sagas     {keys.session_sagas(session_id)}")
    for saga in sagas:
        print_(f"  {saga['saga_id'].split('-', 1)[0]:9} {saga['history']}")
        print_(f"  {'':9} {saga['steps']}")
    print_(f"  streams   {keys.stream(partition, '<participant>')}")
    print_(f"  letters   {keys.dead_letters(partition)}")
    print_(f"  actions   {keys.operator_actions(partition)}")
    return 0


async def announce(redis: Redis, keys: BusKeys, session_id: str) -> None:
    """Tell whoever watches the session (the console's live overview) to read again; a lost notice
    only delays the console until its next read."""
    if session_id:
        with contextlib.suppress(RedisError, OSError):
            await redis.publish(keys.session_changes(session_id), READ_AGAIN)


@dataclass(frozen=True)
class LetterCommand:
    """One `dead-letters` command as parsed."""

    action: str
    entry_id: str | None
    select: LetterFilter
    every: bool  # replay --all
    dry_run: bool
    limit: int
    operator: str | None
    reason: str


async def list_letters(out: Out, redis: Redis, keys: BusKeys, command: LetterCommand) -> int:
    now = datetime.now(UTC)
    letters = command.select.select(await list_dead_letters(redis, keys, count=command.limit), now)
    if out.json:
        out.document([dead_letter_document(d) for d in letters])
        return 0
    table = Table(title=f"dead letters in {keys.every_partition(keys.dead_letters(0))}")
    for column in ("id", "dead at (UTC)", "saga", "step", "participant", "deliveries", "attempt", "error"):
        table.add_column(column)
    for d in letters:
        table.add_row(
            d.entry_id, d.dead_at.strftime("%Y-%m-%d %H:%M:%S"), d.saga_id, d.step, d.participant,
            str(d.deliveries), str(d.attempt), d.error,
        )  # fmt: skip
    out.console.print(table)
    return 0


async def show_letter(out: Out, redis: Redis, keys: BusKeys, entry_id: str) -> int:
    letter = await get_dead_letter(redis, keys, entry_id)
    if out.json:
        out.document(None if letter is None else dead_letter_document(letter, with_slip=True))
    if letter is None:
        out.say(f"no dead letter {entry_id}")
        return 1
    if out.json:
        return 0
    for name in ("entry_id", "saga_id", "session_id", "step", "participant", "error",
                 "failure_kind", "error_type", "error_message", "deliveries", "attempt", "dead_at",
                 "source_id"):  # fmt: skip
        out.console.print(f"[bold]{name}[/bold]: {getattr(letter, name)}")
    if letter.slip is not None:
        out.console.print_json(json_format.MessageToJson(letter.slip))
    return 0


async def replay_one(out: Out, redis: Redis, keys: BusKeys, entry_id: str, audit: Audit) -> int:
    letter = await get_dead_letter(redis, keys, entry_id)
    new_id = None if letter is None else await replay_dead_letter(redis, keys, entry_id, audit=audit)
    if letter is not None and new_id is not None:
        await announce(redis, keys, letter.session_id)
    if out.json:
        out.document(None if letter is None or new_id is None else replay_document(letter, new_id))
    if letter is None or new_id is None:
        unreadable = letter is not None and letter.slip is None
        why = "its slip cannot be read" if unreadable else "already replayed or discarded?"
        out.say(f"no dead letter {entry_id} to replay ({why})")
        return 1
    if not out.json:
        out.say(f"replayed {entry_id} as {new_id}")
    return 0


async def replay_matching(out: Out, redis: Redis, keys: BusKeys, command: LetterCommand, audit: Audit) -> int:
    """Every matching dead letter once, oldest first; a letter gone meanwhile is reported, not retried."""
    now = datetime.now(UTC)
    chosen = command.select.select(await list_dead_letters(redis, keys, count=command.limit), now)
    done: list[Document] = []
    missed = 0
    for letter in chosen:
        new_id = None
        if not command.dry_run:
            new_id = await replay_dead_letter(redis, keys, letter.entry_id, audit=audit)
            missed += new_id is None
            if new_id is not None:
                await announce(redis, keys, letter.session_id)
        done.append(replay_document(letter, new_id, dry_run=command.dry_run))
    if out.json:
        out.document(done)
    else:
        title = "would replay (dry run)" if command.dry_run else "replayed"
        table = Table(title=f"{title}: {len(chosen)} dead letter(s)")
        for column in ("id", "saga", "step", "participant", "session", "replayed as"):
            table.add_column(column)
        for d in done:
            sent = d["replayed_entry_id"] or ("-" if command.dry_run else "not replayed")
            table.add_row(d["entry_id"], d["saga_id"], d["step"], d["participant"], d["session_id"], sent)
        out.console.print(table)
    if missed:
        out.say(f"{missed} dead letter(s) not replayed: gone meanwhile, or their slip cannot be read")
        return 1
    return 0


async def discard(out: Out, redis: Redis, keys: BusKeys, entry_id: str, audit: Audit) -> int:
    letter = await discard_dead_letter(redis, keys, entry_id, audit)
    if letter is not None:
        await announce(redis, keys, letter.session_id)
    if out.json:
        out.document(None if letter is None else dead_letter_document(letter))
    if letter is None:
        out.say(f"no dead letter {entry_id} to discard (already replayed or discarded?)")
        return 1
    if not out.json:
        out.say(f"discarded {entry_id} ({letter.step} of session {letter.session_id}): {audit.reason}")
    return 0


async def audit_log(out: Out, redis: Redis, keys: BusKeys, count: int, session_id: str | None) -> int:
    actions: list[OperatorAction] = await list_operator_actions(redis, keys, count=count)
    if session_id is not None:
        actions = [a for a in actions if a.session_id == session_id]
    if out.json:
        out.document([action_document(a) for a in actions])
        return 0
    table = Table(title=f"operator actions in {keys.every_partition(keys.operator_actions(0))}, newest first")
    for column in ("at (UTC)", "action", "operator", "via", "dead letter", "session", "step", "outcome"):
        table.add_column(column)
    for a in actions:
        result = f"as {a.replayed_entry_id}" if a.replayed_entry_id else a.reason
        table.add_row(
            when(a.at), a.action.value, a.operator, a.via, a.entry_id, a.session_id, a.step, result
        )  # fmt: skip
    out.console.print(table)
    return 0


async def entries(
    out: Out, redis: Redis, keys: BusKeys, participant: str, partition: int | None, count: int, brief: bool
) -> int:
    """A participant's newest stream entries, oldest first: plain fields, then the slip decoded."""
    partitions = keys.all_partitions() if partition is None else [partition]
    shown: list[Document] = []
    for p in partitions:
        raw = await redis.xrevrange(keys.stream(p, participant), count=count)
        for entry_id, fields in reversed(parse_entries(raw)):
            if fields is None:
                continue
            plain = {name: fields[name] for name in PLAIN_FIELDS if name in fields}
            document: Document = {"entry_id": entry_name(p, entry_id), "partition": p, "fields": plain}
            if not out.json:
                line = " ".join(f"{name}={value}" for name, value in plain.items())
                out.console.print(f"[bold]{document['entry_id']}[/bold] {line}")
            shown.append(document)
            if brief:
                continue
            try:
                slip = read_slip(fields)
            except UndecodableEntry as error:
                document["slip_error"] = str(error)
                if not out.json:
                    out.say(f"  slip unreadable: {error}")
                continue
            document["slip"] = json_format.MessageToDict(slip)
            if not out.json:
                out.console.print_json(json_format.MessageToJson(slip))
    if out.json:
        out.document(shown)
    if not shown:
        out.say(f"no entries for {participant}")
        return 1
    return 0


async def lag(out: Out, redis: Redis, keys: BusKeys, stuck_after_ms: int) -> int:
    figures = await group_figures(redis, keys, stuck_after_ms=stuck_after_ms)
    if out.json:
        out.document([figures_document(f) for f in figures])
        return 0
    table = Table(title=f"consumer groups in namespace {keys.namespace}")
    for column in ("participant", "length", "consumers", "pending", "lag", "delayed", "stuck"):
        table.add_column(column)
    for f in figures:
        table.add_row(
            f.participant, str(f.length), str(f.consumers), str(f.pending), str(f.lag),
            str(f.delayed_retries), str(len(f.stuck)),
        )  # fmt: skip
    out.console.print(table)
    for f in figures:
        for s in f.stuck:
            out.console.print(
                f"stuck: {f.participant} {s.entry_id} consumer={s.consumer} "
                f"idle={s.idle_ms}ms deliveries={s.deliveries}"
            )
    return 0


def default_operator() -> str | None:
    """Who acts when `--operator` is not given: TRAVEL_OPERATOR, else the OS user's login name."""
    named = os.environ.get("TRAVEL_OPERATOR", "").strip()
    if named:
        return named
    try:
        return getpass.getuser().strip() or None
    except (KeyError, OSError):  # no user name in the environment nor in the password database
        return None


def _age(text: str) -> object:
    try:
        return parse_age(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _filters(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("which dead letters (every condition given must hold)")
    group.add_argument("--participant", help="the participant whose step died, e.g. hotel")
    group.add_argument("--step", help="the step, e.g. hotel.confirm")
    group.add_argument("--session", help="the session's id")
    group.add_argument(
        "--older-than", type=_age, metavar="AGE", help="dead for at least AGE: 90s, 10m, 2h, 1d"
    )


def _acting(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--operator",
        help="who acts, as recorded among the operator actions (default: $TRAVEL_OPERATOR, else the OS user)",
    )


def parser(prog: str = DEFAULT_PROG) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").splitlines()[0])
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--namespace", default=os.environ.get("TRAVEL_NAMESPACE", "travel"))
    p.add_argument(
        "--partitions",
        type=int,
        default=os.environ.get("BUS_PARTITIONS", str(DEFAULT_PARTITIONS)),
        help="the system's BUS_PARTITIONS",
    )
    # Accepted before the command and after it; given nowhere, tables.
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument(
        "--output", choices=("table", "json"), default=argparse.SUPPRESS,
        help="table (default) or json: one JSON document on stdout",
    )  # fmt: skip
    p.add_argument("--output", choices=("table", "json"), default="table", help="table (default) or json")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("timeline", help="a saga's history", parents=[output]).add_argument("saga_id")
    sub.add_parser("session", help="every saga of a session", parents=[output]).add_argument("session_id")
    sub.add_parser(
        "keys", help="a session's partition and Redis keys (no Redis call)", parents=[output]
    ).add_argument("session_id")
    shown = sub.add_parser(
        "entries", help="a participant's newest stream entries, slips decoded", parents=[output]
    )
    shown.add_argument("participant")
    where = shown.add_mutually_exclusive_group()
    where.add_argument("--partition", type=int, help="only this partition's stream")
    where.add_argument("--session", help="only the stream of this session's partition")
    shown.add_argument("--count", type=int, default=10, help="entries per partition (default 10)")
    shown.add_argument("--brief", action="store_true", help="plain fields only")

    dead = sub.add_parser("dead-letters", help="list, show, replay or discard dead letters")
    actions = dead.add_subparsers(dest="action", required=True)
    listed = actions.add_parser("list", help="dead letters, oldest first", parents=[output])
    _filters(listed)
    listed.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")
    actions.add_parser("show", help="one dead letter with its slip", parents=[output]).add_argument(
        "entry_id"
    )
    replay = actions.add_parser(
        "replay", help="send a dead letter (or every matching one) back to its participant", parents=[output]
    )
    replay.add_argument("entry_id", nargs="?", help="the dead letter, as listed: p<partition>-<id>")
    replay.add_argument(
        "--all", action="store_true", dest="every", help="every dead letter the filters match"
    )
    _filters(replay)
    replay.add_argument("--dry-run", action="store_true", help="with --all: list what would be replayed")
    replay.add_argument(
        "--limit", type=_positive, default=1000, help="with --all: at most this many (default 1000)"
    )
    _acting(replay)
    thrown = actions.add_parser(
        "discard", help="remove a dead letter without replaying it, with a reason", parents=[output]
    )
    thrown.add_argument("entry_id")
    thrown.add_argument("--reason", required=True, help="why it is not replayed (recorded)")
    _acting(thrown)

    audit = sub.add_parser(
        "audit", help="operator actions (replays, discards), newest first", parents=[output]
    )
    audit.add_argument("--count", type=_positive, default=50, help="at most this many (default 50)")
    audit.add_argument("--session", help="only actions on this session's dead letters")
    lag_parser = sub.add_parser("lag", help="lag and pending per consumer group", parents=[output])
    lag_parser.add_argument("--stuck-after-ms", type=int, default=60_000)
    return p


def _letter_command(cli: argparse.ArgumentParser, args: argparse.Namespace) -> LetterCommand:
    """The dead-letters command's arguments, checked together (what argparse cannot say alone)."""
    select = LetterFilter(
        participant=getattr(args, "participant", None),
        step=getattr(args, "step", None),
        session_id=getattr(args, "session", None),
        older_than=getattr(args, "older_than", None),
    )
    command = LetterCommand(
        action=args.action,
        entry_id=getattr(args, "entry_id", None),
        select=select,
        every=getattr(args, "every", False),
        dry_run=getattr(args, "dry_run", False),
        limit=getattr(args, "limit", 100),
        operator=getattr(args, "operator", None),
        reason=(getattr(args, "reason", "") or "").strip(),
    )
    if command.action == "replay":
        if command.every == (command.entry_id is not None):
            cli.error("dead-letters replay needs either an entry id or --all (with filters), not both")
        if not command.every and (select.narrows or command.dry_run):
            cli.error("filters and --dry-run go with --all")
    if command.action == "discard" and not command.reason:
        cli.error("dead-letters discard needs a --reason that says why the letter is not replayed")
    return command


def _audit(cli: argparse.ArgumentParser, command: LetterCommand) -> Audit:
    operator = (command.operator or "").strip() or default_operator()
    if not operator:
        cli.error("name the operator: --operator NAME or TRAVEL_OPERATOR")
    return Audit(operator=operator, via=VIA, reason=command.reason)


async def main(
    argv: Sequence[str] | None = None,
    step_labels: Mapping[str, str] | None = None,
    prog: str = DEFAULT_PROG,
) -> int:
    """Run one command; `step_labels` (step name -> how people read it) fill the timelines' `what`."""
    labels = step_labels or {}
    cli = parser(prog)
    args = cli.parse_args(argv)
    out = Out(args.output == "json")
    try:
        keys = BusKeys(args.namespace, args.partitions)
    except ValueError as error:
        cli.error(str(error))
    if args.command == "keys":
        return session_keys(out, keys, args.session_id)
    if (
        args.command == "entries"
        and args.partition is not None
        and args.partition not in keys.all_partitions()
    ):
        cli.error(f"partition {args.partition} is outside 0..{keys.partitions - 1}")
    letters = _letter_command(cli, args) if args.command == "dead-letters" else None
    acting = None
    if letters is not None and letters.action in ("replay", "discard") and not letters.dry_run:
        acting = _audit(cli, letters)
    redis: Redis | None = None
    try:
        settings = RedisSettings.from_env(Env(), url=args.redis_url)
        redis = redis_client(settings, decode_responses=True)
        await check_access(redis, settings)
    except ConfigError as error:
        if redis is not None:
            await redis.aclose()
        print(f"{prog}: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "timeline":
            return await timeline(out, redis, keys, args.saga_id, labels)
        if args.command == "session":
            return await session(out, redis, keys, args.session_id, labels)
        if args.command == "entries":
            partition = keys.partition_of(args.session) if args.session else args.partition
            return await entries(out, redis, keys, args.participant, partition, args.count, args.brief)
        if letters is not None:
            return await _dead_letters(out, redis, keys, letters, acting)
        if args.command == "audit":
            return await audit_log(out, redis, keys, args.count, args.session)
        return await lag(out, redis, keys, args.stuck_after_ms)
    finally:
        await redis.aclose()


async def _dead_letters(
    out: Out, redis: Redis, keys: BusKeys, command: LetterCommand, acting: Audit | None
) -> int:
    if command.action == "list":
        return await list_letters(out, redis, keys, command)
    if command.action == "show":
        return await show_letter(out, redis, keys, command.entry_id or "")
    if command.action == "discard" and acting is not None:
        return await discard(out, redis, keys, command.entry_id or "", acting)
    if command.every:
        audit = acting or Audit(operator="dry-run", via=VIA)  # a dry run records nothing
        return await replay_matching(out, redis, keys, command, audit)
    assert acting is not None, "a replay names its operator"
    return await replay_one(out, redis, keys, command.entry_id or "", acting)


def run() -> int:
    """The `travel-ops` command ([project.scripts]): the CLI with the sagas' step labels."""
    return asyncio.run(main(step_labels=step_labels(), prog="travel-ops"))


if __name__ == "__main__":
    sys.exit(asyncio.run(main(step_labels=step_labels())))
