"""The web page in a real browser: book a trip, pay or decline at the provider, watch the saga live."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.e2e.booking import Customer, pay_on_page
from tests.e2e.browser import PASSWORD, launched_chromium
from tests.e2e.system import ROOT, RunningSystem, running_system

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "test-artifacts"
SAGA_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    with running_system(tmp_path_factory.mktemp("web"), redis_url) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


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
