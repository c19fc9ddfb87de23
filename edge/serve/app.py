"""`edgeclf serve`: the live view and a classification API for a headless device (FastAPI)."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import FastAPI, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .. import package_dir
from ..errors import EdgeclfError, InputImageError, ModelError, WriteError
from ..images import BLANK, decode_image, is_blank
from ..live.collect import CollectOptions, Collector
from ..live.learning import Learner
from ..live.service import LiveService
from ..live.stream import LiveOptions
from ..runtime.classifier import Classifier
from ..runtime.prediction import Prediction
from .http_guards import (
    HEADER_TIMEOUT_S,
    LOCAL_HOSTS,
    LOCAL_NAMES,
    BodyLimit,
    SameOriginWrites,
    connection_cap,
    error,
    has_token,
    header_timeout_protocol,
    is_loopback,
)

PAGE = package_dir("edgeclf.edge.serve.static") / "index.html"
BOUNDARY = "frame"
THUMBNAILS = 24  # newest captures shown per class
OPEN_PATHS = {"/healthz"}


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

    `local_only` (loopback without a token) answers only requests addressed to this machine by
    name and refuses cross-origin POSTs, so a web page cannot reach the camera or the API through
    DNS rebinding. `serving_on` (the loopback address it listens on, 127.0.0.2 say) is local too.
    """
    started = time.time()
    one_decode = asyncio.Semaphore(1)

    def current() -> Classifier:
        """The model in use now: a Learn swaps the live one; each request reads it once."""
        return live.clf if live else clf

    learner = (
        Learner(collector.opts.folder, live.swap, keep_classes=collector.opts.keep_classes)
        if live and collector
        else None
    )

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

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        """Swagger UI; a `?token=` it was opened with is passed on to the schema it fetches."""
        given = request.query_params.get("token")
        schema = f"/openapi.json?{urlencode({'token': given})}" if given else "/openapi.json"
        return get_swagger_ui_html(openapi_url=schema, title="edgeclf API")

    # The body is counted as it arrives: an oversize upload is refused before it is spooled.
    app.add_middleware(BodyLimit, limit=max_upload + 64 * 1024)  # + the multipart envelope

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        response = error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return error(422, f"{where}: {first.get('msg', 'invalid request')}")

    app.add_middleware(SameOriginWrites, token=token, local_names=LOCAL_NAMES | {serving_on})
    if local_only:
        own = [serving_on, f"[{serving_on}]"]
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*LOCAL_HOSTS, *own])

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token and request.url.path not in OPEN_PATHS:
            headers = {k.lower(): v for k, v in request.headers.items()}
            if not has_token(headers, request.url.query.encode(), token):
                response = error(401, "missing or wrong token")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return PAGE.read_text().replace("{{LIVE}}", "true" if live else "false")

    @app.get("/healthz")
    async def healthz() -> dict:
        """Liveness probe (never needs the token)."""
        return {"ok": True}

    @app.get("/api/status")
    async def status() -> dict:
        """Model, backend, camera FPS, frame count, uptime and the current prediction."""
        model = current()
        info = {
            "model": model.name,
            "classes": list(model.labels),
            "threshold": live.opts.threshold if live else None,
            "backend": model.backend.name,
            "backend_version": model.backend.version,
            "uptime_s": round(time.time() - started, 1),
            "camera": live.status() if live else None,
        }
        info["fps"] = info["camera"]["fps"] if live else None
        info["frames"] = info["camera"]["frames"] if live else 0
        return info

    @app.post("/classify")
    async def classify_upload(file: UploadFile):
        """Classify an uploaded photo; the same JSON as `edgeclf classify --json`."""
        data = await file.read(max_upload + 1)
        if len(data) > max_upload:
            return error(413, f"upload larger than {max_upload // 2**20} MB")
        if not data:
            return error(400, "empty upload")
        started_at = time.perf_counter()
        try:
            async with one_decode:  # a large upload decodes alone: memory stays bounded
                result = await run_in_threadpool(classify_bytes, current(), data)
        except BlankImage as exc:
            return error(422, str(exc))
        except InputImageError as exc:
            return error(415, str(exc))
        except ModelError as exc:  # a damaged model that loaded but cannot run
            print(f"error: {exc}", file=sys.stderr)  # the details stay on the server
            return error(500, "the model failed on this image")
        result.path = file.filename
        result.ms = round((time.perf_counter() - started_at) * 1000, 2)
        return result.to_dict()

    if live and collector:

        @app.get("/api/collect")
        async def collect_counts() -> dict:
            """The classes being collected and how many images each has."""
            return {"classes": list(collector.classes), "counts": collector.counts}

        @app.post("/api/collect/{label}")
        async def capture(label: str, frame: int | None = None):
            """Save the camera's region under `label` (DIR/<label>/, a new JPEG): of `frame`, the
            one the page shows, while the server still has it; else of the newest frame."""
            if label not in collector.classes:
                return error(
                    404, f"unknown class {label!r}; collecting {', '.join(collector.classes)}"
                )
            try:
                saved = await run_in_threadpool(live.capture, collector, label, frame)
            except WriteError as exc:  # disk full, folder removed: say so, keep serving
                return error(507, str(exc).replace(str(collector.opts.folder), "DIR"))
            except EdgeclfError as exc:
                return error(409, str(exc))
            return {
                "saved": f"{label}/{saved.name}",
                "counts": collector.counts,
                "same_as_last": collector.same_as_last,  # a burst of one garment held still
            }

        @app.post("/api/classes/{label}")
        async def add_class(label: str):
            """Collect a new class too (its folder is made at its first capture)."""
            try:
                collector.add(label)
            except EdgeclfError as exc:
                return error(400, str(exc))
            return {"classes": list(collector.classes), "counts": collector.counts}

        @app.get("/api/collect/{label}/images")
        async def captured(label: str):
            """The newest images captured under `label`, newest first (names for thumbnails)."""
            try:
                return {"images": [p.name for p in collector.images(label)[:THUMBNAILS]]}
            except EdgeclfError as exc:
                return error(404, str(exc))

        @app.get("/api/collect/{label}/images/{name}")
        async def captured_image(label: str, name: str):
            try:
                path = collector.image(label, name)
            except EdgeclfError as exc:
                return error(404, str(exc))
            return FileResponse(path, media_type="image/jpeg")

        @app.delete("/api/collect/{label}/images/{name}")
        async def delete_image(label: str, name: str):
            """Remove one captured image (a blurred or wrong one) before learning."""
            try:
                collector.delete(label, name)
            except EdgeclfError as exc:
                return error(404, str(exc))
            return {"counts": collector.counts}

        @app.post("/api/learn", status_code=202)
        async def learn():
            """Teach a new model from the collected classes, in the background, then swap it in."""
            try:
                learner.start()
            except EdgeclfError as exc:
                return error(409, str(exc))
            return learner.status()

        @app.get("/api/learn")
        async def learning() -> dict:
            """Progress, then the per-class result (or the error) of the last Learn."""
            return learner.status()

    if live:

        @app.get("/stream.mjpg")
        async def stream(overlay: bool = True) -> StreamingResponse:
            """The annotated camera view as an MJPEG stream (shared by all viewers);
            `?overlay=0`: the bare frames, for a page that draws the overlay itself."""
            return StreamingResponse(
                mjpeg(live, clean=not overlay),
                media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            )

    return app


class BlankImage(InputImageError):
    """Nothing to classify: `classify` reports the same."""


def classify_bytes(clf: Classifier, data: bytes) -> Prediction:
    image = decode_image(data)
    if is_blank(image):
        raise BlankImage(BLANK)
    return clf.classify(clf.view(image))


async def mjpeg(live: LiveService, clean: bool = False):
    seen = 0
    live.clean_viewers += clean
    try:
        while True:
            sequence, jpeg = await run_in_threadpool(live.wait_frame, seen, 0.5, clean)
            if sequence == seen or jpeg is None:
                if not live.running:
                    return
                await asyncio.sleep(0.01)
                continue
            seen = sequence
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            )
            yield head.encode() + jpeg + b"\r\n"
    finally:
        live.clean_viewers -= clean


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
) -> None:
    """Probe the camera, lock the door (off loopback, a made-up token unless `no_token`), and
    run the server until Ctrl-C or SIGTERM."""

    import uvicorn

    from ..live.capture import open_source

    collector = Collector(collect) if collect else None  # checks DIR before the camera opens
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
    ClosingServer(config, live).run(sockets=[sock])


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
