"""Who may use the providers' /admin routes: the holder of PROVIDER_ADMIN_TOKEN, and where: its own port."""

from __future__ import annotations

import hmac
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from kit.secret_files import read_file
from kit.settings import ConfigError, Env, Mode
from kit.shared_settings import PROVIDER_ADMIN_TOKEN, PROVIDER_ADMIN_TOKEN_FILE
from kit.webhook_secret import MIN_BYTES, guessable_reason

ADMIN_PREFIX = "/admin"


def admin_token(env: Env) -> str | None:
    """PROVIDER_ADMIN_TOKEN[_FILE]: required and unguessable in production; in development, when
    unset, the admin routes stay open (tests and operations tools drive the chaos through them)."""
    inline = PROVIDER_ADMIN_TOKEN.optional(env)
    path = PROVIDER_ADMIN_TOKEN_FILE.optional(env)
    if inline is not None and path is not None:
        raise ConfigError("set PROVIDER_ADMIN_TOKEN or PROVIDER_ADMIN_TOKEN_FILE, not both")
    token, setting = inline, "PROVIDER_ADMIN_TOKEN"
    if path is not None:
        token = read_file(Path(path), "PROVIDER_ADMIN_TOKEN_FILE").decode(errors="replace").strip() or None
        setting = "PROVIDER_ADMIN_TOKEN_FILE"
    if env.mode() is Mode.PRODUCTION:
        if token is None:
            raise ConfigError("PROVIDER_ADMIN_TOKEN (or PROVIDER_ADMIN_TOKEN_FILE) is required in production")
        reason = guessable_reason(token)
        if reason is not None:
            raise ConfigError(
                f"{setting} {reason}; production needs a random token of at least {MIN_BYTES} bytes"
            )
    return token


def admits(token: str | None, authorization: str | None) -> bool:
    """Whether an Authorization header carries the admin token; compared in constant time."""
    if token is None:
        return True
    scheme, _, presented = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


class AdminPortOnly:
    """With an admin port configured, /admin/* exists only there, so publishing the main port (the
    hosted checkout page) does not publish the operator routes."""

    def __init__(self, app: ASGIApp, admin_port: int | None) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.admin_port is not None
            and scope["type"] == "http"
            and scope["path"].startswith(ADMIN_PREFIX)
            and (scope.get("server") or ("", None))[1] != self.admin_port
        ):
            body = b'{"error":"NOT_FOUND","message":"Not Found"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
