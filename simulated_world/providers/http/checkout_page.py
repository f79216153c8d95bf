"""The hosted checkout page: GET shows Pay and Decline buttons, the form POST completes the payment."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kit.database import Connection
from simulated_world.providers.domain.errors import ProviderError
from simulated_world.providers.domain.payments import PayerChoice
from simulated_world.providers.http.runtime import base_url, runtime
from simulated_world.providers.store.idempotency import EffectOutcome

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto}}
button{{font-size:1.1rem;padding:.5rem 1.5rem;margin-right:1rem}}</style></head>
<body><h1>Travel Pay checkout</h1>
<p>Reference <code>{reference}</code></p>
<p><strong>{amount}</strong></p><p>Status: <strong id="status">{status}</strong></p>
{actions}</body></html>"""

_FORM = """<form method="post" action="{action}">
<input type="hidden" name="returnUrl" value="{return_url}">
<button name="outcome" value="succeed">Pay</button>
<button name="outcome" value="decline">Decline</button></form>"""


def _safe_return_url(value: str | None) -> str | None:
    """Only absolute http(s) URLs, so the link cannot carry a script."""
    if not value:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _render(payment: dict[str, object], return_url: str | None, message: str = "") -> str:
    amount = int(str(payment["amount"]))
    pending = payment["status"] == "PENDING"
    if pending:
        actions = _FORM.format(
            action=escape(f"/payments/{payment['id']}/checkout"), return_url=escape(return_url or "")
        )
    else:
        actions = f"<p>{escape(message) or 'This payment is complete.'}</p>"
        if return_url:
            actions += f'<p><a id="return" href="{escape(return_url)}">Return to the shop</a></p>'
    return _PAGE.format(
        reference=escape(str(payment["reference"])),
        amount=escape(f"{amount // 100}.{amount % 100:02d} {payment['currency']}"),
        status=escape(str(payment["status"])),
        actions=actions,
    )


async def show(request: Request) -> Response:
    ctx, payment_id, url = runtime(request), request.path_params["id"], base_url(request)
    payments = ctx.require_payments()
    payment = await ctx.require_database().read(lambda conn: payments.get(conn, payment_id, url))
    return HTMLResponse(_render(payment, _safe_return_url(request.query_params.get("returnUrl"))))


async def submit(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    outcome = PayerChoice.DECLINE if form.get("outcome", [""])[0] == "decline" else PayerChoice.SUCCEED
    return_url = _safe_return_url(form.get("returnUrl", [""])[0])
    ctx, payment_id, url = runtime(request), request.path_params["id"], base_url(request)
    payments = ctx.require_payments()

    def effect(conn: Connection) -> EffectOutcome:
        return payments.pay(conn, payment_id, outcome, url)

    message = "Payment accepted." if outcome is PayerChoice.SUCCEED else "Payment declined."
    try:
        await ctx.require_transactions().run(None, "checkout", "", effect)
    except ProviderError as exc:
        message = exc.message
    if ctx.dispatcher is not None:
        ctx.dispatcher.wake()
    payment = await ctx.require_database().read(lambda conn: payments.get(conn, payment_id, url))
    return HTMLResponse(_render(payment, return_url, message))


CHECKOUT_ROUTES = [
    Route("/payments/{id}/checkout", show, methods=["GET"]),
    Route("/payments/{id}/checkout", submit, methods=["POST"]),
]
