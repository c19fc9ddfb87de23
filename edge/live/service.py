"""One camera pipeline shared by every viewer: one capture, one interpreter, newest JPEG in memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..errors import EdgeclfError
from ..runtime.classifier import Classifier
from .capture import FrameSource
from .collect import Collector, region_of
from .frame import FrameResult
from .stream import LiveClassifier, LiveOptions

RECENT = 48  # regions kept for a capture of the frame a viewer was shown (a few MB at 640x480)


class LiveService:
    """Drains the live stream in a background thread and publishes its latest frame and result.

    Viewers never touch the camera or the model: they read the newest JPEG, so five browser tabs
    cost five JPEG copies over the network, not five captures or five inferences.
    """

    def __init__(
        self,
        clf: Classifier,
        opts: LiveOptions,
        source: FrameSource | None = None,
        jpeg_quality: int = 80,
    ) -> None:
        self.opts = opts
        self.jpeg_quality = jpeg_quality
        self.cond = threading.Condition()
        self.jpeg: bytes | None = None
        self.clean_jpeg: bytes | None = None  # the frame as the camera saw it, no overlay
        self.clean_viewers = 0  # encoded only while a page draws its own overlay
        self.result: dict | None = None
        self.latest: FrameResult | None = None  # its frame and region, for capture
        self.captured_frame = -1
        self.recent: dict[int, np.ndarray] = {}  # frame -> its region, the last `keep_recent`
        self.keep_recent = 0  # RECENT where a page captures (serve --collect); else none are kept
        self.sequence = 0
        self.error: str | None = None
        self.started = time.time()
        self.live = LiveClassifier(clf, opts, source)
        self.listeners: list[Callable[[FrameResult], None]] = []  # each result, as it comes
        self.thread = threading.Thread(target=self._run, name="edgeclf-live", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            for result in self.live.stream():
                self.publish(result)
            self.error = self.live.summary().error
        except Exception as exc:  # reported through /api/status; the server keeps serving uploads
            self.error = str(exc)
        with self.cond:
            self.cond.notify_all()

    def publish(self, result: FrameResult) -> None:
        for listener in self.listeners:  # the fleet link: it never blocks
            listener(result)
        quality = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        ok, buffer = cv2.imencode(".jpg", result.plot(), quality)
        if not ok:
            return
        clean = None
        if self.clean_viewers:  # the page draws the overlay in HTML: readable on a phone
            done, encoded = cv2.imencode(".jpg", result.image, quality)
            clean = encoded.tobytes() if done else None
        with self.cond:
            self.jpeg = buffer.tobytes()
            self.clean_jpeg = clean
            self.result = result.to_dict()
            self.latest = result
            if self.keep_recent:  # a copy of the region only, not the whole frame
                self.recent[result.frame] = region_of(result).copy()
                while len(self.recent) > self.keep_recent:
                    self.recent.pop(next(iter(self.recent)))
            self.sequence += 1
            self.cond.notify_all()

    def wait_frame(
        self, after: int, timeout: float = 1.0, clean: bool = False
    ) -> tuple[int, bytes | None]:
        """The newest JPEG once its sequence number passes `after` (or what there is at timeout);
        `clean`: the frame without the overlay (for a viewer counted in `clean_viewers`)."""
        with self.cond:
            self.cond.wait_for(lambda: self.sequence > after or not self.running, timeout)
            return self.sequence, self.clean_jpeg if clean else self.jpeg

    def capture(
        self, collector: Collector, label: str, frame: int | None = None, timeout: float = 1.0
    ) -> Path:
        """Save a frame's region under `label`: `frame`, the one the viewer was shown, while it is
        among the last `keep_recent`; else the newest. A held capture button asks faster than the camera
        delivers: each call waits for a frame not saved yet, so a burst never holds the same
        frame twice."""
        with self.cond:
            shown = self.recent.get(frame) if frame is not None else None
            if shown is not None and frame != self.captured_frame:
                self.captured_frame = frame
                return collector.save_region(shown, frame, label)
            if not self.cond.wait_for(self._uncaptured, timeout):
                raise EdgeclfError(
                    "no new camera frame to capture" if self.running else "camera stopped"
                )
            result = self.latest
            self.captured_frame = result.frame
            return collector.save(result, label)

    def _uncaptured(self) -> bool:
        return self.latest is not None and self.latest.frame != self.captured_frame

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def status(self) -> dict:
        return {
            "source": self.opts.source,
            "running": self.running,
            "frames": self.live.processed,
            "fps": round(self.live.fps(), 2),
            "result": self.result,
            "error": self.error,
            # where the page draws its own overlay: the region within the frame's size
            "roi": list(self.latest.roi) if self.latest else None,
            "names_a_garment": self.latest.names_a_garment if self.latest else None,
            "frame_size": list(self.latest.image.shape[1::-1]) if self.latest else None,
        }

    @property
    def clf(self) -> Classifier:
        """The model in use: the stream's, which a Learn swaps; uploads read it per request."""
        return self.live.clf

    def swap(self, clf: Classifier) -> None:
        """The model for the next frames, the status and uploads."""
        self.live.swap(clf)

    def stop(self) -> None:
        self.live.stop()
        self.thread.join(timeout=5)
