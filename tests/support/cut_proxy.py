"""A TCP proxy on loopback that can swallow a server's answers and then cut every connection through it.

What a network failure after a request reached the server looks like to a client: the server did
the work and answered, the answer never arrived, the connection died (UNAVAILABLE).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class CutProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._swallowing = threading.Event()
        self._lock = threading.Lock()
        self._live: list[socket.socket] = []
        self._swallowed = bytearray()
        threading.Thread(target=self._accept, daemon=True).start()

    def swallow_answers(self) -> None:
        """From now on, bytes from the server are read and dropped; requests still go through."""
        self._swallowing.set()

    @property
    def swallowed(self) -> int:
        """How many bytes of answers were dropped."""
        return len(self._swallowed)

    def has_swallowed(self, marker: bytes) -> bool:
        """Whether the dropped answers held `marker`: a field the server's answer carries uncompressed."""
        with self._lock:
            return marker in self._swallowed

    def cut(self) -> None:
        """Reset every connection through the proxy; later connections pass through normally."""
        with self._lock:
            live, self._live = self._live, []
            self._swallowing.clear()
        for sock in live:
            # SO_LINGER 0: the peer gets a reset, as from a dead link; the shutdown wakes the
            # pump blocked reading it, which would otherwise keep the socket open.
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._live += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self._swallowing.is_set():
                    with self._lock:
                        self._swallowed += data
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def cut_proxy(target: str) -> Iterator[CutProxy]:
    host, port = target.rsplit(":", 1)
    proxy = CutProxy((host, int(port)))
    try:
        yield proxy
    finally:
        proxy.close()
