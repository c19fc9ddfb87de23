"""What keeps `serve` safe on a network: body size and pace limits, a header timeout against
slow-loris sockets, and the loopback test behind the DNS-rebinding guard."""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

HEADER_TIMEOUT_S = 10.0  # a request's line and headers must arrive within this
BODY_TIMEOUT_S = 30.0  # and each piece of its body within this
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "::1"]


def error(status: int, message: str) -> JSONResponse:
    """Every error the server gives: `{"error": message}`, which the page reads."""
    return JSONResponse({"error": message}, status_code=status)


class UploadTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        # Closing the connection stops the client from sending the rest of the body.
        detail = f"upload larger than {limit / 2**20:.1f} MB"
        super().__init__(413, detail, headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware: refuse a request body over `limit` bytes, by its Content-Length at once,
    or while it streams in (chunked uploads declare no length); and one that trickles in slower
    than a piece per `timeout` seconds."""

    def __init__(self, app, limit: int, timeout: float = BODY_TIMEOUT_S) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length and length.isdigit() and int(length) > self.limit:
            refusal = UploadTooLarge(self.limit)
            response = error(413, str(refusal.detail))
            response.headers.update(refusal.headers)
            return await response(scope, receive, send)
        received, complete = 0, False

        async def counted():
            nonlocal received, complete
            if complete:  # e.g. a streaming response listening for the client to leave
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:  # not TimeoutError before Python 3.11
                raise StarletteHTTPException(408, "request body too slow") from None
            received += len(message.get("body", b""))
            complete = not message.get("more_body", False)
            if received > self.limit:
                raise UploadTooLarge(self.limit)  # FastAPI passes HTTP errors through as they are
            return message

        await self.app(scope, counted, send)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def header_timeout_protocol(seconds: float):
    """uvicorn's HTTP protocol, closing connections whose request headers are not in after
    `seconds`: slow-loris sockets (a byte now and then) must not stay open for ever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self.header_timer = self.loop.call_later(seconds, self.headers_late)

        def headers_late(self) -> None:
            if self.cycle is None:  # no request line and headers yet
                self.transport.close()

        def connection_lost(self, exc) -> None:
            self.header_timer.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol
