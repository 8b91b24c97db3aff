"""A loopback TCP proxy that cuts connections where a test tells it to."""

from __future__ import annotations

import contextlib
import socket
import threading


class FaultyProxy:
    """Forward 127.0.0.1:port to an upstream port; optionally cut one connection.

    `cut("request", n)`: pass n bytes of the request on, then drop both sides
    (the hub never gets the whole batch). `cut("response", n)`: pass the whole
    request, then only n bytes of the answer (the hub has committed, the
    field never hears so).
    """

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.fault: tuple[str, int] | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self, direction: str, after: int) -> None:
        with self._lock:
            self.fault = (direction, after)

    def _take_fault(self):
        with self._lock:
            fault, self.fault = self.fault, None
        return fault

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        fault = self._take_fault()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        except OSError:
            client.close()
            return
        limits = {"request": None, "response": None}
        if fault:
            limits[fault[0]] = fault[1]
        done = threading.Event()
        threading.Thread(
            target=self._pipe, args=(client, upstream, limits["request"], done), daemon=True
        ).start()
        self._pipe(upstream, client, limits["response"], done)
        done.wait(30)
        for s in (client, upstream):
            with contextlib.suppress(OSError):
                s.close()

    @staticmethod
    def _pipe(source, target, limit, done) -> None:
        passed = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and passed + len(data) >= limit:
                    target.sendall(data[: max(0, limit - passed)])
                    break
                target.sendall(data)
                passed += len(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            done.set()

    def close(self) -> None:
        self.listener.close()
