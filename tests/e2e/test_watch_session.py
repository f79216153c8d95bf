"""WatchSession through the whole system: with grpcurl over reflection, and with the client wheel's code."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from travel.sessions.v1 import sessions_pb2
from travel_client import Endpoints, TravelClient

from tests.e2e.booking import Customer, pay
from tests.e2e.system import ROOT, RunningSystem, running_system

pytestmark = pytest.mark.e2e

GRPCURL = ROOT / ".venv" / "bin" / "grpcurl"
GRPC_SERVICES = ("customers", "sessions", "hotel", "flights", "payments")
DEADLINE_SECONDS = 90


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("watch"), redis_url) as running:
        yield running


def paid(system: RunningSystem, customer: Customer) -> str:
    """A session holding a stay and a round trip, checked out and paid: it is on its way to CONFIRMED."""
    session_id = customer.full_session()
    pay(system, customer.checkout(session_id)["payment"]["id"])
    return session_id


def json_messages(text: str) -> list[dict]:
    """grpcurl prints each response as an indented JSON object (proto field names), one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        message, at = decoder.raw_decode(text, at)
        found.append(message)
    return found


def test_grpcurl_follows_a_session_until_it_settles(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = paid(system, customer)
    command = [
        str(GRPCURL), "-plaintext", "-d", json.dumps({"id": session_id}),
        "-H", f"authorization: Bearer {customer.token}",
        system.grpc_address("sessions"), "travel.sessions.v1.SessionsService/WatchSession",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    responses = json_messages(done.stdout)
    assert responses[0]["session"]["id"] == session_id
    assert responses[-1].get("end_state") == "STATE_CONFIRMED", f"no terminal response last: {responses[-3:]}"
    states = [r["session"]["state"] for r in responses if "session" in r]
    assert states[-1] == "STATE_CONFIRMED"
    events = [e for r in responses for e in r.get("events", [])]
    outcomes = [e["outcome"] for e in events]
    assert "SAGA_COMPLETED" in outcomes
    sequences = [int(r.get("sequence", "0")) for r in responses]
    assert sequences == sorted(sequences)

    again = subprocess.run(
        [*command[:3], json.dumps({"id": session_id, "afterSequence": str(sequences[-1])}), *command[4:]],
        capture_output=True, text=True, timeout=DEADLINE_SECONDS, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    resumed = json_messages(again.stdout)
    assert resumed[-1]["end_state"] == "STATE_CONFIRMED"
    assert all(e in events for r in resumed for e in r.get("events", [])), "nothing the client had not seen"


def test_grpcurl_without_a_token_is_refused(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.open_session()
    done = subprocess.run(
        [str(GRPCURL), "-plaintext", "-d", json.dumps({"id": session_id}), system.grpc_address("sessions"),
         "travel.sessions.v1.SessionsService/WatchSession"],
        capture_output=True, text=True, timeout=DEADLINE_SECONDS, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Unauthenticated" in done.stderr


def test_the_client_yields_each_change_until_the_session_settles(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = paid(system, customer)
    endpoints = Endpoints(*(system.grpc_address(s) for s in GRPC_SERVICES))
    with TravelClient(endpoints, token=customer.token) as client:
        responses = list(client.watch_session(session_id))
        assert responses[-1].end_state == sessions_pb2.STATE_CONFIRMED
        sessions = [r.session for r in responses if r.HasField("session")]
        assert sessions[-1].state == sessions_pb2.STATE_CONFIRMED
        events = [e for r in responses for e in r.events]
        final = client.sessions.ListSessionEvents(sessions_pb2.ListSessionEventsRequest(id=session_id))
        assert sorted(e.SerializeToString() for e in events) == sorted(
            e.SerializeToString() for e in final.events
        )
        resumed = list(client.watch_session(session_id, after_sequence=responses[-1].sequence))
        # Just the end, unless a notice was counted after the watch's read (its change already in
        # the read): then the session again, which holds nothing the client has not seen.
        assert resumed[-1].end_state == sessions_pb2.STATE_CONFIRMED
        seen = {e.SerializeToString() for e in events}
        assert all(e.SerializeToString() in seen for r in resumed for e in r.events)
