"""What keeps `serve` safe on a network: body size and pace limits, a header timeout against
slow-loris sockets, and the loopback test behind the DNS-rebinding guard."""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

HEADER_TIMEOUT_S = 10.0  # a request's line and headers must arrive within this
BODY_TIMEOUT_S = 30.0  # and each piece of its body within this
BODY_TOTAL_S = 60.0  # and the whole body within this (10 MB at 170 KB/s)
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
    than a piece per `timeout` seconds, or takes more than `total` seconds in all."""

    def __init__(
        self, app, limit: int, timeout: float = BODY_TIMEOUT_S, total: float = BODY_TOTAL_S
    ) -> None:
        self.app, self.limit, self.timeout, self.total = app, limit, timeout, total

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
        deadline = asyncio.get_running_loop().time() + self.total

        async def counted():
            nonlocal received, complete
            if complete:  # e.g. a streaming response listening for the client to leave
                return await receive()
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.timeout, left)))
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


def header_timeout_protocol(seconds: float, max_connections: int | None = None):
    """uvicorn's HTTP protocol with two guards against slow-loris sockets:

    - every request's line and headers must be in within `seconds` of the connection opening or
      of the previous response (a kept-alive connection trickling a byte now and then is closed:
      uvicorn's keep-alive timer restarts on every byte);
    - at `max_connections` (below the file-descriptor limit), a new connection closes the one
      that has waited longest for its headers, so a new client is answered while a thousand
      slow ones are open."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if max_connections and len(self.connections) > max_connections:
                self.evict_slowest()
            self.header_timer = None
            self.expect_headers()

        def expect_headers(self) -> None:
            """Start the clock for the next request's headers."""
            if self.header_timer is not None:
                self.header_timer.cancel()
            self.waiting_since = self.loop.time()
            self.cycle_before = self.cycle  # a new request makes a new cycle
            self.header_timer = self.loop.call_later(seconds, self.headers_late)

        @property
        def awaiting_headers(self) -> bool:
            return self.cycle is self.cycle_before

        def headers_late(self) -> None:
            if self.awaiting_headers:
                self.transport.close()

        def evict_slowest(self) -> None:
            waiting = [
                c
                for c in self.connections
                if c is not self and getattr(c, "header_timer", None) and c.awaiting_headers
            ]
            if waiting:
                min(waiting, key=lambda c: c.waiting_since).transport.close()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self.expect_headers()
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def connection_cap() -> int:
    """Connections serve keeps open at most: its file-descriptor limit (1024 on Raspberry Pi OS),
    less room for the model, the camera and the files it writes."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, soft - 100) if soft != resource.RLIM_INFINITY else 10_000


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


class SameOriginWrites:
    """ASGI middleware: no cross-site writes, whatever address serve listens on. A request that
    changes state (POST, PUT, PATCH, DELETE) is refused (403) when a browser says it comes from
    another site: `Sec-Fetch-Site: cross-site`, or an Origin (else a Referer) that is not the
    page's own, unless it carries the right token. A plain HTML form on any page the user opens
    could otherwise add classes, capture and retrain the live model. Clients that are no browser
    (curl, scripts) send none of these headers, and cannot be made to by a web page."""

    def __init__(self, app, token: str | None = None, local_names: set[str] = LOCAL_NAMES) -> None:
        self.app, self.token, self.local_names = app, token, local_names

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in WRITES and not self._allowed(scope):
            return await error(403, "cross-origin request refused")(scope, receive, send)
        return await self.app(scope, receive, send)

    def _allowed(self, scope) -> bool:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.token and has_token(headers, scope.get("query_string", b""), self.token):
            return True
        if headers.get("sec-fetch-site") == "cross-site":
            return False
        origin = headers.get("origin") or origin_of(headers.get("referer"))
        if origin is None:
            return True  # no browser said where it came from
        return self.same_origin(origin, headers.get("host", ""))

    def same_origin(self, origin: str, host: str) -> bool:
        """The page's own origin: the host and port the request was sent to; on loopback any
        local name for it (`localhost:8000` for `127.0.0.1:8000`)."""
        from urllib.parse import urlsplit

        try:
            asked, came = urlsplit(f"//{host}"), urlsplit(origin)
            if came.scheme not in ("http", "https") or not came.hostname:
                return False  # "null": a sandboxed frame, a file, a data: URL
            if came.netloc.lower() == host.lower():
                return True
            local = {asked.hostname, came.hostname} <= self.local_names
            return local and asked.port == came.port
        except ValueError:  # a malformed header
            return False


def origin_of(referer: str | None) -> str | None:
    """The origin part (scheme://host:port) of a Referer, or None."""
    from urllib.parse import urlsplit

    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "null"
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "null"


def has_token(headers: dict, query: bytes, token: str) -> bool:
    """The bearer token in the Authorization header, or `?token=`, compared in constant time."""
    import secrets
    from urllib.parse import parse_qs

    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:]
    else:
        given = parse_qs(query.decode("latin-1")).get("token", [""])[0]
    return secrets.compare_digest(given.encode(), token.encode())


OPEN_PATHS = {"/healthz"}


class TokenGuard:
    """ASGI middleware: with a token, every route but the probes needs it, as `Authorization:
    Bearer TOKEN` or `?token=` (the page carries it in its own URL)."""

    def __init__(self, app, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.token and scope["path"] not in OPEN_PATHS:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if not has_token(headers, scope.get("query_string", b""), self.token):
                response = error(401, "missing or wrong token")
                response.headers["WWW-Authenticate"] = "Bearer"
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


async def http_error(request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors (404, 405, 413...) in serve's `{"error": ...}` shape."""
    response = error(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


async def invalid_request(request, exc) -> JSONResponse:
    """A bad parameter (`?frame=x`): the first problem, in one line."""
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return error(422, f"{where}: {first.get('msg', 'invalid request')}")
