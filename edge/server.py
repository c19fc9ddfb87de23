"""`edgeclf serve`: the live view and a classification API for a headless device (FastAPI)."""

from __future__ import annotations

import asyncio
import secrets
import time
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from .classifier import Classifier
from .errors import InputImageError
from .images import decode_image
from .live import LiveService
from .prediction import Prediction
from .stream import LiveOptions

PAGE = files("edgeclf.edge") / "static" / "index.html"
BOUNDARY = "frame"
OPEN_PATHS = {"/healthz"}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    clf: Classifier,
    live: LiveService | None,
    token: str | None = None,
    max_upload: int = 10 * 2**20,
) -> FastAPI:
    """The app; `live` is None without a camera (`--source none`): upload API and page only."""
    started = time.time()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if live:
            live.start()
        try:
            yield
        finally:
            if live:
                live.stop()  # releases the camera

    app = FastAPI(title="edgeclf", summary="Garment classification on the edge", lifespan=lifespan)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token and request.url.path not in OPEN_PATHS:
            header = request.headers.get("authorization", "")
            given = (
                header[7:]
                if header.lower().startswith("bearer ")
                else request.query_params.get("token", "")
            )
            if not secrets.compare_digest(given.encode(), token.encode()):
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
        info = {
            "model": clf.name,
            "backend": clf.backend.name,
            "backend_version": clf.backend.version,
            "uptime_s": round(time.time() - started, 1),
            "camera": live.status() if live else None,
        }
        info["fps"] = info["camera"]["fps"] if live else None
        info["frames"] = info["camera"]["frames"] if live else 0
        return info

    @app.post("/classify")
    async def classify_upload(request: Request, file: UploadFile):
        """Classify an uploaded photo; the same JSON as `edgeclf classify --json`."""
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_upload + 64 * 1024:
            return error(413, f"upload larger than {max_upload // 2**20} MB")
        data = await file.read(max_upload + 1)
        if len(data) > max_upload:
            return error(413, f"upload larger than {max_upload // 2**20} MB")
        if not data:
            return error(400, "empty upload")
        started_at = time.perf_counter()
        try:
            result = await run_in_threadpool(classify_bytes, clf, data)
        except InputImageError as exc:
            return error(415, str(exc))
        result.path = file.filename
        result.ms = round((time.perf_counter() - started_at) * 1000, 2)
        return result.to_dict()

    if live:

        @app.get("/stream.mjpg")
        async def stream() -> StreamingResponse:
            """The annotated camera view as an MJPEG stream (shared by all viewers)."""
            return StreamingResponse(
                mjpeg(live), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            )

    return app


def classify_bytes(clf: Classifier, data: bytes) -> Prediction:
    return clf.classify(clf.view(decode_image(data)))


async def mjpeg(live: LiveService):
    seen = 0
    while True:
        sequence, jpeg = await run_in_threadpool(live.wait_frame, seen, 0.5)
        if sequence == seen or jpeg is None:
            if not live.running:
                return
            await asyncio.sleep(0.01)
            continue
        seen = sequence
        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
        yield head.encode() + jpeg + b"\r\n"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    clf: Classifier,
    live_opts: LiveOptions | None,
    host: str,
    port: int,
    token: str | None,
    max_upload: int,
) -> None:
    """Probe the camera, warn about an open door, and run the server until Ctrl-C or SIGTERM."""
    import sys

    import uvicorn

    from .capture import open_source

    live = None
    if live_opts:
        # Fail now, clearly, if the camera is missing, not in the first viewer's browser.
        open_source(live_opts.source, live_opts.width, live_opts.height, live_opts.fps).release()
        live = LiveService(clf, live_opts)
    if not is_loopback(host) and not token:
        print(
            f"warning: listening on {host} without --token: anyone on the network can use it",
            file=sys.stderr,
        )
    app = create_app(clf, live, token=token, max_upload=max_upload)
    hint = " (add ?token=YOUR_TOKEN in a browser)" if token else ""
    print(f"edgeclf serve: {url(host, port)}{hint}", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning")
