"""The web page in a real browser: book a trip, pay or decline at the provider, watch the saga live."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from starlette.requests import Request
from travel.sessions.v1 import sessions_pb2

from gateway.session_events import SETTLE_POLLS, event_frames
from tests.e2e.booking import Customer, pay_on_page
from tests.e2e.system import ROOT, RunningSystem, running_system

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
SAGA_TIMEOUT_MS = 60_000
PASSWORD = "correct horse battery"


class ScriptedSessions:
    """Answers each poll with the next scripted (state, event count) pair, then repeats the last one."""

    def __init__(self, script: list[tuple[int, int]], error: grpc.aio.AioRpcError | None = None) -> None:
        self.script = script
        self.error = error
        self.polls = 0

    async def session(self) -> sessions_pb2.Session:
        self.polls += 1
        if self.error is not None:
            raise self.error
        state, _ = self.script[min(self.polls, len(self.script)) - 1]
        return sessions_pb2.Session(id="s-1", state=cast(sessions_pb2.State, state))

    async def events(self) -> list[sessions_pb2.SessionEvent]:
        _, count = self.script[min(max(self.polls, 1), len(self.script)) - 1]
        # Newest first on purpose: the stream must not rely on the order or the index of events.
        return [
            sessions_pb2.SessionEvent(step=f"step.{n}", outcome="COMPLETED") for n in reversed(range(count))
        ]


class ClientThatLeaves:
    """A request whose client is gone after `polls_before_leaving` checks."""

    def __init__(self, polls_before_leaving: int) -> None:
        self.checks_left = polls_before_leaving

    async def is_disconnected(self) -> bool:
        self.checks_left -= 1
        return self.checks_left < 0


def collect(request: object, sessions: ScriptedSessions) -> list[str]:
    async def run() -> list[str]:
        return [frame async for frame in event_frames(cast(Request, request), sessions, poll_seconds=0)]

    return asyncio.run(asyncio.wait_for(run(), timeout=10))


def frame_names(frames: list[str]) -> list[str]:
    return [
        line.removeprefix("event: ")
        for frame in frames
        for line in frame.splitlines()
        if line.startswith("event:")
    ]


def test_stream_pushes_each_event_once_and_ends_after_settling_on_a_terminal_state() -> None:
    open_, confirmed = sessions_pb2.STATE_OPEN, sessions_pb2.STATE_CONFIRMED
    sessions = ScriptedSessions([(open_, 1), (open_, 1), (open_, 3), (confirmed, 4), (confirmed, 5)])
    names = frame_names(collect(ClientThatLeaves(1000), sessions))
    assert names.count("saga") == 5
    assert names.count("session") == 2  # OPEN, then CONFIRMED: an unchanged session is not resent
    assert names[-1] == "end"
    assert sessions.polls == 4 + SETTLE_POLLS


def test_stream_stops_polling_when_the_client_disconnects() -> None:
    sessions = ScriptedSessions([(sessions_pb2.STATE_OPEN, 1)])
    frames = collect(ClientThatLeaves(2), sessions)
    assert sessions.polls == 3
    assert "end" not in frame_names(frames)


def test_stream_reports_a_refusal_and_ends() -> None:
    refusal = grpc.aio.AioRpcError(
        grpc.StatusCode.PERMISSION_DENIED, grpc.aio.Metadata(), grpc.aio.Metadata()
    )
    frames = collect(ClientThatLeaves(1000), ScriptedSessions([], error=refusal))
    assert frame_names(frames) == ["problem"]
    assert '"code":7' in frames[-1]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("web"), redis_url) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    # A test whose name says "phone" runs at a phone's width.
    phone = "phone" in request.node.name
    viewport: ViewportSize = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
    context = browser.new_context(viewport=viewport)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def register_on_page(page: Page, system: RunningSystem) -> str:
    email = f"web.{uuid.uuid4().hex[:10]}@example.com"
    page.goto(system.gateway_url + "/")
    form = page.locator("#register-form")
    form.get_by_label("Name").fill("Ana Web")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="My trips")).to_be_visible()
    expect(page.locator("#me")).to_have_text("Ana Web")
    return email


def plan_a_full_trip(page: Page) -> str:
    """Open a session, hold a Lisbon hotel and a Lisbon-Madrid round trip; returns the session id."""
    page.get_by_role("button", name="Plan a new trip").click()
    expect(page.locator("#session-state")).to_have_text("Open")
    expect(page.locator("#countdown")).to_contain_text("left to pay")

    hotel_form = page.locator("#hotel-form")
    hotel_form.get_by_role("button", name="Search hotels").click()
    first_hotel = page.locator("#hotel-results [data-hotel='HTL-LIS-01']")
    expect(first_hotel).to_contain_text("€")
    first_hotel.get_by_role("button", name="Hold").click()
    expect(page.locator("#items")).to_contain_text("Hotel")

    flight_form = page.locator("#flight-form")
    flight_form.locator("select[name=destination]").select_option("MAD")
    flight_form.get_by_role("button", name="Search flights").click()
    expect(page.locator("#outbound-results")).to_contain_text("LIS → MAD")
    expect(page.locator("#return-results")).to_contain_text("MAD → LIS")
    page.get_by_role("button", name="Hold this round trip").click()
    expect(page.locator("#items")).to_contain_text("Outbound")
    expect(page.locator("#items")).to_contain_text("Return")
    expect(page.locator("#total")).to_contain_text("€")
    return str(page.locator("#session-id").inner_text())


def pay_at_provider(page: Page, system: RunningSystem, button: str) -> None:
    page.get_by_role("button", name="Check out and pay").click()
    page.wait_for_url(f"{system.provider_url('payment')}/payments/**")
    expect(page.get_by_role("heading", name="Travel Pay checkout")).to_be_visible()
    page.get_by_role("button", name=button).click()
    page.get_by_role("link", name="Return to the shop").click()
    page.wait_for_url(f"{system.gateway_url}/#/sessions/**")


def test_book_a_trip_and_watch_it_confirm(page: Page, system: RunningSystem) -> None:
    register_on_page(page, system)
    session_id = plan_a_full_trip(page)
    pay_at_provider(page, system, "Pay")

    assert page.url.endswith(f"#/sessions/{session_id}")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("CONFIRMED", timeout=SAGA_TIMEOUT_MS)
    expect(timeline.locator("[data-step='hotel.confirm']")).to_contain_text("COMPLETED")
    expect(timeline.locator("[data-step='flights.confirm']")).to_contain_text("COMPLETED")
    expect(page.locator("#session-state")).to_have_text("Confirmed")
    expect(page.locator("#live")).to_have_text("finished", timeout=SAGA_TIMEOUT_MS)
    expect(page.locator("#countdown")).to_be_hidden()
    screenshot(page, "web-confirmed")


def test_declined_payment_is_compensated_on_a_phone(page: Page, system: RunningSystem) -> None:
    register_on_page(page, system)
    session_id = plan_a_full_trip(page)
    pay_at_provider(page, system, "Decline")

    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("CANCELLED", timeout=SAGA_TIMEOUT_MS)
    expect(timeline.locator(".tag.compensation").first).to_be_visible()
    expect(timeline.locator("[data-step='hotel.release']")).to_contain_text("COMPLETED")
    expect(timeline.locator("[data-step='flights.release']")).to_contain_text("COMPLETED")
    expect(page.locator("#session-state")).to_have_text("Cancelled")
    expect(page.locator("#session-reason")).to_contain_text("declined")
    expect(page.locator("#live")).to_have_text("finished", timeout=SAGA_TIMEOUT_MS)
    # Nothing may stick out sideways at phone width.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "web-cancelled-phone")

    page.get_by_role("link", name="My trips").click()
    trip = page.locator(f"#trip-list [data-session='{session_id}']")
    expect(trip).to_contain_text("Cancelled")
    expect(trip).to_contain_text("declined")


def test_api_errors_show_next_to_their_field(page: Page, system: RunningSystem) -> None:
    page.goto(system.gateway_url + "/")
    form = page.locator("#register-form")
    form.get_by_label("Name").fill("Short Password")
    form.get_by_label("Email").fill(f"short.{uuid.uuid4().hex[:8]}@example.com")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Create account").click()
    expect(form.locator(".field-error[data-field='password']")).to_be_visible()

    register_on_page(page, system)
    page.get_by_role("button", name="Plan a new trip").click()
    hotel_form = page.locator("#hotel-form")
    hotel_form.get_by_label("Check-in").fill("2020-01-10")
    hotel_form.get_by_label("Check-out").fill("2020-01-05")
    hotel_form.get_by_role("button", name="Search hotels").click()
    expect(hotel_form.locator(".field-error").first).to_be_visible()
    expect(hotel_form.locator("[aria-invalid='true']").first).to_be_visible()


def test_login_form_signs_in_an_existing_customer(page: Page, system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    me = customer.ok("GET", "/v1/customers/me")["customer"]
    page.goto(system.gateway_url + "/")
    form = page.locator("#login-form")
    form.get_by_label("Email").fill(me["email"])
    form.get_by_label("Password").fill("wrong password")
    form.get_by_role("button", name="Sign in").click()
    expect(form.locator(".form-error")).not_to_be_empty()
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My trips")).to_be_visible()
    expect(page.locator("#no-trips")).to_be_visible()


def read_stream(system: RunningSystem, path: str, **kwargs: Any) -> tuple[int, list[tuple[str, Any]]]:
    """Every SSE frame of a stream until the server ends it, as (event, data) pairs."""
    frames: list[tuple[str, Any]] = []
    with httpx.stream("GET", system.gateway_url + path, timeout=SAGA_TIMEOUT_MS / 1000, **kwargs) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, [("error", response.json())]
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                frames.append((event, json.loads(line.removeprefix("data: "))))
    return 200, frames


def test_event_stream_replays_the_saga_and_ends_when_terminal(system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    pay_on_page(system, customer.checkout(session_id)["payment"]["id"], "succeed")

    status, frames = read_stream(
        system,
        f"/v1/sessions/{session_id}/events:stream",
        headers={"Authorization": f"Bearer {customer.token}"},
    )
    assert status == 200
    names = [name for name, _ in frames]
    assert names[-1] == "end" and frames[-1][1]["state"] == "STATE_CONFIRMED", frames[-3:]
    sessions = [data for name, data in frames if name == "session"]
    assert sessions[-1]["state"] == "STATE_CONFIRMED"
    steps = {(data["step"], data["outcome"]) for name, data in frames if name == "saga"}
    assert ("sessions.complete", "COMPLETED") in steps, steps
    saga_frames = [json.dumps(data, sort_keys=True) for name, data in frames if name == "saga"]
    assert len(saga_frames) == len(set(saga_frames)), "an event was pushed twice"


def test_event_stream_accepts_the_token_in_the_query_and_enforces_ownership(system: RunningSystem) -> None:
    owner, stranger = Customer.signed_up(system), Customer.signed_up(system)
    session_id = owner.open_session()
    customer_cancel = owner.ok("POST", f"/v1/sessions/{session_id}:cancel", {})
    assert customer_cancel["session"]["id"] == session_id

    status, frames = read_stream(
        system, f"/v1/sessions/{session_id}/events:stream?access_token={owner.token}"
    )
    assert status == 200 and frames[-1][0] == "end", frames

    anonymous, _ = read_stream(system, f"/v1/sessions/{session_id}/events:stream")
    assert anonymous == 401
    status, body = read_stream(
        system, f"/v1/sessions/{session_id}/events:stream?access_token={stranger.token}"
    )
    assert status in (403, 404), body
    assert set(body[0][1]) == {"code", "message", "details"}
