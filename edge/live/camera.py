"""`edgeclf camera`: the live stream's consumers (JSON lines, recording, the window with its keys)
and the summary printed at the end."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from ..atomic import atomic_path, check_writable_file, write_text
from ..errors import EdgeclfError, install_hint
from ..fleet.device import FleetOptions
from ..runtime.classifier import Classifier
from ..teach.run import TeachResult
from . import overlay
from .collect import CollectOptions, Collector
from .frame import FrameResult
from .learning import Learner
from .stream import LiveClassifier, LiveOptions, RunSummary

WINDOW = "edgeclf camera"


@dataclass
class CameraOptions:
    """What only `camera` does with the stream."""

    headless: bool = False
    on_change: bool = False
    record: Path | None = None
    snapshot_dir: Path = Path("snapshots")
    collect: CollectOptions | None = None
    fleet: FleetOptions | None = None  # publish to an MQTT broker (`--mqtt`)


class JsonPrinter:
    """One JSON line per result (or per change of label)."""

    def __init__(self, emit: Callable[[str], None], on_change: bool) -> None:
        self.emit, self.on_change, self.last_label = emit, on_change, None

    def __call__(self, result: FrameResult) -> None:
        if self.on_change and result.label == self.last_label:
            return
        self.last_label = result.label
        self.emit(json.dumps(result.to_dict()))


class CollectProgress:
    """Headless collection's output: how many frames this sitting saved, not the model's
    guesses ("shorts: 12/24 saved", the total known from --max-frames)."""

    def __init__(self, collector: Collector, max_frames: int | None) -> None:
        self.collector, self.saved = collector, 0
        every = collector.opts.every
        self.target = f"/{-(-max_frames // every)}" if max_frames else ""

    def __call__(self, result: FrameResult) -> None:
        if self.collector(result):
            self.saved += 1
            label = self.collector.opts.label
            print(f"{label}: {self.saved}{self.target} saved", file=sys.stderr, flush=True)


class Recorder:
    """The annotated frames into a video that replaces `path` only when the run ends."""

    def __init__(
        self,
        path: Path,
        stack: contextlib.ExitStack,
        fps: Callable[[], float],
        source: str = "",
    ) -> None:
        check_writable_file(path, "--record", inputs=[Path(source)] if source else ())
        self.path, self.stack, self.fps = path, stack, fps
        self.writer = None

    def __call__(self, result: FrameResult) -> None:
        annotated = result.plot()
        if self.writer is None:
            tmp = self.stack.enter_context(atomic_path(self.path))
            h, w = annotated.shape[:2]
            self.size = (w, h)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self.writer = cv2.VideoWriter(str(tmp), fourcc, self.fps(), self.size)
            if not self.writer.isOpened():
                raise EdgeclfError(f"cannot write video {self.path}")
            self.stack.callback(self.writer.release)
        if annotated.shape[1::-1] != self.size:  # the source changed size mid-stream: a video
            annotated = fit_into(annotated, self.size)  # keeps one size, and every frame
        self.writer.write(annotated)


class Window:
    """The live view; keys: q or Esc quit, space pause, s snapshot; with --collect, 1-9 save the
    region under that class (hold for a burst) and l learns from the folder and swaps the new
    model in."""

    def __init__(
        self, live: LiveClassifier, snapshot_dir: Path, collector: Collector | None = None
    ) -> None:
        self.live, self.snapshot_dir, self.collector = live, snapshot_dir, collector
        self.learner = Learner.beside(collector, live) if collector else None
        self.banner: tuple[list[str], float] | None = None
        self.last = None  # the last frame shown, for the "learning..." banner

    @staticmethod
    def available() -> bool:
        """True when OpenCV can open a window (GUI build and a display)."""
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
            return True
        except cv2.error:
            return False

    def __call__(self, result: FrameResult) -> None:
        annotated = result.plot()
        if self.collector:
            annotated = overlay.with_counts(annotated, self.collector.lines())
            self.last = annotated
        if self.banner and time.monotonic() < self.banner[1]:
            annotated = overlay.with_banner(annotated, self.banner[0])
        cv2.imshow(WINDOW, annotated)
        key = cv2.waitKey(1) & 0xFF
        label = self.collector.key_label(key) if self.collector else None
        if key in (ord("q"), 27):
            self.live.stop()
        elif key == ord(" "):
            self.live.paused = not self.live.paused
        elif key == ord("s"):
            self.snapshot(annotated, result)
        elif key == ord("l") and self.learner:
            self.learn()
        elif label:
            self.collector.save(result, label)

    def learn(self) -> None:
        """Teach from the collect folder now (seconds; the window waits), then swap it in. What
        happened shows on the frame for a few seconds, and in the terminal."""
        try:
            self.learner.check_ready()
        except EdgeclfError as exc:
            self.say(["not learning:", str(exc)])
            print(f"not learning: {exc}", file=sys.stderr)
            return
        print(f"learning from {self.learner.folder} ...", file=sys.stderr, flush=True)
        if self.last is not None:  # the window shows it while the fit runs
            cv2.imshow(WINDOW, overlay.with_banner(self.last, ["learning..."], overlay.AMBER))
            cv2.waitKey(1)
        result = self.learner.run()
        if result is None:
            print(f"cannot learn: {self.learner.error}", file=sys.stderr)
            self.say(["cannot learn:", self.learner.error or ""])
            return
        from ..teach.report import print_result

        print_result(result, self.learner.written)
        print(f"now using {result.out}", file=sys.stderr)
        self.say(learned_lines(result))

    def say(self, lines: list[str]) -> None:
        self.banner = (lines, time.monotonic() + BANNER_SECONDS)

    def snapshot(self, annotated, result: FrameResult) -> None:
        stem = f"snapshot-{time.strftime('%Y%m%d-%H%M%S')}-{result.frame}"
        with atomic_path(self.snapshot_dir / f"{stem}.png") as tmp:
            cv2.imwrite(str(tmp), annotated)
        write_text(self.snapshot_dir / f"{stem}.json", json.dumps(result.to_dict()))
        print(f"saved {self.snapshot_dir / stem}.png", file=sys.stderr)


BANNER_SECONDS = 6.0


def learned_lines(result: TeachResult) -> list[str]:
    """The banner after `l`: the classes, the held-out accuracy and the first caveat."""
    new = ", ".join(result.new_classes)
    among = f" among {len(result.classes)}" if len(result.new_classes) < len(result.classes) else ""
    lines = [f"learned {new}{among}"]
    if result.int8_accuracy is not None:
        optimistic = " (optimistic: one sitting)" if result.optimistic else ""
        lines.append(f"held-out accuracy {result.int8_accuracy:.0%}{optimistic}")
    warnings = [line for line in result.notes if line.startswith("warning:")]
    return lines + warnings[:1]


def fleet_publisher(opts: FleetOptions, live: LiveClassifier, stack: contextlib.ExitStack):
    """Each classified frame to the broker (which never holds the camera up); `offline` on a
    clean exit."""
    from .. import __version__
    from ..fleet.device import frame_publisher, start_link

    link = start_link(opts, live, __version__)
    stack.callback(link.stop)
    return frame_publisher(link, live)


def fit_into(image, size: tuple[int, int]):
    """`image` scaled to fit `size` (width, height), letterboxed on black."""
    import numpy as np

    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    fitted = cv2.resize(
        image, (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale)))
    )
    canvas = np.zeros((h, w, 3), np.uint8)
    y, x = (h - fitted.shape[0]) // 2, (w - fitted.shape[1]) // 2
    canvas[y : y + fitted.shape[0], x : x + fitted.shape[1]] = fitted
    return canvas


def why_no_window() -> str:
    """Why OpenCV cannot open a window here, and the exact fix."""
    import os

    gui = [
        line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")
    ]
    if gui and gui[0].split(":", 1)[1].strip().upper() == "NONE":
        return (
            "this OpenCV has no window support (the headless build of the [edge] extra); on a "
            "machine with a screen: pip uninstall -y opencv-python-headless, then "
            f"{install_hint('desktop')}"
        )
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "no display (DISPLAY is not set): use --headless, or serve to watch from a browser"
    return "OpenCV cannot open a window here"


def run_camera(
    clf: Classifier, live_opts: LiveOptions, opts: CameraOptions, emit=print
) -> RunSummary:
    """Drain the live stream into the consumers the options ask for; the run's summary."""
    live = LiveClassifier(clf, live_opts)
    show = not opts.headless and Window.available()
    if not opts.headless and not show:
        print(f"warning: {why_no_window()}; running headless", file=sys.stderr)
    if opts.collect and not opts.collect.label and not show:
        raise EdgeclfError(
            "--collect without a window saves nothing (keys 1-9 need one): add --label NAME to "
            "save every --every-th frame under NAME"
        )
    collector = Collector(opts.collect, clf.labels) if opts.collect else None
    with contextlib.ExitStack() as stack:  # closes the recording, then moves it into place
        consumers: list[Callable[[FrameResult], None]] = []
        collecting = collector is not None and opts.collect.label is not None
        if collecting:
            consumers.append(CollectProgress(collector, live_opts.max_frames))
        if opts.on_change or (opts.headless and not collecting):
            consumers.append(JsonPrinter(emit, opts.on_change))
        if opts.record:
            consumers.append(
                Recorder(opts.record, stack, lambda: live.source_fps, str(live_opts.source))
            )
        if show:
            stack.callback(cv2.destroyAllWindows)
            consumers.append(Window(live, opts.snapshot_dir, collector))
        if opts.fleet:
            consumers.append(fleet_publisher(opts.fleet, live, stack))
        with contextlib.suppress(KeyboardInterrupt):
            for result in live.stream():
                for consume in consumers:
                    consume(result)
    if collector:
        counts = ", ".join(f"{name} {n}" for name, n in collector.counts.items())
        print(f"collected in {opts.collect.folder}: {counts}", file=sys.stderr)
    return live.summary()


def print_summary(summary: RunSummary) -> None:
    """Human summary on stderr (stdout carries the JSON lines)."""

    def stage(name: str, s: dict) -> str:
        if s["mean"] is None:
            return f"{name}: -"
        return f"{name} {s['mean']:.3f} ms (p95 {s['p95']:.3f})"

    print(
        f"{summary.frames} frames in {summary.seconds} s = {summary.fps} FPS "
        f"({summary.dropped} source frames skipped); "
        + "; ".join(stage(name, s) for name, s in summary.stages_ms.items())
        + f"; model {summary.model_share:.1%} of wall time",
        file=sys.stderr,
    )
