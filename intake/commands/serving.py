"""How `intake serve` serves: waitress with a deadline on every request, and a TLS front.

Threat: a client that sends its request slowly (a byte every few seconds)
must not hold what other people need. waitress reads every request in its
asynchronous loop and gives a worker thread only a complete one, so slow
clients cost a connection, never a thread; here each request also gets a
deadline, after which its connection is closed.

HTTPS goes through the same waitress. A small asyncio front (a thread of
the same process) does the TLS handshake, under its own deadline and a cap
on connections, and relays the bytes to waitress over a Unix socket in a
private folder. waitress on that socket tells the app `wsgi.url_scheme` is
https, so cookies are Secure and CSRF checks the Referer as on any HTTPS
site. The certificate is the instance's own, so pinned fingerprints
(`intake enroll --fingerprint`) keep matching. (cheroot, used before, gave
each connection a worker thread that blocked on a slow body: six slow
clients froze a hub.)
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from pathlib import Path

import waitress
from waitress.channel import HTTPChannel

# A request's head and body must arrive within this many seconds (the
# `request_timeout_seconds` setting), plus one second per MIN_BODY_RATE bytes
# of declared body, so that a large batch on a slow link still gets through.
REQUEST_SECONDS = 30
MIN_BODY_RATE = 16 * 1024  # bytes a second: a poor 2G link
IDLE_SECONDS = 30  # a kept-alive connection with no request is closed after this
HANDSHAKE_SECONDS = 10
MAX_CONNECTIONS = 200  # open connections; beyond this a new one is closed at once
# Bodies up to this size stay in memory: waitress writes larger ones to a
# temporary file, and a form's answers (at most 1 MiB on a field node) must
# never be in a file in the clear. Only a hub's batches, sealed, are larger.
IN_MEMORY_BODY = 1024 * 1024 + 64 * 1024
# Responses too: waitress spills an answer's output buffer past `outbuf_overflow`
# (1 MiB by default) to a temporary file, and a workspace's case page or export
# is answers in the clear. The app is paused at waitress's high watermark
# (16 MiB) until the client reads, so a buffer never grows near this bound.
IN_MEMORY_RESPONSE = 256 * 1024 * 1024


class DeadlineChannel(HTTPChannel):
    """A waitress connection that is closed when a request takes too long to arrive."""

    request_seconds: float = REQUEST_SECONDS
    request_began: float | None = None

    def received(self, data):
        if self.request is None and data:
            self.request_began = time.monotonic()
        result = super().received(data)
        if self.request is None:
            self.request_began = None  # complete: the app has it, no deadline now
        return result

    def overdue(self, now: float) -> bool:
        """Tell whether the request being received has run past its deadline."""
        if self.request_began is None or self.request is None:
            return False
        allowed = self.request_seconds + self.request.content_length / MIN_BODY_RATE
        return now - self.request_began > allowed

    def writable(self):
        # waitress's loop asks every connection this at least once a second.
        if not self.will_close and self.overdue(time.monotonic()):
            self.will_close = True
        return super().writable()


def create_server(app, request_seconds: float, **options):
    """Return a waitress server whose requests each have a deadline."""
    channel = type("Channel", (DeadlineChannel,), {"request_seconds": request_seconds})
    server = waitress.create_server(
        app,
        channel_timeout=IDLE_SECONDS,
        cleanup_interval=min(IDLE_SECONDS, 10),
        connection_limit=MAX_CONNECTIONS + 50,
        max_request_body_size=app.config.get("MAX_CONTENT_LENGTH") or 1024**3,
        inbuf_overflow=IN_MEMORY_BODY,
        outbuf_overflow=IN_MEMORY_RESPONSE,
        **options,
    )
    server.channel_class = channel
    return server


class TLSFront:
    """Terminate TLS in a thread and relay each connection to waitress's Unix socket."""

    def __init__(self, context: ssl.SSLContext, upstream: Path):
        self.context = context
        self.upstream = str(upstream)
        self.active = 0
        self.port = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, host: str, port: int) -> int:
        """Listen on host:port in a background thread; return the port bound."""
        thread = threading.Thread(
            target=asyncio.run, args=(self._main(host, port),), name="intake-tls", daemon=True
        )
        thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.port

    async def _main(self, host: str, port: int) -> None:
        try:
            server = await asyncio.start_server(
                self._connection,
                host,
                port,
                ssl=self.context,
                ssl_handshake_timeout=HANDSHAKE_SECONDS,
            )
        except OSError as e:
            self._error = e
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader, writer) -> None:
        if self.active >= MAX_CONNECTIONS:
            writer.close()
            return
        self.active += 1
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.upstream), HANDSHAKE_SECONDS
            )
        except (TimeoutError, OSError):
            self.active -= 1
            writer.close()
            return
        try:
            await _relay(reader, writer, up_reader, up_writer)
        finally:
            self.active -= 1
            for w in (writer, up_writer):
                w.close()


async def _relay(reader, writer, up_reader, up_writer) -> None:
    """Copy both ways until waitress closes (its deadlines end every request) or the client goes."""
    to_app = asyncio.create_task(_pump(reader, up_writer))
    to_client = asyncio.create_task(_pump(up_reader, writer))
    try:
        done, _ = await asyncio.wait({to_app, to_client}, return_when=asyncio.FIRST_COMPLETED)
        if to_client not in done:
            # The client sent all it will: let waitress finish its answer.
            with contextlib.suppress(OSError):
                up_writer.write_eof()
            await asyncio.wait({to_client}, timeout=IDLE_SECONDS)
    finally:
        for task in (to_app, to_client):
            task.cancel()


async def _pump(source, destination) -> None:
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.IncompleteReadError):
        while data := await source.read(64 * 1024):
            destination.write(data)
            await destination.drain()


def tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """Return a server TLS context (TLS 1.2 or later) with the instance's certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certificate), str(key))
    return context
