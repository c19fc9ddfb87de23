"""`edgeclf camera`: classify garments live, with capture, preprocessing and inference timed apart."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from . import overlay
from .atomic import atomic_path, write_text
from .capture import FrameGrabber, open_source
from .classifier import Classifier
from .classify import top_k
from .errors import EdgeclfError
from .preprocess import preprocess

UNCERTAIN = "uncertain"
WINDOW = "edgeclf camera"


@dataclass
class CameraOptions:
    source: str = "0"
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    roi: tuple[int, int, int, int] | None = None
    smooth: float = 0.5
    threshold: float = 0.5
    headless: bool = False
    on_change: bool = False
    record: Path | None = None
    max_frames: int | None = None
    duration: float | None = None
    snapshot_dir: Path = Path("snapshots")
    loop: bool = False  # restart a video file at its end (serve)
    realtime: bool = False  # play a video file at its own frame rate, dropping like a camera


STATS_WINDOW = 10_000  # per-stage timings kept for the summary: memory stays flat on long runs


def _window() -> deque:
    return deque(maxlen=STATS_WINDOW)


@dataclass
class StageTimes:
    wait: deque = field(default_factory=_window)
    preprocess: deque = field(default_factory=_window)
    inference: deque = field(default_factory=_window)


def public(result: dict) -> dict:
    """A step's result without its private fields (the `_top_k` list drawn on the overlay)."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


