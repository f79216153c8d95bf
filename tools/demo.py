"""`python -m tools.demo`: two trips booked through the gateway, their sagas shown as they run."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from kit.settings import Env
from kit.topology import PROVIDER_KINDS, gateway_url, provider_url
from launcher.__main__ import RUN_DEFAULTS
from tools.http_calls import Answer, CallLog, TimedHttp, http_session
from tools.invariants import SessionRecords, violations_of
from tools.session_stream import follow_session
from tools.supervised_system import SupervisedSystem, SystemSettings
from tools.trips import Trip, random_trip

PASSWORD = "correct horse battery staple"
ATTEMPTS = 12
HOLD_WINDOW_PASSED = 901
OUTCOME_STYLES = {
    "COMPLETED": "green",
    "DONE": "green",
    "SUCCEEDED": "green",
    "SAGA_COMPLETED": "bold green",
    "CONFIRMED": "bold green",
    "STARTED": "cyan",
    "RETRY_SCHEDULED": "yellow",
    "DUPLICATE_SKIPPED": "yellow",
    "REFUSED": "red",
    "COMPENSATING": "magenta",
    "SAGA_COMPENSATED": "bold magenta",
    "CANCELLING": "magenta",
    "CANCELLED": "bold red",
    "EXPIRED": "bold red",
}


class Demo:
    def __init__(self, http: TimedHttp, console: Console, gateway: str, providers: dict[str, str]) -> None:
        self.http = http
        self.console = console
        self.gateway = gateway
        self.providers = providers
        self.token = ""

    async def call(self, title: str, method: str, url: str, body: Any = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        started = time.perf_counter()
        answer: Answer = await self.http.call_until_answered(
            title, method, url, ATTEMPTS, json=body, headers=headers, **kwargs
        )
        elapsed = (time.perf_counter() - started) * 1000
        retried = self.http.log.failures.get(title)
        note = f" [yellow](after {sum(retried.values())} failed attempts)[/]" if retried else ""
        self.http.log.failures.pop(title, None)
        if not answer.ok and not (answer.status == 409 and title.startswith("pay")):
            self.console.print(f"  [red]✗ {title}: {answer.status} {answer.body}[/]")
            raise SystemExit(1)
        self.console.print(
            f"  [green]✓[/] {title} [dim]{method} {url.split('//', 1)[-1]} {elapsed:.0f} ms[/]{note}"
        )
        return answer.body

    async def sign_up(self) -> None:
        email = f"demo.{int(time.time() * 1000)}@example.com"
        await self.call(
            "register",
            "POST",
            f"{self.gateway}/v1/customers",
            {"email": email, "name": "Ana Demo", "password": PASSWORD},
        )
        login = await self.call(
            "log in", "POST", f"{self.gateway}/v1/auth/token", {"email": email, "password": PASSWORD}
        )
        self.token = login["accessToken"]

    async def checked_out(self, trip: Trip) -> tuple[str, dict[str, Any]]:
        query = {
            "city": trip.city,
            "checkIn": trip.check_in,
            "checkOut": trip.check_out,
            "guests": trip.guests,
        }
        hotels = (await self.call("search hotels", "GET", f"{self.gateway}/v1/hotels", params=query))[
            "hotels"
        ]
        table = Table("hotel", "stars", "per night", "rooms free", title=f"hotels in {trip.city}")
        for h in hotels:
            price = h["nightlyPrice"]
            table.add_row(
                h["name"],
                str(h.get("stars", "")),
                f"{int(price['amount']) / 100:.2f} {price['currency']}",
                str(h.get("available", 0)),
            )
        self.console.print(table)
        hotel = next((h for h in hotels if int(h.get("available", 0)) > 0), hotels[0])
        flights_query = {"origin": trip.home, "destination": trip.city, "date": trip.check_in}
        await self.call("search flights", "GET", f"{self.gateway}/v1/flights", params=flights_query)
        session = (await self.call("open a session", "POST", f"{self.gateway}/v1/sessions", {}))["session"]
        session_id = session["id"]
        await self.call(
            f"hold {hotel['name']}, {trip.check_in} → {trip.check_out}",
            "POST",
            f"{self.gateway}/v1/sessions/{session_id}/hotel",
            {
                "hotelId": hotel["id"],
                "checkIn": trip.check_in,
                "checkOut": trip.check_out,
                "guests": trip.guests,
            },
        )
        await self.call(
            f"hold round trip {trip.home} ⇄ {trip.city}",
            "POST",
            f"{self.gateway}/v1/sessions/{session_id}/flights",
            {
                "outboundFlightId": trip.outbound_flight,
                "returnFlightId": trip.return_flight,
                "passengers": trip.guests,
            },
        )
        checkout = await self.call(
            "check out", "POST", f"{self.gateway}/v1/sessions/{session_id}/checkout", {}
        )
        total = checkout["session"]["total"]
        self.console.print(
            f"    session [bold]{session_id}[/] total [bold]{int(total['amount']) / 100:.2f} "
            f"{total['currency']}[/], pay at {checkout['payment']['payUrl']}"
        )
        return session_id, checkout["payment"]

    async def pay(self, payment_id: str) -> None:
        await self.call(
            "pay on the provider",
            "POST",
            f"{self.providers['payment']}/payments/{payment_id}/pay",
            {"outcome": "succeed"},
        )

    async def set_clock(self, kind: str, offset: int) -> None:
        await self.call(
            f"{kind} provider clock offset {offset}s",
            "PUT",
            f"{self.providers[kind]}/admin/clock",
            {"offsetSeconds": offset},
        )

    async def watch(self, session_id: str, timeout: float = 120) -> str:
        """Print the session's events as the gateway pushes them, until its stream ends."""
        with self.console.status("waiting for the saga…") as status:

            def show(name: str, data: Any) -> None:
                if name == "saga":
                    self._print_event(data)
                elif name == "session":
                    state = str(data["state"]).removeprefix("STATE_")
                    status.update(f"waiting for the saga… session is {state}")

            headers = {"Authorization": f"Bearer {self.token}"}
            end = await follow_session(self.http.client, self.gateway, session_id, headers, timeout, show)
        return end.state or "?"

    async def call_quietly(self, path: str) -> Any:
        answer = await self.http.call_until_answered(
            "watch",
            "GET",
            f"{self.gateway}{path}",
            ATTEMPTS,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return answer.body if answer.ok else {}

    def _print_event(self, event: dict[str, Any]) -> None:
        outcome = event["outcome"]
        style = OUTCOME_STYLES.get(outcome, "white")
        when = event["time"][11:23]
        what = event["step"] if event["step"] != "state" else "session state"
        detail = f" [dim]{event['detail']}[/]" if event.get("detail") else ""
        attempt = f" [dim](attempt {event['attempt']})[/]" if event.get("attempt") else ""
        saga = f"[dim]{event['sagaId'].split('-')[0]:>8}[/]" if event.get("sagaId") else " " * 8
        self.console.print(f"  {when}  {saga}  {what:<22} [{style}]{outcome}[/]{attempt}{detail}")

    async def provider_records(self, session_id: str) -> SessionRecords:
        session = (await self.call_quietly(f"/v1/sessions/{session_id}"))["session"]
        holds: list[dict[str, Any]] = []
        for kind in ("hotel", "flight"):
            answer = await self.http.call_until_answered(
                "records", "GET", f"{self.providers[kind]}/holds", ATTEMPTS, params={"reference": session_id}
            )
            holds += answer.body["items"]
        answer = await self.http.call_until_answered(
            "records",
            "GET",
            f"{self.providers['payment']}/payments",
            ATTEMPTS,
            params={"reference": session_id},
        )
        return SessionRecords(session=session, holds=holds, payments=answer.body["items"])

    async def show_records(self, session_id: str) -> None:
        records = await self.provider_records(session_id)
        table = Table("provider record", "status", "amount", title="what the providers hold now")
        for hold in records.holds:
            what = hold.get("hotelId") or hold.get("flightId")
            table.add_row(f"{hold['kind']} {what}", hold["status"], f"{hold['amount'] / 100:.2f}")
        for payment in records.payments:
            table.add_row(f"payment {payment['id']}", payment["status"], f"{payment['amount'] / 100:.2f}")
        self.console.print(table)
        broken = violations_of(records)
        if broken:
            for violation in broken:
                self.console.print(f"  [red]VIOLATION {violation}[/]")
        else:
            self.console.print("  [green]the providers' records agree with the session[/]")


async def run_demo(console: Console, gateway: str, providers: dict[str, str]) -> int:
    async with http_session() as client:
        demo = Demo(TimedHttp(client, CallLog()), console, gateway, providers)

        rng = random.Random()
        console.rule("[bold]trip 1: everything confirms")
        await demo.sign_up()
        session_id, payment = await demo.checked_out(random_trip(rng, date.today()))
        await demo.pay(payment["id"])
        first = await demo.watch(session_id)
        console.print(f"  → [bold]{first.removeprefix('STATE_')}[/]")
        await demo.show_records(session_id)

        console.rule("[bold]trip 2: the hotel refuses the confirm, everything is undone")
        session_id, payment = await demo.checked_out(random_trip(rng, date.today()))
        try:
            await demo.set_clock("hotel", HOLD_WINDOW_PASSED)
            await demo.pay(payment["id"])
            second = await demo.watch(session_id)
        finally:
            await demo.set_clock("hotel", 0)
        session = (await demo.call_quietly(f"/v1/sessions/{session_id}"))["session"]
        console.print(f"  → [bold]{second.removeprefix('STATE_')}[/] ({session.get('reason')})")
        await demo.show_records(session_id)
        ok = first == "STATE_CONFIRMED" and second == "STATE_CANCELLED"
        return 0 if ok else 1


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    env = Env()
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__)
    parser.add_argument("--gateway", default=gateway_url(env))
    for kind in PROVIDER_KINDS:
        parser.add_argument(f"--{kind}-provider", default=provider_url(env, kind))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    console = Console()
    with ExitStack() as stack:
        gateway = args.gateway
        providers = {
            "hotel": args.hotel_provider,
            "flight": args.flight_provider,
            "payment": args.payment_provider,
        }
        if not _answers(gateway):
            console.print(f"nothing answers at {gateway}: starting the system (as `make run` does)")
            settings = SystemSettings(default_ports=True, env=dict(RUN_DEFAULTS))
            system = stack.enter_context(SupervisedSystem(settings, log=console.print))
            gateway = system.topology.gateway_url
            providers = {kind: system.topology.provider_url(kind) for kind in PROVIDER_KINDS}
        return asyncio.run(run_demo(console, gateway, providers))
    return 1


if __name__ == "__main__":
    sys.exit(main())
