"""Collecting and learning from the page: capture the camera's region under a class, list and
delete captures, add a class, and Learn (teach in the background, then swap the model in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ..errors import EdgeclfError, WriteError
from ..live.collect import NearName
from .http_guards import error
from .state import ServeState, serve_state

THUMBNAILS = 24  # newest captures shown per class
State = Annotated[ServeState, Depends(serve_state)]
router = APIRouter()


@router.get("/api/collect")
async def collect_counts(state: State) -> dict:
    """The classes being collected and how many images each has."""
    return {"classes": list(state.collector.classes), "counts": state.collector.counts}


@router.post("/api/collect/{label}")
async def capture(label: str, state: State, frame: int | None = None):
    """Save the camera's region under `label` (DIR/<label>/, a new JPEG): of `frame`, the one
    the page shows, while the server still has it; else of the newest frame."""
    collector = state.collector
    if label not in collector.classes:
        return error(404, f"unknown class {label!r}; collecting {', '.join(collector.classes)}")
    try:
        saved = await run_in_threadpool(state.live.capture, collector, label, frame)
    except WriteError as exc:  # disk full, folder removed: say so, keep serving
        return error(507, str(exc).replace(str(collector.opts.folder), "DIR"))
    except EdgeclfError as exc:
        return error(409, str(exc))
    return {
        "saved": f"{label}/{saved.name}",
        "counts": collector.counts,
        "same_as_last": collector.same_as_last,  # a burst of one garment held still
    }


@router.post("/api/classes/{label}")
async def add_class(label: str, state: State, confirm: bool = False):
    """Collect a new class too (its folder is made at its first capture); a name one typo from
    another answers 409 until sent again with `confirm=true`."""
    try:
        state.collector.add(label, confirm)
    except NearName as exc:
        return error(409, str(exc))
    except EdgeclfError as exc:
        return error(400, str(exc))
    return {"classes": list(state.collector.classes), "counts": state.collector.counts}


@router.get("/api/collect/{label}/images")
async def captured(label: str, state: State):
    """The newest images captured under `label`, newest first (names for thumbnails)."""
    try:
        return {"images": [p.name for p in state.collector.images(label)[:THUMBNAILS]]}
    except EdgeclfError as exc:
        return error(404, str(exc))


@router.get("/api/collect/{label}/images/{name}")
async def captured_image(label: str, name: str, state: State):
    try:
        path = state.collector.image(label, name)
    except EdgeclfError as exc:
        return error(404, str(exc))
    return FileResponse(path, media_type="image/jpeg")


@router.delete("/api/collect/{label}/images/{name}")
async def delete_image(label: str, name: str, state: State):
    """Remove one captured image (a blurred or wrong one) before learning."""
    try:
        state.collector.delete(label, name)
    except EdgeclfError as exc:
        return error(404, str(exc))
    return {"counts": state.collector.counts}


@router.post("/api/learn", status_code=202)
async def learn(state: State):
    """Teach a new model from the collected classes, in the background, then swap it in."""
    try:
        state.learner.start()
    except EdgeclfError as exc:
        return error(409, str(exc))
    return state.learner.status()


@router.get("/api/learn")
async def learning(state: State) -> dict:
    """Progress, then the per-class result (or the error) of the last Learn."""
    return state.learner.status()