def parse_roi(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise EdgeclfError(f"--roi takes x,y,w,h in pixels, not {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise EdgeclfError(f"--roi {text!r}: width and height must be positive, x and y >= 0")
    return x, y, w, h


def centred_square(shape: tuple[int, ...], fraction: float = 0.9) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    side = int(min(h, w) * fraction)
    return (w - side) // 2, (h - side) // 2, side, side


def clip_roi(roi, shape) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x, y, rw, rh = roi
    x, y = min(x, w - 1), min(y, h - 1)
    return x, y, max(1, min(rw, w - x)), max(1, min(rh, h - y))


def window_available() -> bool:
    """True when OpenCV can open a window (GUI build and a display)."""
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        return True
    except cv2.error:
        return False


def ms_stats(samples) -> dict:
    if not samples:
        return {"mean": None, "p95": None}
    arr = np.array(samples) * 1000
    return {"mean": round(float(arr.mean()), 3), "p95": round(float(np.percentile(arr, 95)), 3)}


class LiveClassifier:
    """The loop: take the newest frame, crop the ROI, preprocess, classify, smooth, report."""

    def __init__(self, clf: Classifier, opts: CameraOptions, emit=print, on_frame=None) -> None:
        """`emit` gets each JSON line; `on_frame(annotated, result)` each classified frame."""
        self.clf, self.opts, self.emit, self.on_frame = clf, opts, emit, on_frame
        self.stop_requested = threading.Event()
        self.times = StageTimes()
        self.smoothed: np.ndarray | None = None
        self.processed = 0
        self.last_label: str | None = None
        self.stamps: deque[float] = deque(maxlen=30)
        self.writer = None
        self.last_index = -1
        self.inference_total = 0.0

    def fps(self) -> float:
        if len(self.stamps) < 2:
            return 0.0
        return (len(self.stamps) - 1) / max(1e-9, self.stamps[-1] - self.stamps[0])

    def step(self, frame, roi) -> dict:
        x, y, w, h = roi
        t0 = time.perf_counter()
        view = preprocess(frame.image[y : y + h, x : x + w])
        t1 = time.perf_counter()
        probs = self.clf.predict(view)[0]
        t2 = time.perf_counter()
        self.times.preprocess.append(t1 - t0)
        self.times.inference.append(t2 - t1)
        self.inference_total += t2 - t1
        a = self.opts.smooth
        self.smoothed = (
            probs if self.smoothed is None or a <= 0 else a * self.smoothed + (1 - a) * probs
        )
        best = int(np.argmax(self.smoothed))
        score = float(self.smoothed[best])
        label = self.clf.labels[best] if score >= self.opts.threshold else UNCERTAIN
        self.processed += 1
        self.last_index = frame.index
        self.stamps.append(t2)
        return {
            "t": round(t2 - self.started, 3),
            "frame": frame.index,
            "label": label,
            "score": round(score, 4),
            "fps": round(self.fps(), 2),
            "infer_ms": round((t2 - t1) * 1000, 3),
            "_top_k": top_k(self.smoothed, self.clf.labels, 3),
        }

    def run(self) -> dict:
        opts = self.opts
        source = open_source(opts.source, opts.width, opts.height, opts.fps)
        grabber = FrameGrabber(source, loop=opts.loop, realtime=opts.realtime)
        show = not opts.headless and window_available()
        if not opts.headless and not show:
            print(
                "warning: cannot open a window (no display or headless OpenCV); running headless",
                file=sys.stderr,
            )
        self.started = time.perf_counter()
        grabber.start()
        paused = False
        with contextlib.ExitStack() as stack:  # closes the recording, then moves it into place
            stack.callback(grabber.stop)
            if show:
                stack.callback(cv2.destroyAllWindows)
            try:
                while not self.done():
                    t_wait = time.perf_counter()
                    frame = grabber.next(timeout=1.0)
                    if frame is None:
                        if grabber.finished:
                            break
                        continue
                    self.times.wait.append(time.perf_counter() - t_wait)
                    roi = clip_roi(opts.roi or centred_square(frame.image.shape), frame.image.shape)
                    result = None if paused else self.step(frame, roi)
                    if result is not None:
                        self.report(result)
                    annotated = frame.image
                    if result is not None and (show or opts.record or self.on_frame):
                        uncertain = result["label"] == UNCERTAIN
                        annotated = overlay.draw(frame.image, roi, result, uncertain)
                    if self.on_frame and result is not None:
                        self.on_frame(annotated, result)
                    if opts.record and result is not None:
                        if self.writer is None:
                            self.writer = self.open_recording(stack, annotated.shape, source.fps)
                        self.writer.write(annotated)
                    if show:
                        cv2.imshow(WINDOW, annotated)
                        key = cv2.waitKey(1) & 0xFF
                        if key in (ord("q"), 27):
                            break
                        if key == ord(" "):
                            paused = not paused
                        if key == ord("s") and result is not None:
                            self.snapshot(annotated, result)
            except KeyboardInterrupt:
                pass
        summary = self.summary(grabber)
        if grabber.error:
            summary["error"] = grabber.error
        return summary

    def done(self) -> bool:
        if self.stop_requested.is_set():
            return True
        if self.opts.max_frames and self.processed >= self.opts.max_frames:
            return True
        return bool(self.opts.duration and time.perf_counter() - self.started >= self.opts.duration)

    def open_recording(self, stack: contextlib.ExitStack, shape, fps: float):
        """A VideoWriter on a temp file that replaces --record only when the run ends."""
        tmp = stack.enter_context(atomic_path(self.opts.record))
        h, w = shape[:2]
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        if not writer.isOpened():
            raise EdgeclfError(f"cannot write video {self.opts.record}")
        stack.callback(writer.release)
        return writer

    def report(self, result: dict) -> None:
        if self.opts.on_change and result["label"] == self.last_label:
            return
        self.last_label = result["label"]
        if self.opts.headless or self.opts.on_change:
            self.emit(json.dumps(public(result)))

    def snapshot(self, annotated: np.ndarray, result: dict) -> None:
        folder = self.opts.snapshot_dir
        stem = f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{result['frame']}"
        with atomic_path(folder / f"{stem}.png") as tmp:
            cv2.imwrite(str(tmp), annotated)
        write_text(folder / f"{stem}.json", json.dumps(public(result)))
        print(f"saved {folder / stem}.png", file=sys.stderr)

    def summary(self, grabber: FrameGrabber) -> dict:
        elapsed = time.perf_counter() - self.started
        return {
            "frames": self.processed,
            "source_frames": grabber.frames_read,
            "dropped": self.last_index + 1 - self.processed,
            "reconnects": grabber.reconnects,
            "seconds": round(elapsed, 2),
            "fps": round(self.processed / elapsed, 2) if elapsed else 0.0,
            "capture_wait_ms": ms_stats(self.times.wait),
            "preprocess_ms": ms_stats(self.times.preprocess),
            "inference_ms": ms_stats(self.times.inference),
            "model_share": round(self.inference_total / elapsed, 4) if elapsed else 0.0,
        }


def print_summary(summary: dict) -> None:
    """Human summary on stderr (stdout carries the JSON lines)."""

    def stage(name: str) -> str:
        s = summary[f"{name}_ms"]
        return (
            f"{name.replace('_', ' ')} {s['mean']} ms (p95 {s['p95']})"
            if s["mean"] is not None
            else f"{name}: -"
        )

    print(
        f"{summary['frames']} frames in {summary['seconds']} s = {summary['fps']} FPS "
        f"({summary['dropped']} source frames skipped); "
        + "; ".join(stage(n) for n in ("capture_wait", "preprocess", "inference"))
        + f"; model {summary['model_share']:.1%} of wall time",
        file=sys.stderr,
    )
