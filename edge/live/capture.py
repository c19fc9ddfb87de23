"""Frame sources for `edgeclf camera`: OpenCV capture or picamera2, read in their own thread.

Live sources keep only the newest frame, so slow inference never builds up latency; video files
hand over every frame, so a recorded clip is classified completely and reproducibly.
"""

from __future__ import annotations

import glob
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EdgeclfError


@dataclass
class Frame:
    index: int  # index in the source: gaps mean frames dropped under load
    image: np.ndarray
    captured: float


def parse_source(source: str) -> tuple[str, object]:
    """Classify a --source string: ('index', 0), ('device', path), ('url', s), ('gstreamer', s), ..."""
    if source.isdigit():
        if int(source) > 9999:  # OpenCV takes a C int, and no machine has that many cameras
            raise EdgeclfError(f"--source {source[:24]}: no camera has that index (0, 1, 2...)")
        return "index", int(source)
    if source == "picamera2":
        return "picamera2", None
    if "!" in source:
        return "gstreamer", source
    if "://" in source:
        return "url", source
    if source.startswith("/dev/"):
        return "device", source
    return "file", source


def open_opencv(kind: str, target, width: int | None, height: int | None, fps: float | None):
    import cv2

    quiet_opencv_logs()
    if kind == "file" and Path(target).is_dir():
        raise EdgeclfError(f"--source {target} is a folder: give a video file, a camera or a URL")
    if kind == "file" and not Path(target).is_file():
        raise EdgeclfError(f"cannot open video file {target}: not found")
    api = cv2.CAP_GSTREAMER if kind == "gstreamer" else cv2.CAP_ANY
    cap = cv2.VideoCapture(target, api)
    if not cap.isOpened():
        raise EdgeclfError(describe_open_failure(kind, target))
    for prop, value in (
        (cv2.CAP_PROP_FRAME_WIDTH, width),
        (cv2.CAP_PROP_FRAME_HEIGHT, height),
        (cv2.CAP_PROP_FPS, fps),
    ):
        if value:
            cap.set(prop, value)
    return cap


