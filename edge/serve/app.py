"""`edgeclf serve`: the live view and a classification API for a headless device (FastAPI).

The routes live by area (`api_classify`, `api_collect`, `api_stream`), share one `ServeState`,
and sit behind the guards in `http_guards`; this module wires them together and runs the server.
"""

from __future__ import annotations

import secrets
import sys
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import EdgeclfError
from ..fleet.device import FleetOptions
from ..live.collect import CollectOptions, Collector
from ..live.service import LiveService
from ..live.stream import LiveOptions
from ..runtime.classifier import Classifier
from . import api_classify, api_collect, api_stream
from .http_guards import (
    HEADER_TIMEOUT_S,
    LOCAL_HOSTS,
    LOCAL_NAMES,
    BodyLimit,
    SameOriginWrites,
    TokenGuard,
    connection_cap,
    header_timeout_protocol,
    http_error,
    invalid_request,
    is_loopback,
)
from .state import ServeState


def create_app(
    clf: Classifier,
    live: LiveService | None,
    token: str | None = None,
    max_upload: int = 10 * 2**20,
    local_only: bool = False,
    collector: Collector | None = None,
    serving_on: str = "127.0.0.1",
) -> FastAPI:
    """The app; `live` is None without a camera (`--source none`): upload API and page only.
    With a `collector`, the page's capture buttons save the camera's region under a class.

    The guards, outermost first: the token; on loopback without one (`local_only`), only
    requests addressed to this machine by name (no DNS rebinding; `serving_on`, 127.0.0.2 say, is
    local too); no cross-site writes, whatever the address; bodies counted as they arrive."""
    state = ServeState(clf, live, collector, max_upload)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if live:
            live.start()
        try:
            yield
        finally:
            if live:
                live.stop()  # releases the camera

    app = FastAPI(
        title="edgeclf",
        summary="Garment classification on the edge",
        lifespan=lifespan,
        docs_url=None,
    )
    app.state.serve = state
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_middleware(BodyLimit, limit=max_upload + 64 * 1024)  # + the multipart envelope
    app.add_middleware(SameOriginWrites, token=token, local_names=LOCAL_NAMES | {serving_on})
    if local_only:
        own = [serving_on, f"[{serving_on}]"]
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*LOCAL_HOSTS, *own])
    app.add_middleware(TokenGuard, token=token)
    app.include_router(api_classify.router)
    if live and collector:
        app.include_router(api_collect.router)
    if live:
        app.include_router(api_stream.router)
    return app


def bind(host: str, port: int):
    """The listening socket, bound now: uvicorn would log a port in use after our URL line."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EdgeclfError(
                f"port {port} on {host} is in use (another edgeclf serve?): pick another with --port"
            ) from None
        raise EdgeclfError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def lan_address() -> str:
    """This machine's address on its network, for a phone to open: the interface a packet to a
    private address would leave by (connecting a UDP socket sends nothing)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:  # no network at all
            return "127.0.0.1"


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    clf: Classifier,
    live_opts: LiveOptions | None,
    host: str,
    port: int,
    token: str | None,
    max_upload: int,
    collect: CollectOptions | None = None,
    no_token: bool = False,
    fleet: FleetOptions | None = None,
) -> None:
    """Probe the camera, lock the door (off loopback, a made-up token unless `no_token`), and
    run the server until Ctrl-C or SIGTERM."""

    import uvicorn

    from ..live.capture import open_source

    collector = Collector(collect, clf.labels) if collect else None  # DIR checked before the camera
    sock = bind(host, port)  # a port in use is one line, before the camera or any URL
    port = sock.getsockname()[1]
    live = None
    if live_opts:
        # Open the camera once, now: a missing one fails here, clearly, not in a viewer's browser.
        source = open_source(live_opts.source, live_opts.width, live_opts.height, live_opts.fps)
        live = LiveService(clf, live_opts, source)
    made_up = not is_loopback(host) and not token and not no_token
    if made_up:  # as Jupyter does: the printed URL carries it, and nobody else knows it
        token = secrets.token_urlsafe(16)
        print(
            f"note: listening on {host} without --token: made one up, which the URL below "
            "carries (--no-token turns this off)",
            file=sys.stderr,
        )
    if not is_loopback(host) and not token:
        print(
            f"warning: listening on {host} with --no-token: anyone on the network can use the "
            "camera, capture and retrain the model",
            file=sys.stderr,
        )
    local_only = is_loopback(host) and not token
    app = create_app(clf, live, token, max_upload, local_only, collector, host)
    ClosingServer = _closing_server_class()
    print_urls(host, port, token if made_up else None, bool(token))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        http=header_timeout_protocol(HEADER_TIMEOUT_S, connection_cap()),
    )
    link = None
    if fleet and live:
        from .. import __version__
        from ..fleet.device import frame_publisher, start_link

        link = start_link(fleet, live, __version__)
        live.listeners.append(frame_publisher(link, live))
    try:
        ClosingServer(config, live).run(sockets=[sock])
    finally:
        if link:
            link.stop()


def print_urls(host: str, port: int, made_up: str | None, needs_token: bool) -> None:
    """Where to open the page: with a made-up token, the URL that carries it, and a QR code of
    the network URL for a phone; with the user's own token, a hint (it is never echoed)."""
    query = f"?{urlencode({'token': made_up})}" if made_up else ""
    hint = " (add ?token=YOUR_TOKEN in a browser)" if needs_token and not made_up else ""
    print(f"edgeclf serve: {url(host, port)}{query}{hint}", file=sys.stderr)
    if host in ("0.0.0.0", "::"):
        network = f"{url(lan_address(), port)}{query}"
        print(f"  on this network: {network}", file=sys.stderr)
        if made_up:
            print(qr_code(network), file=sys.stderr)


def qr_code(text: str) -> str:
    """`text` as a QR code drawn with block characters, for a phone's camera (empty where the
    QR library is missing: the URL above is enough)."""
    import io

    try:
        import segno
    except ImportError:
        return ""
    out = io.StringIO()
    segno.make(text, error="l").terminal(out=out, compact=True)
    return out.getvalue()


def _closing_server_class():
    import uvicorn

    class ClosingServer(uvicorn.Server):
        """On Ctrl-C or SIGTERM, first end the camera stream, so that the viewers' endless MJPEG
        responses finish and the graceful shutdown does not wait on them."""

        def __init__(self, config, live: LiveService | None) -> None:
            super().__init__(config)
            self.live = live

        def handle_exit(self, sig, frame) -> None:
            if self.live:
                self.live.live.stop()  # a flag: the stream thread ends within a frame
            super().handle_exit(sig, frame)

    return ClosingServer
