"""The operator console: an admin replays a dead letter from the page; a customer gets no console."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

from bus.history import HistoryEvent, history_fields
from bus.keys import BusKeys
from tests.e2e.booking import Customer, pay_on_page, set_chaos
from tests.e2e.browser import PASSWORD, launched_chromium
from tests.e2e.system import ROOT, RunningSystem, running_system

pytestmark = pytest.mark.e2e

SCREENSHOT = ROOT / "docs" / "images" / "operator-console.png"
SAGA_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[RunningSystem]:
    # A confirm step gives up after three quick attempts, so a provider that is down dead-letters it.
    env = {"BUS_RETRY_ATTEMPTS": "3", "BUS_RETRY_BASE_DELAY_SECONDS": "0.05"}
    # A slow hotel (below) answers within the timeout, so its saga stays in flight a while.
    env["PROVIDER_TIMEOUT_SECONDS"] = "20"
    with running_system(tmp_path_factory.mktemp("operator-console"), redis_url, env) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def create_admin(system: RunningSystem, tmp_path: Path) -> str:
    """The operator's command, run against this system's customers database."""
    email = f"ops.{uuid.uuid4().hex[:10]}@example.com"
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD + "\n")
    command = ["create-admin", email, "--password-file", str(password_file)]
    result = subprocess.run(
        [sys.executable, "-m", "services.customers.admin", *command],
        cwd=ROOT,
        env=system.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"created admin {email}" in result.stdout
    return email


def admin_token(system: RunningSystem, email: str) -> str:
    login = system.http.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["accessToken"])


def sign_in_on_page(page: Page, system: RunningSystem, email: str) -> None:
    page.goto(system.gateway_url + "/")
    form = page.locator("#login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My trips")).to_be_visible()


def flag_stuck(system: RunningSystem, session_id: str, saga_id: str) -> None:
    """What the stuck-saga watcher writes: a flagged_stuck record in the saga's history, and a notice."""
    keys = BusKeys(system.env["TRAVEL_NAMESPACE"])
    client = redis.Redis.from_url(system.env["REDIS_URL"], decode_responses=True)
    try:
        fields = history_fields(event=HistoryEvent.FLAGGED_STUCK, at=time.time(), detail="no progress")
        history = keys.saga_history(keys.partition_of(session_id), saga_id)
        client.xadd(history, dict(zip(fields[::2], fields[1::2], strict=True)))
        client.publish(keys.session_changes(session_id), "flagged")
    finally:
        client.close()


def paid_trip_waiting(system: RunningSystem) -> tuple[Customer, str, str]:
    """A customer's session holding a hotel and a round trip, checked out: (customer, session, payment)."""
    customer = Customer.signed_up(system)
    session_id = customer.full_session()
    return customer, session_id, customer.checkout(session_id)["payment"]["id"]


def test_admin_replays_a_dead_letter_from_the_console(
    page: Page, system: RunningSystem, tmp_path: Path
) -> None:
    email = create_admin(system, tmp_path)
    sign_in_on_page(page, system, email)
    page.get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", name="Operator console")).to_be_visible()
    expect(page.locator("#ops-live")).to_have_text("live")
    expect(page.locator("#ops-lag [data-participant='hotel']")).to_be_visible()

    customer, session_id, payment_id = paid_trip_waiting(system)
    _, running_id, running_payment_id = paid_trip_waiting(system)
    entry = page.locator(f"#ops-attention [data-session='{session_id}']")
    running = page.locator(f"#ops-sagas [data-saga='confirm-{running_id}']")
    try:
        # The hotel provider is down: the confirm step runs out of retries and is dead-lettered.
        set_chaos(system, {"failureRate": 1.0}, kinds=("hotel",))
        pay_on_page(system, payment_id)
        stuck = customer.wait_state(session_id, {"STATE_NEEDS_ATTENTION", "STATE_CONFIRMED"}, timeout=90)
        assert stuck["state"] == "STATE_NEEDS_ATTENTION"
        expect(entry).to_contain_text("Needs attention", timeout=SAGA_TIMEOUT_MS)
        expect(entry.locator(".dead-letter")).to_contain_text("Confirm hotel stay")
        expect(page.locator("#ops-counts [data-state='STATE_NEEDS_ATTENTION'] .count")).not_to_have_text("0")
        # Back up but slow: another trip's confirmation shows among the sagas in flight meanwhile,
        # flagged once the watcher says so.
        set_chaos(system, {"failureRate": 0.0, "latencyMs": 8000}, kinds=("hotel",))
        pay_on_page(system, running_payment_id)
        expect(running).to_contain_text("Confirm hotel stay", timeout=SAGA_TIMEOUT_MS)
        flag_stuck(system, running_id, f"confirm-{running_id}")
        expect(running).to_contain_text("stuck")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        set_chaos(system, {"failureRate": 0.0, "latencyMs": 0}, kinds=("hotel",))
    expect(running).to_have_count(0, timeout=SAGA_TIMEOUT_MS)

    letter_id = entry.locator(".dead-letter").get_attribute("data-entry")
    entry.get_by_role("button", name="Replay").click()
    expect(page.locator("#ops-replayed")).to_contain_text(session_id)
    # Live: the session leaves the attention list once the replayed saga confirms it.
    expect(entry).to_have_count(0, timeout=SAGA_TIMEOUT_MS)
    # The replay is recorded, with the admin who did it.
    action = page.locator(f"#ops-actions [data-entry='{letter_id}']")
    expect(action).to_contain_text("Replayed", timeout=SAGA_TIMEOUT_MS)
    expect(action).to_contain_text("via console")
    assert customer.wait_state(session_id, {"STATE_CONFIRMED"}, timeout=30)["state"] == "STATE_CONFIRMED"
    search = page.locator("#ops-search")
    search.get_by_label("Find a session").fill(session_id)
    search.get_by_role("button", name="Search").click()
    expect(page.locator(f"#ops-found [data-session='{session_id}']")).to_contain_text("Confirmed")
    search.get_by_label("Find a session").fill("nobody@example.com")
    search.get_by_role("button", name="Search").click()
    expect(search).to_contain_text("no customer has the email")


