"""The live loop as a stream: take the newest frame, crop the region, run the model's recipe,
classify, smooth, and yield a `FrameResult`. The window, the recorder, the JSON printer and serve's
publisher each consume that stream; none of them lives in the loop."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import EdgeclfError
from ..images import is_blank
from ..metrics import summarize
from ..runtime.classifier import Classifier
from ..runtime.prediction import NO_GARMENT, UNCERTAIN, top_k
from .capture import FrameGrabber, FrameSource, open_source
from .frame import FrameResult

STATS_WINDOW = 10_000  # per-stage timings kept for the summary: memory stays flat on long runs

Roi = tuple[int, int, int, int]


@dataclass
class LiveOptions:
    """What `camera` and `serve` share: the source, the region, smoothing and when to stop."""

    source: str = "0"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    roi: Roi | None = None
    smooth: float = 0.5
    threshold: float = 0.5
    max_frames: int | None = None
    duration: float | None = None
    loop: bool = False  # restart a video file at its end (serve)
    realtime: bool = False  # play a video file at its own frame rate, dropping like a camera
    max_retries: int = 8  # reopen a live source that stops delivering this many times
    retry_base_s: float = 0.1  # back-off: 0.2 s, 0.4 s, ... capped at 5 s


def parse_roi(text: str) -> Roi:
    """`--roi x,y,w,h` (typer's parser for the option)."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise EdgeclfError(f"--roi takes x,y,w,h in pixels, not {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise EdgeclfError(f"--roi {text!r}: width and height must be positive, x and y >= 0")
    return x, y, w, h


def centred_square(shape: tuple[int, ...], fraction: float = 0.9) -> Roi:
    h, w = shape[:2]
    side = int(min(h, w) * fraction)
    return (w - side) // 2, (h - side) // 2, side, side


def clip_roi(roi: Roi, shape: tuple[int, ...]) -> Roi:
    """The region cut to the frame; a region that starts outside the frame is an error."""
    h, w = shape[:2]
    x, y, rw, rh = roi
    if x >= w or y >= h:
        raise EdgeclfError(f"--roi {x},{y},{rw},{rh} starts outside the {w}x{h} frame")
    return x, y, min(rw, w - x), min(rh, h - y)


def _window() -> deque:
    return deque(maxlen=STATS_WINDOW)


@dataclass
class StageTimes:
    wait: deque = field(default_factory=_window)
    preprocess: deque = field(default_factory=_window)
    inference: deque = field(default_factory=_window)


@dataclass
class RunSummary:
    """How a live run went: frames, FPS, drops, reconnects and per-stage latency (ms)."""

    frames: int
    source_frames: int
    dropped: int
    reconnects: int
    seconds: float
    fps: float
    stages_ms: dict[str, dict]
    model_share: float
    error: str | None = None


class LiveClassifier:
    """Classifies frames one at a time (`step`), or a whole source as a stream (`stream`).

    `source` is a frame source already open (serve opens its camera once, to fail early and
    clearly); without one, the stream opens `opts.source` itself."""

    def __init__(
        self, clf: Classifier, opts: LiveOptions, source: FrameSource | None = None
    ) -> None:
        self.clf, self.opts, self.source = clf, opts, source
        self.stop_requested = threading.Event()
        self.paused = False
        self.times = StageTimes()
        self.smoothed: np.ndarray | None = None
        self.processed = 0
        self.stamps: deque[float] = deque(maxlen=30)
        self.last_index = -1
        self.inference_total = 0.0
        self.started = time.perf_counter()
        self.grabber: FrameGrabber | None = None

    def fps(self) -> float:
        if len(self.stamps) < 2:
            return 0.0
        return (len(self.stamps) - 1) / max(1e-9, self.stamps[-1] - self.stamps[0])

    def step(self, image: np.ndarray, roi: Roi, index: int = 0) -> FrameResult:
        """Classify the region of one frame, smoothing with the frames before it. The model is
        read once: a swap between frames never mixes two models in one frame."""
        clf = self.clf
        x, y, w, h = roi
        region = image[y : y + h, x : x + w]
        if is_blank(region):  # a covered lens, a blank wall: "no garment", as classify says
            return self.nothing_in_view(image, roi, index)
        t0 = time.perf_counter()
        view = clf.view(region)
        t1 = time.perf_counter()
        probs = clf.predict(view)[0]
        t2 = time.perf_counter()
        self.times.preprocess.append(t1 - t0)
        self.times.inference.append(t2 - t1)
        self.inference_total += t2 - t1
        a = self.opts.smooth
        past = self.smoothed
        if past is None or a <= 0 or past.shape != probs.shape:  # the first frame of a model
            self.smoothed = probs
        else:
            self.smoothed = a * past + (1 - a) * probs
        best = int(np.argmax(self.smoothed))
        score = float(self.smoothed[best])
        self.processed += 1
        self.last_index = index
        self.stamps.append(t2)
        return FrameResult(
            label=clf.labels[best] if score >= self.opts.threshold else UNCERTAIN,
            index=best,
            score=round(score, 4),
            top_k=top_k(self.smoothed, clf.labels, 3),
            t=round(t2 - self.started, 3),
            frame=index,
            fps=round(self.fps(), 2),
            infer_ms=round((t2 - t1) * 1000, 3),
            image=image,
            roi=roi,
            nothing=clf.labels[best] == clf.contract.background,
        )

    def nothing_in_view(self, image: np.ndarray, roi: Roi, index: int) -> FrameResult:
        """A blank region's answer, with no model call; smoothing starts afresh after it."""
        self.smoothed = None
        self.processed += 1
        self.last_index = index
        self.stamps.append(time.perf_counter())
        return FrameResult(
            label=NO_GARMENT,
            index=-1,
            score=0.0,
            top_k=(),
            t=round(self.stamps[-1] - self.started, 3),
            frame=index,
            fps=round(self.fps(), 2),
            image=image,
            roi=roi,
            nothing=True,
        )

    def swap(self, clf: Classifier) -> None:
        """Use `clf` from the next frame on (loaded whole before it gets here)."""
        self.clf = clf

    def stream(self) -> Iterator[FrameResult]:
        """Open the source and yield a result per classified frame until the source ends, a
        limit is reached or `stop()` is called. Paused, frames are read but not classified."""
        opts = self.opts
        source = self.source or open_source(opts.source, opts.width, opts.height, opts.fps)
        self.grabber = grabber = FrameGrabber(
            source,
            loop=opts.loop,
            realtime=opts.realtime,
            max_retries=opts.max_retries,
            retry_base_s=opts.retry_base_s,
        )
        self.started = time.perf_counter()
        grabber.start()
        with contextlib.ExitStack() as stack:
            stack.callback(grabber.stop)
            while not self.done():
                t_wait = time.perf_counter()
                frame = grabber.next(timeout=1.0)
                if frame is None:
                    if grabber.finished:
                        break
                    continue
                self.times.wait.append(time.perf_counter() - t_wait)
                if self.paused:
                    continue
                roi = clip_roi(opts.roi or centred_square(frame.image.shape), frame.image.shape)
                yield self.step(frame.image, roi, frame.index)

    @property
    def source_fps(self) -> float:
        return self.grabber.source.fps if self.grabber else 30.0

    def stop(self) -> None:
        self.stop_requested.set()

    def done(self) -> bool:
        if self.stop_requested.is_set():
            return True
        if self.opts.max_frames and self.processed >= self.opts.max_frames:
            return True
        return bool(self.opts.duration and time.perf_counter() - self.started >= self.opts.duration)

    def summary(self) -> RunSummary:
        elapsed = time.perf_counter() - self.started
        grabber = self.grabber
        return RunSummary(
            frames=self.processed,
            source_frames=grabber.frames_read if grabber else 0,
            dropped=self.last_index + 1 - self.processed,
            reconnects=grabber.reconnects if grabber else 0,
            seconds=round(elapsed, 2),
            fps=round(self.processed / elapsed, 2) if elapsed else 0.0,
            stages_ms={
                "capture wait": summarize(self.times.wait, 1000),
                "preprocess": summarize(self.times.preprocess, 1000),
                "inference": summarize(self.times.inference, 1000),
            },
            model_share=round(self.inference_total / elapsed, 4) if elapsed else 0.0,
            error=grabber.error if grabber else None,
        )
