"""The camera view as one MJPEG stream that every viewer shares."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..live.service import LiveService
from .state import ServeState, serve_state

BOUNDARY = "frame"
router = APIRouter()


@router.get("/stream.mjpg")
async def stream(
    state: Annotated[ServeState, Depends(serve_state)], overlay: bool = True
) -> StreamingResponse:
    """The annotated camera view as an MJPEG stream (shared by all viewers); `?overlay=0`: the
    bare frames, for a page that draws the overlay itself."""
    return StreamingResponse(
        mjpeg(state.live, clean=not overlay),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
    )


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
