"""A private redis-server for one test module: a password, an ACL user, and TLS when asked."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.polling import wait_for
from tests.support.ports import free_port

# URL-reserved characters in the password prove the URL reaches redis-py unchanged, still encoded.
APP_USER = "app"
APP_PASSWORD = f"s3cret:@/{secrets.token_hex(8)}"
DEFAULT_PASSWORD = secrets.token_hex(16)


@dataclass(frozen=True)
class PrivateRedis:
    port: int
    tls: bool

    def url(self, user: str = "", password: str = "") -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if password else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary to start a private Redis with authentication and TLS")
    return binary


@contextmanager
def private_redis(
    folder: Path, tls_dir: Path | None = None, client_certs: bool = False, app_keys: str = "*"
) -> Iterator[PrivateRedis]:
    """The default user needs DEFAULT_PASSWORD; APP_USER (APP_PASSWORD) may touch `app_keys` only.
    With `tls_dir` (ca.pem, redis.pem, redis.key) Redis speaks TLS only, asking for client
    certificates when `client_certs`."""
    port = free_port()
    args = [redis_server_binary(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    log = folder / "redis.log"
    args += ["--dir", str(folder), "--logfile", str(log), "--requirepass", DEFAULT_PASSWORD]
    args += ["--user", APP_USER, "on", f">{APP_PASSWORD}", f"~{app_keys}", "&*", "+@all"]
    if tls_dir is None:
        args += ["--port", str(port)]
    else:
        args += [
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-auth-clients",
            "yes" if client_certs else "no",
        ]
        args += ["--tls-cert-file", str(tls_dir / "redis.pem"), "--tls-key-file", str(tls_dir / "redis.key")]
        args += ["--tls-ca-cert-file", str(tls_dir / "ca.pem")]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:

        def accepts() -> bool:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True

        try:
            wait_for(
                accepts, timeout=10, what=f"redis-server on port {port}", interval=0.02,
                abort_if=lambda: process.poll() is not None and "redis-server exited",
            )  # fmt: skip
        except AssertionError as error:
            process.kill()
            output = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"{error}\n{output[-2000:]}")
        yield PrivateRedis(port, tls=tls_dir is not None)
    finally:
        process.terminate()
        process.wait(timeout=10)
