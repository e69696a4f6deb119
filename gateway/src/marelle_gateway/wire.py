"""The opening queue's submissions to a service, on HTTP/1.1 keep-alive connections of our own.

Why not aiohttp (which the rest of the gateway's calls go through): a submission is one small
JSON POST whose whole answer is relayed, and aiohttp's request and response objects, URL
handling and timers cost 0.27–0.33 ms of CPU per request against 0.04–0.06 for a protocol
and httptools' parser (the same parser uvicorn serves with), measured in one process against
the same stand-in service. At an opening the gateway makes one such call per family.

What it does, and no more: a pool of connections to one `http://` or `https://` base URL; a
request with its headers and body (headers checked: no CR or LF); the answer's status, headers
and body (at most `max_body` bytes) once complete. Connections are reused while the service
keeps them alive and at most `idle_seconds` (below uvicorn's 5 s keep-alive, so the service
rarely closes one as it is taken). A reused connection that fails before any byte of the
answer is replaced once: the service either never saw the request or answers the retry by
the same `Idempotency-Key` (submissions only). Failures are `WireError` or `TimeoutError`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools


class WireError(ConnectionError):
    """The service could not be reached, closed the connection or answered unreadably."""


class Answer(NamedTuple):
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class _Connection(asyncio.Protocol):
    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.received = False  # a byte of the current answer has arrived
        self.usable = True
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nothing asked: a connection in an unknown state, dropped
            self.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(WireError(f"unreadable answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(WireError("connection closed by the service"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._fail(WireError("answer too large"))
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.usable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(self.parser.get_status_code(), self.headers,
                                     b"".join(self.body)))

    def _fail(self, error: Exception) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    async def exchange(self, request: bytes) -> Answer:
        assert self.transport is not None
        if self.transport.is_closing():
            raise WireError("connection closed by the service")
        self.headers, self.body, self.size, self.received = [], [], 0, False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self.waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


class WirePool:
    """Keep-alive connections to one service (`base_url`, `http` or `https`)."""

    def __init__(self, base_url: str, *, limit: int = 128, idle_seconds: float = 4.0,
                 max_body: int = 1 << 20, ssl_context: ssl.SSLContext | None = None) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self.ssl = (ssl_context or ssl.create_default_context()) if url.scheme == "https" else None
        default_port = (url.scheme == "https" and self.port == 443) or self.port == 80
        self.host_header = url.netloc.rpartition("@")[2] if not default_port else self.host
        self.limit, self.idle_seconds, self.max_body = limit, idle_seconds, max_body
        self._idle: list[_Connection] = []

    def _head(self, method: str, path: str, headers: dict[str, str], length: int) -> bytes:
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"host: {self.host_header}",
                 f"content-length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
        if any("\r" in line or "\n" in line for line in lines):
            raise ValueError("CR or LF inside a header or the path")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes, *,
                      connect_timeout: float, read_timeout: float) -> Answer:
        request = self._head(method, path, headers, len(body)) + body
        for _ in range(2):
            connection, reused = await self._take(connect_timeout)
            try:
                async with asyncio.timeout(read_timeout):
                    answer = await connection.exchange(request)
            except WireError:
                connection.close()
                if reused and not connection.received:
                    continue  # closed by the service while idle: once on a new connection
                raise
            except BaseException:
                connection.close()
                raise
            self._give_back(connection)
            return answer
        raise WireError("connection closed by the service")  # pragma: no cover — loop returns

    async def _take(self, connect_timeout: float) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if (connection.usable and now - connection.idle_since < self.idle_seconds
                    and connection.transport is not None
                    and not connection.transport.is_closing()):
                return connection, True
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self.max_body), self.host, self.port, ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None)
        except OSError as exc:
            raise WireError(f"cannot connect: {exc}") from exc
        return connection, False

    def _give_back(self, connection: _Connection) -> None:
        if connection.usable and len(self._idle) < self.limit:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
