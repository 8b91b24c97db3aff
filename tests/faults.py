"""A loopback HTTP proxy between field and hub that breaks one exchange where a test says.

Each connection carries one exchange (the field opens a connection per
batch). The proxy reads the whole request from the field first, and the
whole answer from the hub before passing any of it on, so it knows both
lengths: a cut always falls INSIDE the bytes that exist, and a fault "after
commit" is applied only once the hub has answered (it answers after its
transaction has committed).

Fault kinds, by where they strike:

- before the hub can commit: `cut-request` (pass n < len(request) bytes on,
  then drop both sides), `kill-hub-mid-request`, `kill-field-mid-request`
  (the same, then SIGKILL the hub or the field);
- racing the hub's commit: `kill-hub-after-request` (the whole request, then
  SIGKILL the hub after a short random delay; the test tells from the hub's
  database which side of its commit it fell);
- between the hub's commit and the field's acknowledgement: `cut-response`
  (pass n < len(answer) bytes back), `kill-hub-after-commit`,
  `kill-field-after-commit` (SIGKILL the field with the answer in hand);
- racing the field's acknowledgement: `kill-field-after-answer` (the whole
  answer, then SIGKILL the field after a short random delay).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BEFORE_COMMIT = ("cut-request", "kill-hub-mid-request", "kill-field-mid-request")
AFTER_COMMIT = ("cut-response", "kill-hub-after-commit", "kill-field-after-commit")
RACING = ("kill-hub-after-request", "kill-field-after-answer")
KINDS = BEFORE_COMMIT + AFTER_COMMIT + RACING


@dataclass
class Fault:
    """One fault: its kind, which connection of the armed sync it hits, where it cuts."""

    kind: str
    connection: int = 0
    fraction: float = 0.5  # where to cut, as a fraction of the bytes that exist (< 1)
    delay: float = 0.0  # for the racing kinds: seconds between the last byte and the kill

    @property
    def kills(self) -> str | None:
        return "hub" if "kill-hub" in self.kind else "field" if "kill-field" in self.kind else None


@dataclass
class Exchange:
    """What the proxy saw of one connection, and what it did to it."""

    request: bytes = b""
    response: bytes = b""
    fault: Fault | None = None
    passed: int | None = None  # bytes passed on where a cut fell
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def status(self) -> int | None:
        """The status code of the hub's answer, if the proxy got one."""
        try:
            return int(self.response.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None


def _read_message(sock: socket.socket) -> bytes:
    """Read one HTTP message (head, then Content-Length bytes of body); b"" if cut short."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


def _close(*sockets: socket.socket) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()


class FaultyProxy:
    """Forward 127.0.0.1:port to the hub; break the armed connection as its fault says."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.exchanges: list[Exchange] = []
        self._fault: Fault | None = None
        self._kill: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def arm(self, fault: Fault | None, kill_hub=None, kill_field=None) -> None:
        """Start counting connections afresh; break the fault's one (None: break nothing)."""
        with self._lock:
            self.exchanges = []
            self._fault = fault
            self._kill = {"hub": kill_hub, "field": kill_field}

    def armed_exchange(self, timeout: float = 30) -> Exchange | None:
        """Return the exchange the fault hit, once the proxy is done with it (None: never hit)."""
        with self._lock:
            fault = self._fault
            hit = [e for e in self.exchanges if e.fault is not None and e.fault is fault]
        if not hit:
            return None
        assert hit[0].done.wait(timeout), "the proxy never finished the faulty exchange"
        return hit[0]

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _next(self) -> Exchange:
        with self._lock:
            exchange = Exchange()
            if self._fault is not None and self._fault.connection == len(self.exchanges):
                exchange.fault = self._fault
            self.exchanges.append(exchange)
            return exchange

    def _killer(self, who: str) -> Callable[[], None]:
        with self._lock:
            kill = self._kill.get(who)
        assert kill is not None, f"a fault kills the {who}, but the test gave no way to"
        return kill

    def _handle(self, client: socket.socket) -> None:
        upstream = None
        try:
            request = _read_message(client)
            if not request:
                return
            exchange = self._next()
            exchange.request = request
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
                self._exchange(client, upstream, exchange)
            finally:
                exchange.done.set()
        except OSError:
            pass
        finally:
            _close(client, *([upstream] if upstream else []))

    def _exchange(self, client, upstream, exchange: Exchange) -> None:
        fault, request = exchange.fault, exchange.request
        kind = fault.kind if fault else None
        if kind in BEFORE_COMMIT:
            exchange.passed = int(fault.fraction * len(request))
            upstream.sendall(request[: exchange.passed])
            time.sleep(0.005)  # let the hub read what it was given
            if fault.kills:
                self._killer(fault.kills)()
            return
        upstream.sendall(request)
        if kind == "kill-hub-after-request":
            time.sleep(fault.delay)
            self._killer("hub")()
            return
        exchange.response = _read_message(upstream)
        response = exchange.response
        if kind in AFTER_COMMIT:
            exchange.passed = int(fault.fraction * len(response))
            if kind == "kill-field-after-commit":
                self._killer("field")()
                return
            if kind == "kill-hub-after-commit":
                self._killer("hub")()
            client.sendall(response[: exchange.passed])
            return
        client.sendall(response)
        if kind == "kill-field-after-answer":
            time.sleep(fault.delay)
            self._killer("field")()

    def close(self) -> None:
        self.listener.close()