def test_admin_routes_name_bad_input(system: RunningSystem, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {admin_token(system, create_admin(system, tmp_path))}"}
    http = system.http
    assert http.get("/v1/operations/overview", headers=headers).status_code == 200
    bad_id = http.post("/v1/operations/dead-letters/not-an-id:replay", json={}, headers=headers)
    assert bad_id.status_code == 400, bad_id.text
    assert "entry_id" in bad_id.text or "entryId" in bad_id.text
    unknown = http.post("/v1/operations/dead-letters/p0-1-0:replay", json={}, headers=headers)
    assert unknown.status_code == 404, unknown.text
    assert "dead letter p0-1-0 not found" in unknown.json()["message"]
    missing = http.get(f"/v1/operations/sessions/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404, missing.text
    assert http.get("/v1/operations/sessions/nope", headers=headers).status_code == 400
    assert http.get("/v1/customers:find?email=nobody@example.com", headers=headers).status_code == 404
    paths = http.get("/openapi.json").json()["paths"]
    operations = sorted(path for path in paths if path.startswith("/v1/operations/"))
    assert len(operations) == 9, operations
    assert http.get("/v1/operations/actions", headers=headers).status_code == 200


def test_customer_gets_no_console(page: Page, system: RunningSystem) -> None:
    customer = Customer.signed_up(system)
    for method, path in [
        ("GET", "/v1/operations/overview"),
        ("GET", "/v1/operations/bus-lag"),
        ("GET", "/v1/operations/sagas"),
        ("GET", "/v1/operations/actions"),
        ("POST", "/v1/operations/dead-letters/p0-1-0:replay"),
        ("GET", "/v1/customers:find?email=a@example.com"),
    ]:
        response = customer.call(method, path, {} if method == "POST" else None)
        assert response.status_code == 403, f"{method} {path}: {response.status_code} {response.text}"
        assert "admin role" in response.json()["message"]
    stream = system.http.get(f"/v1/operations/overview:stream?access_token={customer.token}")
    assert stream.status_code == 403, stream.text
    assert system.http.get("/v1/operations/overview").status_code == 401

    email = f"web.{uuid.uuid4().hex[:10]}@example.com"
    page.goto(system.gateway_url + "/")
    form = page.locator("#register-form")
    form.get_by_label("Name").fill("Not An Admin")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="My trips")).to_be_visible()
    expect(page.get_by_role("link", name="Operations")).to_be_hidden()
    page.goto(system.gateway_url + "/#/ops")
    expect(page.locator("#ops-denied")).to_have_text("Not allowed: the operator console is for admins only.")
    expect(page.locator("#ops-console")).to_be_hidden()


def test_schemathesis_finds_nothing_on_the_admin_routes(system: RunningSystem, tmp_path: Path) -> None:
    """With an admin's token the admin routes are exercised past the role check: no 500, no 400
    for a request the published contract allows."""
    token = admin_token(system, create_admin(system, tmp_path))
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        f"--config-file={ROOT / 'tests' / 'e2e' / 'schemathesis.toml'}",
        "run",
        f"{system.gateway_url}/openapi.json",
        "--checks=all",
        "--max-examples=25",
        "--generation-deterministic",
        "--workers=1",
        "--request-timeout=20",
        "--no-color",
        "--include-path-regex=^/v1/(tools/|customers:find)",
        f"--header=Authorization: Bearer {token}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-30000:] + result.stderr[-5000:]
    assert "Authentication failed" not in result.stdout