def quiet_opencv_logs() -> None:
    """We report open failures ourselves, in one line; OpenCV's own lines for the same failure
    (a V4L2 warning, and on 4.x an Orbbec driver's "index out of range" error) only repeat it.
    OpenCV 5 has `cv2.utils.logging`; 4.x has `cv2.setLogLevel` (1 = fatal only)."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_FATAL)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(1)


def describe_open_failure(kind: str, target) -> str:
    """Say what was tried, and what to try next."""
    if kind in ("index", "device"):
        devices = sorted(glob.glob("/dev/video*"))
        found = f"found {', '.join(devices)}" if devices else "no /dev/video* devices found"
        hint = "; a Raspberry Pi camera module needs --source picamera2" if not devices else ""
        return f"cannot open camera {target} ({found}){hint}"
    if kind == "file":
        return f"cannot open video file {target}: not a video OpenCV can decode"
    if kind == "gstreamer":
        return f"cannot open GStreamer pipeline (is OpenCV built with GStreamer?): {target}"
    return f"cannot open stream {target} (unreachable, or a format OpenCV cannot read)"


class OpenCVSource:
    def __init__(self, source: str, width=None, height=None, fps=None) -> None:
        self.kind, self.target = parse_source(source)
        self.settings = (width, height, fps)
        self.cap = open_opencv(self.kind, self.target, *self.settings)
        self.is_file = self.kind == "file"

    @property
    def fps(self) -> float:
        import cv2

        value = self.cap.get(cv2.CAP_PROP_FPS)
        return value if 1 <= value <= 240 else 30.0

    def read(self) -> np.ndarray | None:
        ok, frame = self.cap.read()
        return frame if ok and frame is not None and frame.size else None

    def rewind(self) -> bool:
        import cv2

        return bool(self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def reopen(self) -> None:
        self.cap.release()
        self.cap = open_opencv(self.kind, self.target, *self.settings)

    def release(self) -> None:
        self.cap.release()


class PiCameraSource:
    """The Raspberry Pi camera module through picamera2 (imported only when asked for)."""

    is_file = False

    def __init__(self, width=None, height=None, fps=None) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise EdgeclfError(
                "picamera2 is not installed: sudo apt install python3-picamera2, and create the "
                "venv with --system-site-packages"
            ) from None
        self.camera = Picamera2()
        size = (width or 640, height or 480)
        controls = {"FrameRate": fps} if fps else {}
        config = self.camera.create_video_configuration(
            main={"size": size, "format": "BGR888"}, controls=controls
        )
        self.camera.configure(config)
        self.camera.start()
        self.fps = float(fps or 30)

    def read(self) -> np.ndarray | None:
        return self.camera.capture_array()

    def reopen(self) -> None:
        self.camera.stop()
        self.camera.start()

    def release(self) -> None:
        self.camera.stop()
        self.camera.close()


FrameSource = OpenCVSource | PiCameraSource


def open_source(source: str, width=None, height=None, fps=None) -> FrameSource:
    if source == "picamera2":
        return PiCameraSource(width, height, fps)
    return OpenCVSource(source, width, height, fps)


class FrameGrabber(threading.Thread):
    """Reads the source in the background; `next()` hands out frames newer than the last one.

    A live source that stops delivering is reopened up to `max_retries` times, waiting
    `retry_base_s` x 2, x 4, ... (at most 5 s) in between.
    """

    def __init__(
        self,
        source,
        warn=None,
        loop: bool = False,
        realtime: bool = False,
        max_retries: int = 8,
        retry_base_s: float = 0.1,
    ) -> None:
        super().__init__(daemon=True, name="edgeclf-capture")
        self.source = source
        self.max_retries, self.retry_base_s = max_retries, retry_base_s
        self.loop = loop and source.is_file
        self.realtime = realtime and source.is_file  # pace a file like a camera
        self.lossless = source.is_file and not realtime
        self.warn = warn or (lambda msg: print(f"warning: {msg}", file=sys.stderr))
        self.cond = threading.Condition()
        self.latest: Frame | None = None
        self.finished = False
        self.error: str | None = None
        self.stopping = False
        self.frames_read = 0
        self.reconnects = 0

    def run(self) -> None:
        failures = 0
        period = 1.0 / self.source.fps if self.realtime else 0.0
        next_due = time.perf_counter()
        while not self.stopping:
            if period:
                next_due += period
                time.sleep(max(0.0, next_due - time.perf_counter()))
            image = self.source.read()
            if image is None:
                if self.loop and self.source.rewind():
                    continue
                if self.source.is_file:
                    break  # end of file
                failures += 1
                if failures > self.max_retries:
                    self.error = (
                        f"source stopped delivering frames ({self.max_retries} retries failed)"
                    )
                    break
                delay = min(self.retry_base_s * 2**failures, 5.0)
                self.warn(
                    f"no frame from source; retry {failures}/{self.max_retries} in {delay:.1f}s"
                )
                time.sleep(delay)
                try:
                    self.source.reopen()
                    self.reconnects += 1
                except EdgeclfError as exc:
                    self.warn(str(exc))
                continue
            failures = 0
            frame = Frame(self.frames_read, image, time.perf_counter())
            self.frames_read += 1
            with self.cond:
                while self.lossless and self.latest is not None and not self.stopping:
                    self.cond.wait(0.1)  # a file waits for the consumer instead of dropping
                self.latest = frame
                self.cond.notify_all()
        with self.cond:
            self.finished = True
            self.cond.notify_all()

    def next(self, timeout: float = 1.0) -> Frame | None:
        """The newest unseen frame, or None at the end (or after `timeout` with nothing new)."""
        with self.cond:
            if self.latest is None and not self.finished:
                self.cond.wait(timeout)
            frame, self.latest = self.latest, None
            self.cond.notify_all()
            return frame

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.join(timeout=2.0)
        self.source.release()
