"""The page, the probes, the status and the upload API: what serve answers with or without a
camera."""

from __future__ import annotations

import sys
import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from .. import package_dir
from ..errors import InputImageError, ModelError
from ..images import BLANK, decode_image, is_blank
from ..runtime.classifier import Classifier
from ..runtime.prediction import Prediction
from .http_guards import error
from .state import ServeState, serve_state

PAGE = package_dir("edgeclf.edge.serve.static") / "index.html"
State = Annotated[ServeState, Depends(serve_state)]
router = APIRouter()


class BlankImage(InputImageError):
    """Nothing to classify: `classify` reports the same."""


def classify_bytes(clf: Classifier, data: bytes) -> Prediction:
    image = decode_image(data)
    if is_blank(image):
        raise BlankImage(BLANK)
    return clf.classify(clf.view(image))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page(state: State) -> str:
    return PAGE.read_text().replace("{{LIVE}}", "true" if state.live else "false")


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI; a `?token=` it was opened with is passed on to the schema it fetches."""
    given = request.query_params.get("token")
    schema = f"/openapi.json?{urlencode({'token': given})}" if given else "/openapi.json"
    return get_swagger_ui_html(openapi_url=schema, title="edgeclf API")


@router.get("/healthz")
async def healthz() -> dict:
    """Liveness probe (never needs the token)."""
    return {"ok": True}


@router.get("/api/status")
async def status(state: State) -> dict:
    """Model, backend, camera FPS, frame count, uptime and the current prediction."""
    model, live = state.current(), state.live
    info = {
        "model": model.name,
        "classes": list(model.labels),
        "threshold": live.opts.threshold if live else None,
        "backend": model.backend.name,
        "backend_version": model.backend.version,
        "uptime_s": round(time.time() - state.started, 1),
        "camera": live.status() if live else None,
    }
    info["fps"] = info["camera"]["fps"] if live else None
    info["frames"] = info["camera"]["frames"] if live else 0
    return info


@router.post("/classify")
async def classify_upload(file: UploadFile, state: State):
    """Classify an uploaded photo; the same JSON as `edgeclf classify --json`."""
    limit = state.max_upload
    data = await file.read(limit + 1)
    if len(data) > limit:
        return error(413, f"upload larger than {limit // 2**20} MB")
    if not data:
        return error(400, "empty upload")
    started_at = time.perf_counter()
    try:
        async with state.one_decode:  # a large upload decodes alone: memory stays bounded
            result = await run_in_threadpool(classify_bytes, state.current(), data)
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
